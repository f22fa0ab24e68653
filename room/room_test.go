package room

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/player"
)

type member struct {
	id     string
	room   *Room
	player *fakePlayer
	cancel context.CancelFunc
	done   chan struct{}
}

func fastConfig(id string, host bool) Config {
	return Config{
		RoomID: "r", UserID: id, Username: id, WantHost: host,
		SeekDebounce: 200 * time.Millisecond, PresenceBatch: 5 * time.Millisecond,
		PresenceInterval: 10 * time.Millisecond, HostGrace: 100 * time.Millisecond,
	}
}

func addMember(t *testing.T, bus *fakeBus, cfg Config) *member {
	t.Helper()
	return addMemberWith(t, bus, cfg, newFakePlayer())
}

func addMemberWith(t *testing.T, bus *fakeBus, cfg Config, p *fakePlayer) *member {
	t.Helper()
	ch := bus.channel(cfg.UserID)
	var pl Player
	if p != nil {
		pl = p // a nil *fakePlayer must stay a nil Player: a chat-only member
	}
	r := New(cfg, ch, pl)
	bus.mu.Lock()
	ch.room = r
	bus.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{id: cfg.UserID, room: r, player: p, cancel: cancel, done: make(chan struct{})}
	go func() { _ = r.Run(ctx); close(m.done) }()
	go func() {
		for range r.Events() {
		}
	}()
	t.Cleanup(m.stop)
	return m
}

func (m *member) stop() {
	m.cancel()
	<-m.done
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
}

func (m *member) snap(t *testing.T) Snapshot {
	s, err := m.room.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hostIs(t *testing.T, m *member, id string) func() bool {
	return func() bool { return m.snap(t).HostID == id }
}

func twoMembers(t *testing.T) (*fakeBus, *member, *member) {
	bus := newFakeBus()
	h := addMember(t, bus, fastConfig("alice", true))
	waitCond(t, "alice hosts", hostIs(t, h, "alice"))
	f := addMember(t, bus, fastConfig("bob", false))
	waitCond(t, "bob sees alice", hostIs(t, f, "alice"))
	waitCond(t, "alice sees bob", func() bool { return len(h.snap(t).Members) == 2 })
	return bus, h, f
}

func playback(user string, t float64, epoch string, seq uint64) PlaybackPayload {
	return PlaybackPayload{CurrentTime: t, UserID: user, Username: user, Epoch: epoch, Seq: seq, Speed: 1, AtMS: wallMS(time.Now())}
}

func TestFollowerAppliesHostPauseOnHostFrame(t *testing.T) {
	_, h, f := twoMembers(t)
	h.player.set(func(s *playerState) { s.Pos = 42.37 })
	h.player.events <- playerEvent(eventPaused, 42.37)
	waitCond(t, "bob rests on 42.37", func() bool {
		st := f.player.State()
		return st.Paused && math.Abs(st.Pos-(42.37-0.0001)) < 1e-9
	})
}

func TestStaleReorderedAndForeignEventsAreIgnored(t *testing.T) {
	bus, h, f := twoMembers(t)
	epoch := h.room.sEpochForTest()
	env := func(typ string, p PlaybackPayload) Envelope {
		e, _ := NewEnvelope(typ, "r", p, time.Now())
		return e
	}
	bus.inject(TypeSeek, env(TypeSeek, playback("alice", 100, epoch, 50)))
	waitCond(t, "bob follows seq 50", func() bool { return f.player.State().Pos >= 99 })
	before := len(f.player.Calls())
	// Older sequence number: stale.
	bus.inject(TypeSeek, env(TypeSeek, playback("alice", 10, epoch, 49)))
	// Not the host.
	bus.inject(TypePause, env(TypePause, playback("mallory", 5, "x", 1)))
	// Non-finite and negative times.
	bad := playback("alice", math.Inf(1), epoch, 60)
	raw := `{"type":"seek","payload":{"current_time":-3,"user_id":"alice","username":"alice","epoch":"` + epoch + `","seq":61},"room_id":"r","timestamp":1}`
	bus.inject(TypeSeek, env(TypeSeek, bad))
	bus.inject(TypeSeek, rawJSON(raw))
	// Garbage.
	bus.inject(TypeSeek, "not an envelope")
	bus.inject("no_such_event", map[string]int{"x": 1})
	// A marker the room must still take proves the others were processed.
	bus.inject(TypeSeek, env(TypeSeek, playback("alice", 200, epoch, 62)))
	waitCond(t, "marker applied", func() bool { return f.player.State().Pos >= 199 })
	calls := f.player.Calls()[before:]
	if n := strings.Count(strings.Join(calls, ","), "seek"); n != 1 {
		t.Fatalf("bob's player got %v after the first seek; only the marker should have moved it", calls)
	}
}

func TestHostSeeksAreDebouncedButAnchorsGoOutAtOnce(t *testing.T) {
	bus, h, _ := twoMembers(t)
	for _, pos := range []float64{10, 20, 30} {
		h.player.set(func(s *playerState) { s.Pos = pos })
		h.player.events <- playerEvent(eventSeeked, pos)
	}
	waitCond(t, "three anchors", func() bool { return countReason(bus, "seek") == 3 })
	waitCond(t, "one spec seek", func() bool { return len(bus.sentOfType(TypeSeek)) == 1 })
	// Quiet afterwards: still one.
	time.Sleep(300 * time.Millisecond) // longer than the debounce, to show no second event comes
	seeks := bus.sentOfType(TypeSeek)
	if len(seeks) != 1 || !strings.Contains(string(seeks[0].Payload), `"current_time":30`) {
		t.Fatalf("spec seek events: %d, first %s", len(seeks), seeks[0].Payload)
	}
}

func TestHostLeavesEarliestJoinedTakesOver(t *testing.T) {
	bus := newFakeBus()
	h := addMember(t, bus, fastConfig("alice", true))
	waitCond(t, "alice hosts", hostIs(t, h, "alice"))
	b := addMember(t, bus, fastConfig("zed", false)) // joins first, sorts last by name
	waitCond(t, "zed sees alice", hostIs(t, b, "alice"))
	c := addMember(t, bus, fastConfig("bob", false))
	waitCond(t, "bob sees alice", hostIs(t, c, "alice"))
	h.stop()
	bus.leave("alice")
	waitCond(t, "zed hosts", hostIs(t, b, "zed"))
	waitCond(t, "bob agrees", hostIs(t, c, "zed"))
	// The claim goes out on the bus's own goroutine: wait for it.
	waitCond(t, "zed's new_host", func() bool {
		got := bus.sentOfType(TypeNewHost)
		return len(got) > 0 && strings.Contains(string(got[len(got)-1].Payload), `"user_id":"zed"`)
	})
}

func TestHandOverAndAuthority(t *testing.T) {
	_, h, f := twoMembers(t)
	ctx := context.Background()
	if err := f.room.Pause(ctx); err == nil || !strings.Contains(err.Error(), "only the host") {
		t.Fatalf("follower pause: %v", err)
	}
	if err := h.room.HandOver(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "bob hosts", hostIs(t, f, "bob"))
	waitCond(t, "alice follows bob", hostIs(t, h, "bob"))
	if err := f.room.Pause(ctx); err != nil {
		t.Fatalf("new host pause: %v", err)
	}
	if err := h.room.HandOver(ctx, "alice"); err == nil {
		t.Fatal("a follower handed the role over")
	}
}

func TestFollowersOwnSeekDetachesAndResyncReattaches(t *testing.T) {
	_, h, f := twoMembers(t)
	h.player.set(func(s *playerState) { s.Pos = 50 })
	h.player.events <- playerEvent(eventPaused, 50)
	waitCond(t, "bob at 50", func() bool { return math.Abs(f.player.State().Pos-50) < 0.01 })
	f.player.set(func(s *playerState) { s.Pos = 5 })
	ev := playerEvent(eventSeeked, 5)
	ev.Ours = false
	f.player.events <- ev
	waitCond(t, "bob detached", func() bool { s, _ := f.snap(t).Self(); return s.Detached && !s.InSync })
	waitCond(t, "alice sees bob detached", func() bool {
		for _, m := range h.snap(t).Members {
			if m.UserID == "bob" {
				return m.Detached
			}
		}
		return false
	})
	if err := f.room.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "bob back at 50", func() bool { return math.Abs(f.player.State().Pos-50) < 0.01 })
	if s, _ := f.snap(t).Self(); s.Detached {
		t.Fatal("still detached after /sync")
	}
}

func TestSayDedupesAndValidates(t *testing.T) {
	bus, h, _ := twoMembers(t)
	if err := h.room.Say(context.Background(), "   "); err == nil {
		t.Fatal("empty message accepted")
	}
	if err := h.room.Say(context.Background(), strings.Repeat("x", MaxCommentLength+1)); err == nil {
		t.Fatal("oversized message accepted")
	}
	if err := h.room.Say(context.Background(), "hi"); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "comment on the wire", func() bool { return len(bus.sentOfType(TypeNewComment)) == 1 })
}

func TestDifferentMediaIsFlaggedToEveryone(t *testing.T) {
	bus := newFakeBus()
	h := addMember(t, bus, fastConfig("alice", true))
	waitCond(t, "alice hosts", hostIs(t, h, "alice"))
	other := newFakePlayer()
	other.media = player.MediaInfo{Filename: "movie.720p.mkv", Duration: 598}
	f := addMemberWith(t, bus, fastConfig("bob", false), other)
	waitCond(t, "bob sees his own mismatch", func() bool { s, _ := f.snap(t).Self(); return s.MediaMismatch })
	waitCond(t, "alice sees bob's mismatch", func() bool {
		for _, m := range h.snap(t).Members {
			if m.UserID == "bob" {
				return m.MediaMismatch
			}
		}
		return false
	})
}

func TestPlayFromTheRoomStartsEveryoneTogether(t *testing.T) {
	_, h, f := twoMembers(t)
	start := time.Now()
	if err := h.room.Play(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "both playing", func() bool { return !h.player.State().Paused && !f.player.State().Paused })
	// Both waited for the scheduled moment (at least the 30 ms minimum
	// lead), rather than the follower starting as soon as it heard.
	hs, fs := h.player.State().PosAt, f.player.State().PosAt
	if hs.Sub(start) < 25*time.Millisecond || fs.Sub(start) < 25*time.Millisecond {
		t.Fatalf("started before the scheduled moment: host after %v, follower after %v", hs.Sub(start), fs.Sub(start))
	}
}
