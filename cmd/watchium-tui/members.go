package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
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
	// PlayerState is ok, seeking, buffering, gone (its mpv died) or none.
	PlayerState string `json:"player_state,omitempty"`
	// Responding is false for a member that sent no heartbeat while we
	// listened: a dead link or a stopped process the server has not
	// dropped yet.
	Responding bool `json:"responding"`
}

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
			synced := make(chan struct{}, 1)
			onSync := func() {
				select {
				case synced <- struct{}{}:
				default:
				}
			}
			beats := &heartbeats{last: map[string]heartbeatLine{}}
			ch, closeFn, err := subscribeRoom(ctx, cmd, g, roomID, realtime.ChannelConfig{}, func(ch *realtime.Channel) {
				ch.OnPresenceSync(onSync)
				ch.OnBroadcast(room.TypeHeartbeat, beats.take)
			})
			if err != nil {
				return err
			}
			defer closeFn()
			select {
			case <-synced:
			case <-ctx.Done():
				return fmt.Errorf("the server sent no presence for room %q", roomID)
			}
			if len(ch.PresenceState()) > 0 {
				select {
				case <-time.After(heartbeatWindow):
				case <-ctx.Done():
				}
			}
			rows := beats.overlay(membersFromPresence(ch.PresenceState()))
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

// heartbeatLine is what members reads from a heartbeat broadcast.
type heartbeatLine struct {
	UserID      string  `json:"user_id"`
	CurrentTime float64 `json:"current_time"`
	IsSynced    bool    `json:"is_synced"`
	IsPlaying   bool    `json:"is_playing"`
	OffsetMS    float64 `json:"offset_ms"`
	RTTMS       float64 `json:"rtt_ms"`
	Detached    bool    `json:"detached"`
	PlayerState string  `json:"player_state"`
}

// heartbeats keeps the latest heartbeat of each member.
type heartbeats struct {
	mu   sync.Mutex
	last map[string]heartbeatLine
}

func (h *heartbeats) take(b realtime.Broadcast) {
	var env room.Envelope
	if json.Unmarshal(b.Payload, &env) != nil {
		return
	}
	var hb heartbeatLine
	if json.Unmarshal(env.Payload, &hb) != nil || hb.UserID == "" {
		return
	}
	h.mu.Lock()
	h.last[hb.UserID] = hb
	h.mu.Unlock()
}

// overlay replaces presence's possibly stale fields with each member's
// latest heartbeat; members without one are not responding.
func (h *heartbeats) overlay(rows []memberRow) []memberRow {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range rows {
		r := &rows[i]
		hb, ok := h.last[r.UserID]
		if !ok {
			r.Responding, r.InSync = false, false
			continue
		}
		r.Responding = true
		r.CurrentTime, r.IsPlaying, r.OffsetMS, r.RTTMS, r.Detached = hb.CurrentTime, hb.IsPlaying, hb.OffsetMS, hb.RTTMS, hb.Detached
		r.InSync = r.IsHost || hb.IsSynced && !hb.Detached
		if hb.PlayerState != "" {
			r.PlayerState = hb.PlayerState
		}
		if r.PlayerState == "gone" {
			r.InSync, r.IsPlaying = false, false
		}
	}
	return rows
}
