package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/roomrest"
)

func newSayCmd() *cobra.Command {
	var g globalFlags
	cmd := &cobra.Command{
		Use:   "say ROOM MESSAGE...",
		Short: "Post one chat message to a room and exit",
		Long: `Posts MESSAGE (the remaining arguments, joined by spaces) to ROOM's chat and
exits 0 once the server has acknowledged it; on any failure it exits non-zero
and says why. Nothing is retried silently.`,
		Example: `  watchium-tui say movie "popcorn break in 5"
  watchium-tui say movie back in a minute --name ana`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			roomID := args[0]
			if err := validRoom(roomID); err != nil {
				return err
			}
			text := strings.Join(args[1:], " ")
			if _, err := room.NewComment(roomID, "check", g.name, text); err != nil {
				return err
			}
			g.nameSet = nameChosen(cmd, g)
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			ch, l, err := subscribeRoomAs(ctx, cmd, g, roomID, realtime.ChannelConfig{Broadcast: realtime.BroadcastConfig{Ack: true}}, nil)
			if err != nil {
				return err
			}
			defer l.close()
			name := displayName(ctx, g, l.keeper)
			c, err := room.NewComment(roomID, l.userID(name), name, text)
			if err != nil {
				return err
			}
			var st room.Store
			if rc, err := restClient(g, l.keeper); err == nil {
				st = roomrest.Store{C: rc}
			}
			err = room.PostComment(ctx, st, ch, c)
			if errors.Is(err, room.ErrStoredOnly) {
				// Stored is delivered: history and postgres_changes carry it.
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", err)
				return nil
			}
			return err
		},
	}
	addServerFlags(cmd, &g)
	addInviteFlag(cmd, &g)
	cmd.Flags().StringVar(&g.name, "name", defaultName(), "your name in the room (env WATCHIUM_NAME)")
	return cmd
}
