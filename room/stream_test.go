package room_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/internal/testmedia"
	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/room"
)

func memberIn(t *testing.T, p *peer, id string) (room.Member, bool) {
	for _, m := range snapshot(t, p).Members {
		if m.UserID == id {
			return m, true
		}
	}
	return room.Member{}, false
}

// A follower streaming over a slow link (a loopback HTTP server that
// throttles) buffers: the room shows it buffering, not out of sync; after
// the host seeks, the room waits for it to land and then starts everyone
// together.
func TestThrottledStreamBuffersAndTheRoomWaits(t *testing.T) {
	needMPV(t)
	// The clip's bitrate is about 5 KB/s: 3× that loads it, well under it
	// starves the player.
	th, err := testmedia.ServeThrottled(media, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer th.Close()
	url := startServer(t)
	host := join(t, url, "alice", true, nil)
	eventually(t, 10*time.Second, "alice hosts", func() (bool, string) { return hostOf(t, host) == "alice", "" })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	sm, err := player.Launch(ctx, th.URL, player.Options{Headless: true, StartPaused: true})
	cancel()
	if err != nil {
		t.Fatalf("mpv on the stream: %v", err)
	}
	t.Cleanup(func() { _ = sm.Close() })
	bob := join(t, url, "bob", false, sm)
	eventually(t, 10*time.Second, "alice sees bob's player", func() (bool, string) {
		m, ok := memberIn(t, host, "bob")
		return ok && m.Media.Filename != "", fmt.Sprintf("%+v", m)
	})
	bg := context.Background()
	if err := host.mpv.Play(bg); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "bob plays the stream", func() (bool, string) { return !sm.State().Paused, "" })

	// The link slows to a trickle: bob's player runs dry.
	th.SetRate(512)
	eventually(t, 60*time.Second, "alice sees bob buffering, not out of sync", func() (bool, string) {
		m, _ := memberIn(t, host, "bob")
		return m.PlayerState == "buffering" && m.InSync, fmt.Sprintf("state %q in sync %v, bob's mpv buffering %v", m.PlayerState, m.InSync, sm.State().Buffering)
	})

	// The host seeks where bob has nothing cached: the room holds for him.
	if err := host.mpv.Seek(bg, 90); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "alice holds the room for bob", func() (bool, string) {
		s := snapshot(t, host)
		return host.mpv.State().Paused && slices.Contains(s.WaitingFor, "bob"), fmt.Sprint(s.WaitingFor)
	})
	th.SetRate(64 << 10)
	var landed time.Time
	eventually(t, 20*time.Second, "bob lands on 90", func() (bool, string) {
		st := sm.State()
		if !st.Seeking && math.Abs(st.Pos-90) < 0.5 && landed.IsZero() {
			landed = time.Now()
		}
		return !landed.IsZero(), fmt.Sprintf("bob at %.2f seeking %v", st.Pos, st.Seeking)
	})
	took := eventually(t, 10*time.Second, "everyone plays from 90, together", func() (bool, string) {
		hs, bs := host.mpv.State(), sm.State()
		o := offset(host.mpv, sm)
		return !hs.Paused && !bs.Paused && !bs.Buffering && math.Abs(o) < 0.1, fmt.Sprintf("host paused %v, bob paused %v buffering %v, offset %.3f", hs.Paused, bs.Paused, bs.Buffering, o)
	})
	t.Logf("bob landed → everyone playing within 0.1 s: %v", took)
	_ = bob
}

// On what people watch (1080p, 23.976 fps, a keyframe every 10 s, so an
// exact seek decodes up to 240 frames) a host's seek while playing ends
// with host and follower on the same frame: both decode at once, the room
// waits for the slower one, and they start together.
func TestHDSeeksEndOnTheSameFrame(t *testing.T) {
	needMPV(t)
	hd, err := testmedia.Cached(testmedia.HDShort)
	if err != nil {
		t.Fatalf("HD test media: %v", err)
	}
	frame := testmedia.HDShort.FrameDuration()
	launchHD := func() *player.MPV {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m, err := player.Launch(ctx, hd, player.Options{Headless: true, StartPaused: true})
		if err != nil {
			t.Fatalf("mpv: %v", err)
		}
		t.Cleanup(func() { _ = m.Close() })
		return m
	}
	url := startServer(t)
	host := join(t, url, "alice", true, launchHD())
	eventually(t, 10*time.Second, "alice hosts", func() (bool, string) { return hostOf(t, host) == "alice", "" })
	bm := launchHD()
	join(t, url, "bob", false, bm)
	eventually(t, 10*time.Second, "alice sees bob's player", func() (bool, string) {
		m, ok := memberIn(t, host, "bob")
		return ok && m.Media.Filename != "", ""
	})
	bg := context.Background()
	if err := host.mpv.Play(bg); err != nil {
		t.Fatal(err)
	}
	for _, target := range []float64{47.3, 83.9} {
		if err := host.mpv.Seek(bg, target); err != nil {
			t.Fatal(err)
		}
		runs := 0
		took := eventually(t, 20*time.Second, fmt.Sprintf("both playing on one frame after the seek to %.1f", target), func() (bool, string) {
			hs, bs := host.mpv.State(), bm.State()
			o := offset(host.mpv, bm)
			if !hs.Paused && !bs.Paused && !hs.Seeking && !bs.Seeking && math.Abs(o) <= frame {
				runs++
			} else {
				runs = 0
			}
			return runs >= 3, fmt.Sprintf("offset %.3f, host paused %v seeking %v, bob paused %v seeking %v", o, hs.Paused, hs.Seeking, bs.Paused, bs.Seeking)
		})
		t.Logf("seek to %.1f: settled within a frame after %v", target, took)
	}
}
