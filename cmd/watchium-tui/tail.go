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
			var dedupe room.PlaybackDedupe
			leaves := newLeaveWatch(roomID, out)
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
				// The host's play and the server's sync/control copy of it
				// are one event.
				if dedupe.Seen(env) {
					return
				}
				if env.Type == room.TypeMemberLeft {
					leaves.announced(env)
				}
				out.print(env)
			}
			_, closeFn, err := subscribeRoom(cctx, cmd, g, roomID, realtime.ChannelConfig{}, func(ch *realtime.Channel) {
				ch.OnBroadcast("*", printEvent)
				leaves.ch = ch
				ch.OnPresenceLeave(leaves.left)
			})
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

// leaveGrace is how long a member must stay absent from presence before
// tail reports it as having left: a member reconnecting (or everyone, after
// a server restart) is back well within it.
const leaveGrace = 5 * time.Second

// leaveWatch turns a member vanishing from presence without saying
// goodbye (a crashed or killed client) into a member_left line, once, and
// only if it stays away; members that leave cleanly announce it themselves.
type leaveWatch struct {
	roomID string
	out    *jsonLines
	ch     *realtime.Channel

	mu    sync.Mutex
	said  map[string]time.Time // user ids whose member_left was printed
	timer map[string]*time.Timer
}

func newLeaveWatch(roomID string, out *jsonLines) *leaveWatch {
	return &leaveWatch{roomID: roomID, out: out, said: map[string]time.Time{}, timer: map[string]*time.Timer{}}
}

func (l *leaveWatch) announced(env room.Envelope) {
	var p room.MemberPayload
	if json.Unmarshal(env.Payload, &p) != nil || p.UserID == "" {
		return
	}
	l.mu.Lock()
	l.said[p.UserID] = time.Now()
	l.mu.Unlock()
}

func (l *leaveWatch) left(key string, current, left []realtime.Presence) {
	if len(current) > 0 || len(left) == 0 {
		return
	}
	var who room.MemberPayload
	_ = json.Unmarshal(left[len(left)-1].Data, &who)
	if who.UserID == "" {
		who.UserID = key
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.timer[key]; t != nil {
		t.Stop()
	}
	l.timer[key] = time.AfterFunc(leaveGrace, func() {
		if len(l.ch.PresenceState()[key]) > 0 {
			return // back
		}
		l.mu.Lock()
		said, ok := l.said[who.UserID]
		delete(l.timer, key)
		if ok && time.Since(said) < 2*leaveGrace {
			l.mu.Unlock()
			return
		}
		l.said[who.UserID] = time.Now()
		l.mu.Unlock()
		env, err := room.NewEnvelope(room.TypeMemberLeft, l.roomID, room.MemberPayload{UserID: who.UserID, Username: who.Username, AvatarURL: who.AvatarURL}, time.Now())
		if err == nil {
			l.out.print(env)
		}
	})
}
