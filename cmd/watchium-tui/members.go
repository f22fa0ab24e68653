package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/roomrest"
)

// heartbeatWindow is how long members listens for the 3-second heartbeats,
// which carry what presence (re-tracked at most every 6 s) may not have
// caught up with yet.
const heartbeatWindow = 3500 * time.Millisecond

func newMembersCmd() *cobra.Command {
	var g globalFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "members ROOM",
		Short: "List who is in a room, who hosts, and who is in sync",
		Long: `Looks into ROOM (without appearing in it) and lists its members: the host,
each member's position, whether they play or pause, and whether they are in
sync (within 2 s of the host, and following it) with their measured offset.
It listens for one round of heartbeats (3.5 s) so what it prints is at most
one heartbeat old; a member that sent none is shown as not responding.`,
		Example: `  watchium-tui members movie
  watchium-tui members movie --json | jq '.[] | select(.in_sync | not) | .username'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			roomID := args[0]
			if err := validRoom(roomID); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			var mu sync.Mutex
			roster := room.NewRoster()
			if rc, err := rest.New(g.server, g.key); err == nil {
				if rs, ok, err := (roomrest.Store{C: rc}).RoomState(ctx, roomID); err == nil && ok {
					roster.StoredHost = rs.HostUserID
				}
			}
			changed := make(chan struct{}, 1)
			poke := func() {
				select {
				case changed <- struct{}{}:
				default:
				}
			}
			synced := false
			_, closeFn, err := subscribeRoom(ctx, cmd, g, roomID, realtime.ChannelConfig{}, func(c *realtime.Channel) {
				c.OnPresenceSync(func() {
					mu.Lock()
					roster.Presence(c.PresenceState(), time.Now())
					synced = true
					mu.Unlock()
					poke()
				})
				c.OnBroadcast(room.TypeHeartbeat, func(b realtime.Broadcast) {
					mu.Lock()
					roster.Broadcast(b)
					mu.Unlock()
					poke()
				})
			})
			if err != nil {
				return err
			}
			defer closeFn()
			// Presence may be a period old: listen until every member has
			// reported since we looked in (a heartbeat; a web member's
			// next presence), or for one round of heartbeats.
			settle := time.NewTimer(heartbeatWindow)
			defer settle.Stop()
			for ready := false; !ready; {
				select {
				case <-changed:
				case <-settle.C:
					if !synced {
						return fmt.Errorf("the server sent no presence for room %q", roomID)
					}
					ready = true
				case <-ctx.Done():
					return fmt.Errorf("the server sent no presence for room %q", roomID)
				}
				mu.Lock()
				if synced && roster.Reported() {
					ready = true
				}
				mu.Unlock()
			}
			mu.Lock()
			rows := roster.Members(time.Now())
			mu.Unlock()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "nobody is in room %q\n", roomID)
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tPOSITION\tSTATE\tSYNC\tOFFSET\tRTT")
			for _, r := range rows {
				role, state, sync := "", "paused", "✓ in sync"
				if r.IsHost {
					role = "host"
				}
				if r.IsPlaying {
					state = "playing"
				}
				if !r.InSync {
					sync = "✗ out of sync"
				}
				if r.Detached {
					sync = "✗ detached"
				}
				if !r.Responding {
					sync = "✗ not responding"
				}
				if r.PlayerState == "gone" {
					state = "no mpv"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%+.0f ms\t%.0f ms\n", r.Username, role, room.ClockString(r.CurrentTime), state, sync, r.OffsetMS, r.RTTMS)
			}
			return tw.Flush()
		},
	}
	addServerFlags(cmd, &g)
	addInviteFlag(cmd, &g)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return cmd
}
