package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/room"
)

// memberRow is one line of `members`, and its JSON form.
type memberRow struct {
	UserID      string  `json:"user_id"`
	Username    string  `json:"username"`
	IsHost      bool    `json:"is_host"`
	CurrentTime float64 `json:"current_time"`
	IsPlaying   bool    `json:"is_playing"`
	InSync      bool    `json:"in_sync"`
	OffsetMS    float64 `json:"offset_ms"`
	RTTMS       float64 `json:"rtt_ms"`
	Detached    bool    `json:"detached,omitempty"`
	Media       string  `json:"media,omitempty"`
}

func newMembersCmd() *cobra.Command {
	var g globalFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "members ROOM",
		Short: "List who is in a room, who hosts, and who is in sync",
		Long: `Looks into ROOM (without appearing in it) and lists its members: the host,
each member's position, whether they play or pause, and whether they are in
sync (within 2 s of the host, and following it) with their measured offset.`,
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
			synced := make(chan struct{}, 1)
			onSync := func() {
				select {
				case synced <- struct{}{}:
				default:
				}
			}
			ch, closeFn, err := subscribeRoom(ctx, cmd, g, roomID, realtime.ChannelConfig{}, func(ch *realtime.Channel) { ch.OnPresenceSync(onSync) })
			if err != nil {
				return err
			}
			defer closeFn()
			select {
			case <-synced:
			case <-ctx.Done():
				return fmt.Errorf("the server sent no presence for room %q", roomID)
			}
			rows := membersFromPresence(ch.PresenceState())
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
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%+.0f ms\t%.0f ms\n", r.Username, role, room.ClockString(r.CurrentTime), state, sync, r.OffsetMS, r.RTTMS)
			}
			return tw.Flush()
		},
	}
	addServerFlags(cmd, &g)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return cmd
}

func membersFromPresence(st map[string][]realtime.Presence) []memberRow {
	rows := []memberRow{}
	for key, metas := range st {
		if len(metas) == 0 {
			continue
		}
		var m struct {
			memberRow
			Media room.MediaIdentity `json:"media"`
		}
		if err := json.Unmarshal(metas[len(metas)-1].Data, &m); err != nil {
			continue
		}
		r := m.memberRow
		if r.UserID == "" {
			r.UserID = key
		}
		if r.Username == "" {
			r.Username = key
		}
		r.Media = m.Media.Filename
		if r.IsHost {
			r.InSync = true
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].IsHost != rows[j].IsHost {
			return rows[i].IsHost
		}
		return rows[i].Username < rows[j].Username
	})
	return rows
}
