package room

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/player"
)

// hostPersonSeeks is the host pressing a seek key in its own mpv while it
// plays: mpv reports the seek starting, then landing.
func hostPersonSeeks(h *member, to float64) {
	h.player.events <- player.Event{Kind: player.EventSeekStarted, Position: to, Speed: 1, At: time.Now()}
	h.player.set(func(s *playerState) { s.Pos = to })
	h.player.events <- player.Event{Kind: player.EventSeeked, Position: to, Speed: 1, At: time.Now()}
}

func playingPair(t *testing.T, cfg func(*Config)) (*fakeBus, *member, *member) {
	bus := newFakeBus()
	hc, fc := fastConfig("alice", true), fastConfig("bob", false)
	if cfg != nil {
		cfg(&hc)
	}
	h := addMember(t, bus, hc)
	waitCond(t, "alice hosts", hostIs(t, h, "alice"))
	f := addMember(t, bus, fc)
	waitCond(t, "bob sees alice", hostIs(t, f, "alice"))
	waitCond(t, "alice sees bob with a player", func() bool {
		return slices.ContainsFunc(h.snap(t).Members, func(m Member) bool { return m.UserID == "bob" && m.Media.Filename != "" })
	})
	h.player.set(func(s *playerState) { s.Pos, s.Paused = 10, false })
	h.player.events <- playerEvent(player.EventUnpaused, 10)
	waitCond(t, "bob plays", func() bool { return !f.player.State().Paused })
	return bus, h, f
}

// A host's seek while playing holds the room at the target until the
// follower has landed too, then starts both on one instant.
func TestHostSeekWaitsForEveryone(t *testing.T) {
	_, h, f := playingPair(t, nil)
	land := f.player.slowSeeks()
	hostPersonSeeks(h, 50)
	waitCond(t, "alice holds, waiting for bob", func() bool {
		s := h.snap(t)
		return h.player.State().Paused && slices.Equal(s.WaitingFor, []string{"bob"})
	})
	waitCond(t, "bob seeks to the target in parallel", func() bool { return slices.Contains(f.player.Calls(), "seek") })
	if !h.player.State().Paused {
		t.Fatal("alice started before bob landed")
	}
	land()
	waitCond(t, "both play from 50", func() bool {
		hs, fs := h.player.State(), f.player.State()
		return !hs.Paused && !fs.Paused && math.Abs(fs.Pos-50) < 0.5 && len(h.snap(t).WaitingFor) == 0
	})
}

// A follower that never lands does not hold the room past WaitTimeout.
func TestHostSeekStopsWaitingAfterTimeout(t *testing.T) {
	_, h, f := playingPair(t, func(c *Config) { c.WaitTimeout = 300 * time.Millisecond })
	land := f.player.slowSeeks()
	defer land()
	hostPersonSeeks(h, 70)
	waitCond(t, "alice waits for bob", func() bool { return len(h.snap(t).WaitingFor) == 1 })
	waitCond(t, "alice starts without bob", func() bool { return !h.player.State().Paused && len(h.snap(t).WaitingFor) == 0 })
}

// With wait for everyone off, the host plays on after its own seek.
func TestHostSeekWithoutWaiting(t *testing.T) {
	bus, h, f := playingPair(t, func(c *Config) { c.NoWait = true })
	land := f.player.slowSeeks()
	defer land()
	hostPersonSeeks(h, 30)
	// The landing anchor is the last thing the host does for this seek.
	waitCond(t, "alice announces where she landed", func() bool { return countReason(bus, TypeSeek) >= 1 })
	for _, c := range h.player.Calls() {
		if strings.HasPrefix(c, "pause") {
			t.Fatalf("the host paused with wait for everyone off: %v", h.player.Calls())
		}
	}
}

// The host presses play while a follower buffers: playback holds until the
// follower's cache has filled, then everyone starts together.
func TestHostPlayHoldsForABufferingFollower(t *testing.T) {
	_, h, f := playingPair(t, nil)
	h.player.set(func(s *playerState) { s.Paused = true })
	h.player.events <- playerEvent(player.EventPaused, 10)
	waitCond(t, "bob pauses", func() bool { return f.player.State().Paused })
	f.player.set(func(s *playerState) { s.Buffering, s.BufferPercent = true, 43 })
	f.player.events <- playerEvent(player.EventBuffering, 10)
	waitCond(t, "alice sees bob buffering", func() bool {
		m, ok := memberOf(t, h.room, "bob")
		return ok && m.PlayerState == "buffering" && m.BufferPercent == 43 && m.InSync
	})
	// Alice presses play in her mpv.
	h.player.set(func(s *playerState) { s.Paused = false })
	h.player.events <- playerEvent(player.EventUnpaused, 10)
	waitCond(t, "alice's play is held for bob", func() bool {
		return h.player.State().Paused && slices.Equal(h.snap(t).WaitingFor, []string{"bob"})
	})
	f.player.set(func(s *playerState) { s.Buffering = false })
	f.player.events <- playerEvent(player.EventBuffering, 10)
	waitCond(t, "both play once bob's cache filled", func() bool {
		return !h.player.State().Paused && !f.player.State().Paused && len(h.snap(t).WaitingFor) == 0
	})
}

// The host's spec seek event goes out SeekDebounce after it landed, for web
// clients. A follower still landing in the round must not take it for the
// host playing on from there: the round's next anchor (here at a state
// request) would then look like a new seek, and the follower would throw
// away its first landing and decode the target again. On a stream that
// doubled the wait for everyone.
func TestSpecSeekDoesNotRestartARoundFollower(t *testing.T) {
	bus, h, f := playingPair(t, nil)
	land := f.player.slowSeeks()
	f.player.mu.Lock()
	f.player.landAfter = 0.015 // a 24 fps file's frame boundary
	f.player.mu.Unlock()
	earlier := len(f.player.Calls()) // joining and starting
	hostPersonSeeks(h, 50)
	waitCond(t, "bob seeks to the target", func() bool { return slices.Contains(f.player.Calls()[earlier:], "seek") })
	waitCond(t, "alice's spec seek went out", func() bool { return len(bus.sentOfType(TypeSeek)) >= 1 })
	before := countReason(bus, reasonSeeking)
	bus.inject(typeStateRequest, MemberPayload{UserID: "carol", Username: "carol"})
	waitCond(t, "alice repeats the round's anchor", func() bool { return countReason(bus, reasonSeeking) > before })
	land()
	waitCond(t, "both play from 50", func() bool {
		hs, fs := h.player.State(), f.player.State()
		return !hs.Paused && !fs.Paused && math.Abs(fs.Pos-50) < 0.5
	})
	seeks := 0
	for _, c := range f.player.Calls()[earlier:] {
		if strings.HasPrefix(c, "seek") {
			seeks++
		}
	}
	if seeks != 1 {
		t.Fatalf("bob seeked %d times for one host seek: %v", seeks, f.player.Calls()[earlier:])
	}
}
