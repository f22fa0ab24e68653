package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/room"
)

// jsonLines writes one JSON value per line, safely from several goroutines.
type jsonLines struct {
	mu sync.Mutex
	w  io.Writer
}

func (j *jsonLines) print(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	fmt.Fprintf(j.w, "%s\n", b)
}

func newTailCmd() *cobra.Command {
	var g globalFlags
	var heartbeats bool
	cmd := &cobra.Command{
		Use:   "tail ROOM",
		Short: "Print a room's events as JSON lines until interrupted",
		Long: `Watches ROOM without joining it visibly and prints every spec event
(play, pause, seek, member_joined, member_left, new_host, new_comment and, with
--heartbeats, heartbeat) as one JSON object per line:
{"type":…,"payload":…,"room_id":…,"timestamp":…}. Stops on Ctrl-C.`,
		Example: `  watchium-tui tail movie
  watchium-tui tail movie | jq -r 'select(.type=="new_comment") | .payload.content'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			roomID := args[0]
			if err := validRoom(roomID); err != nil {
				return err
			}
			ctx := cmd.Context()
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			out := &jsonLines{w: cmd.OutOrStdout()}
			printEvent := func(b realtime.Broadcast) {
				env, err := room.DecodeBroadcast(b)
				if err != nil || !room.IsSpecType(env.Type) {
					return
				}
				if env.RoomID == "" {
					env.RoomID = roomID // a web client's bare payload
				}
				if env.Type == room.TypeHeartbeat && !heartbeats {
					return
				}
				out.print(env)
			}
			_, closeFn, err := subscribeRoom(cctx, cmd, g, roomID, realtime.ChannelConfig{}, func(ch *realtime.Channel) { ch.OnBroadcast("*", printEvent) })
			if err != nil {
				return err
			}
			defer closeFn()
			<-ctx.Done()
			return nil
		},
	}
	addServerFlags(cmd, &g)
	addInviteFlag(cmd, &g)
	cmd.Flags().BoolVar(&heartbeats, "heartbeats", false, "also print the 3-second heartbeat events")
	return cmd
}
