package room_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/internal/testmedia"
	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/room"
)

// Two short episodes at 100 fps (a frame is 10 ms), of different lengths so
// a mix-up shows.
var (
	episode1 = testmedia.Spec{FPS: 100, Seconds: 8, KeyEvery: 100}
	episode2 = testmedia.Spec{FPS: 100, Seconds: 9, KeyEvery: 100}
)

const (
	ep1Name = "Show - 01.mkv"
	ep2Name = "Show - 02.mkv"
)

// mediaDir puts the named episodes (generated files, linked) in a new
// folder.
func mediaDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.Link(src, filepath.Join(dir, name)); err != nil {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func launchFile(t *testing.T, path string) *player.MPV {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := player.Launch(ctx, path, player.Options{Headless: true, StartPaused: true})
	if err != nil {
		t.Fatalf("launch mpv: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func playingFile(t *testing.T, p *peer) string {
	self, _ := snapshot(t, p).Self()
	return self.Media.Filename
}

// Series night: the host plays episode 1 to its end; episode 2 starts on
// host and follower together, each from their own folder; a follower
// without episode 2 is shown missing it and holds nobody up.
func TestSeriesNextEpisodeForEveryone(t *testing.T) {
	needMPV(t)
	gen := t.TempDir()
	src1, err := testmedia.Make(gen, episode1)
	if err != nil {
		t.Fatal(err)
	}
	src2, err := testmedia.Make(gen, episode2)
	if err != nil {
		t.Fatal(err)
	}
	hostDir := mediaDir(t, map[string]string{ep1Name: src1, ep2Name: src2})
	bobDir := mediaDir(t, map[string]string{ep1Name: src1, ep2Name: src2})
	carolDir := mediaDir(t, map[string]string{ep1Name: src1})

	url := startServer(t)
	cfg := func(name string, host bool, dir string) room.Config {
		return room.Config{RoomID: "series", UserID: name, Username: name, WantHost: host, HostGrace: 500 * time.Millisecond,
			MediaDirs: []string{dir}, Logger: testLogger(t, name)}
	}
	hm := launchFile(t, filepath.Join(hostDir, ep1Name))
	host := joinConfig(t, url, cfg("alice", true, hostDir), hm, hm)
	eventually(t, 10*time.Second, "alice hosts", func() (bool, string) { return hostOf(t, host) == "alice", "" })
	bm := launchFile(t, filepath.Join(bobDir, ep1Name))
	bob := joinConfig(t, url, cfg("bob", false, bobDir), bm, bm)
	cm := launchFile(t, filepath.Join(carolDir, ep1Name))
	carol := joinConfig(t, url, cfg("carol", false, carolDir), cm, cm)
	for _, p := range []*peer{bob, carol} {
		eventually(t, 10*time.Second, p.name+" follows alice", func() (bool, string) { return hostOf(t, p) == "alice", "" })
	}
	// Dave starts with an idle mpv and only his media folder: the room's
	// entry is loaded for him.
	daveDir := mediaDir(t, map[string]string{ep1Name: src1, ep2Name: src2})
	dm := launchFile(t, "")
	dave := joinConfig(t, url, cfg("dave", false, daveDir), dm, dm)
	ctx := context.Background()
	for _, f := range []string{ep1Name, ep2Name} {
		if err := host.room.Add(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*peer{bob, carol, dave} {
		eventually(t, 10*time.Second, p.name+" has the playlist", func() (bool, string) {
			pl := snapshot(t, p).Playlist
			return len(pl.Entries) == 2 && pl.Current == 0, fmt.Sprintf("%+v", pl)
		})
	}

	// Near the end of episode 1, playing; everyone follows.
	if err := host.room.Seek(ctx, float64(episode1.Seconds)-2.5); err != nil {
		t.Fatal(err)
	}
	if err := host.room.Play(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "dave's idle mpv loaded episode 1", func() (bool, string) { return playingFile(t, dave) == ep1Name, playingFile(t, dave) })
	for _, p := range []*peer{bob, carol, dave} {
		eventually(t, 10*time.Second, p.name+" playing in sync", func() (bool, string) {
			o := offset(hm, p.mpv)
			return !p.mpv.State().Paused && math.Abs(o) < 0.04, fmt.Sprintf("offset %.1f ms", o*1000)
		})
	}
	hs := hm.State()
	endOfEp1 := time.Now().Add(time.Duration((hs.Duration - hs.PositionAt(time.Now())) / hs.Speed * float64(time.Second)))

	// Episode 2 starts on alice and bob together.
	both := func() (bool, string) {
		h, b := hm.State(), bm.State()
		ok := playingFile(t, host) == ep2Name && playingFile(t, bob) == ep2Name && !h.Paused && !b.Paused && h.Loaded && b.Loaded
		return ok, fmt.Sprintf("alice %q paused=%v, bob %q paused=%v", playingFile(t, host), h.Paused, playingFile(t, bob), b.Paused)
	}
	eventually(t, 20*time.Second, "alice and bob playing episode 2", both)
	endToBoth := time.Since(endOfEp1)
	startPos := hm.State().PositionAt(time.Now())
	took := endToBoth
	first := offset(hm, bm)
	frame := episode2.FrameDuration()
	samples := []float64{math.Abs(first)}
	for i := 0; i < 10; i++ {
		time.Sleep(100 * time.Millisecond) // sampling the offset while both play
		samples = append(samples, math.Abs(offset(hm, bm)))
	}
	sort.Float64s(samples)
	median, worst := samples[len(samples)/2], samples[len(samples)-1]
	t.Logf("end of episode 1 → alice and bob playing episode 2: %v; |offset| at start %.1f ms, over the next second median %.1f ms, worst %.1f ms (a frame is %.0f ms)",
		took.Round(time.Millisecond), math.Abs(first)*1000, median*1000, worst*1000, frame*1000)
	// Reported above as measured; asserted as the room's promise: within a
	// frame (a loaded shared machine can delay one start, then the
	// follower's correction closes it).
	eventually(t, 10*time.Second, "episode 2 on alice and bob within a frame", func() (bool, string) {
		o := offset(hm, bm)
		return math.Abs(o) <= frame, fmt.Sprintf("offset %.1f ms", o*1000)
	})
	if startPos > 1 {
		t.Errorf("alice's episode 2 at %.2f s once both played: she did not start from the beginning", startPos)
	}

	// Carol lacks episode 2: she is told, everyone sees it, and alice was
	// not held up past the wait timeout.
	eventually(t, 10*time.Second, "carol shown missing episode 2", func() (bool, string) {
		var seen room.Member
		for _, m := range snapshot(t, host).Members {
			if m.UserID == "carol" {
				seen = m
			}
		}
		self, _ := snapshot(t, carol).Self()
		return seen.Missing == ep2Name && self.Missing == ep2Name, fmt.Sprintf("host sees %q, carol %q", seen.Missing, self.Missing)
	})
	if limit := 5 * time.Second; took > limit {
		t.Errorf("episode 2 started %v after episode 1 ended: held past the wait timeout (%v)", took, limit)
	}

	// Alice opens episode 1 again in her mpv itself (as its playlist or a
	// drag-and-drop would): the room moves there, bob and carol with it.
	if _, err := hm.Call(ctx, "loadfile", filepath.Join(hostDir, ep1Name), "replace"); err != nil {
		t.Fatal(err)
	}
	moved := time.Now()
	eventually(t, 20*time.Second, "everyone back on episode 1, playing", func() (bool, string) {
		ok := snapshot(t, bob).Playlist.Current == 0
		for _, p := range []*peer{host, bob, carol} {
			ok = ok && playingFile(t, p) == ep1Name && !p.mpv.State().Paused
		}
		self, _ := snapshot(t, carol).Self()
		return ok && self.Missing == "", fmt.Sprintf("bob's current %d, carol missing %q", snapshot(t, bob).Playlist.Current, self.Missing)
	})
	t.Logf("alice's own loadfile → everyone playing episode 1: %v", time.Since(moved).Round(time.Millisecond))
	for _, p := range []*peer{host, bob, carol} {
		for _, m := range snapshot(t, p).Members {
			if m.MediaMismatch {
				t.Errorf("%s sees %s on a different file (%q), though it is the room's entry", p.name, m.Username, m.Media.Filename)
			}
		}
	}
	for _, p := range []*peer{bob, carol} {
		eventually(t, 10*time.Second, p.name+" within a frame of alice", func() (bool, string) {
			o := offset(hm, p.mpv)
			return math.Abs(o) <= frame, fmt.Sprintf("offset %.1f ms", o*1000)
		})
	}
}

// /speed 1.5 from the host: followers play at the room's speed and stay
// within the usual bounds of the host.
func TestSyncedSpeed(t *testing.T) {
	needMPV(t)
	url := startServer(t)
	host := join(t, url, "alice", true, nil)
	eventually(t, 10*time.Second, "alice hosts", func() (bool, string) { return hostOf(t, host) == "alice", "" })
	bob := join(t, url, "bob", false, nil)
	eventually(t, 10*time.Second, "bob follows", func() (bool, string) { return hostOf(t, bob) == "alice", "" })
	ctx := context.Background()
	if err := bob.room.SetSpeed(ctx, 1.5); err == nil {
		t.Fatal("a follower set the room's speed")
	}
	if err := host.room.SetSpeed(ctx, 99); err == nil {
		t.Fatal("speed 99 accepted")
	}
	if err := host.room.Play(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "bob in sync at 1.0", func() (bool, string) {
		o := offset(host.mpv, bob.mpv)
		return !bob.mpv.State().Paused && math.Abs(o) < 0.04, fmt.Sprintf("offset %.1f ms", o*1000)
	})
	if err := host.room.SetSpeed(ctx, 1.5); err != nil {
		t.Fatal(err)
	}
	// Settled: within 20 ms for half a second running.
	inside := 0
	took := eventually(t, 15*time.Second, "bob at 1.5, within 20 ms for 0.5 s", func() (bool, string) {
		o, sp := offset(host.mpv, bob.mpv), bob.mpv.State().Speed
		if math.Abs(sp/1.5-1) < 0.11 && math.Abs(o) < 0.02 {
			inside++
		} else {
			inside = 0
		}
		return inside >= 25, fmt.Sprintf("offset %.1f ms, speed %.3f", o*1000, sp)
	})
	var samples []float64
	for i := 0; i < 30; i++ {
		time.Sleep(100 * time.Millisecond) // sampling the offset while both play
		samples = append(samples, math.Abs(offset(host.mpv, bob.mpv)))
	}
	sort.Float64s(samples)
	p50, p95 := samples[len(samples)/2], samples[len(samples)*95/100]
	t.Logf("speed 1.5: bob settled within 20 ms after %v; |offset| over 3 s p50 %.1f ms, p95 %.1f ms, max %.1f ms", took.Round(time.Millisecond), p50*1000, p95*1000, samples[len(samples)-1]*1000)
	// Asserted above: settled within 20 ms for half a second at 1.5 (a
	// follower not at the room's speed drifts 0.5 s a second). The 3 s of
	// samples are reported, not asserted: on a loaded shared machine a
	// sample can catch a late frame step.
	eventually(t, 15*time.Second, "bob still within 40 ms at 1.5", func() (bool, string) {
		o, sp := offset(host.mpv, bob.mpv), bob.mpv.State().Speed
		return math.Abs(sp/1.5-1) < 0.11 && math.Abs(o) < 0.04, fmt.Sprintf("offset %.1f ms, speed %.3f", o*1000, sp)
	})
	if s := snapshot(t, bob); s.Speed != 1.5 {
		t.Errorf("bob's snapshot says the room's speed is %v", s.Speed)
	}
	if self, _ := snapshot(t, bob).Self(); self.Detached {
		t.Error("bob detached: the room's speed change was taken for his own")
	}
	// Back to normal: bob follows to 1.
	if err := host.room.SetSpeed(ctx, 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "bob back at 1.0 in sync", func() (bool, string) {
		o, sp := offset(host.mpv, bob.mpv), bob.mpv.State().Speed
		return math.Abs(sp-1) < 0.11 && math.Abs(o) < 0.04, fmt.Sprintf("offset %.1f ms, speed %.3f", o*1000, sp)
	})
}
