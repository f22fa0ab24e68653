package syncbench

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/internal/testmedia"
)

// TestHarnessRuns checks the harness end to end on a small run (one
// follower, one cycle, a short steady phase, loopback and a delayed link);
// it asserts that every step was measured, never how fast.
func TestHarnessRuns(t *testing.T) {
	for _, tool := range []string{"mpv", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		r, err := Run(context.Background(), Config{
			Followers: 1, Cycles: 1, Steady: time.Second, Delay: delay, Jitter: delay / 4,
			MediaDir: t.TempDir(), NoConverge: true,
		})
		if err != nil {
			t.Fatalf("delay %v: %v", delay, err)
		}
		for name, s := range map[string]Stats{"play": r.Play, "pause": r.Pause, "seek": r.Seek, "frame": r.PauseFrame} {
			if s.N != 1 {
				t.Errorf("delay %v: %s measured %d times, want 1", delay, name, s.N)
			}
		}
		if r.Steady.N < 10 {
			t.Errorf("delay %v: only %d steady samples", delay, r.Steady.N)
		}
	}
}

// TestSeekHarnessRuns runs the seek and buffering measurements on the toy
// clip; it checks every seek was measured, never how fast.
func TestSeekHarnessRuns(t *testing.T) {
	for _, tool := range []string{"mpv", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	cfg := SeekConfig{Media: testmedia.Default, MediaName: "toy", Followers: 1, Seeks: 2, NoConverge: true}
	r, err := RunSeeks(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.HostSeek.N != 2 || r.Within.N != 2 || r.Settled.N != 2 || r.After.N == 0 {
		t.Fatalf("measured %+v", r)
	}
	// Two cycles: under a full -race suite on two cores one cycle's
	// stream can miss its 20 s window (seen once); the harness must still
	// measure the other.
	b, err := RunBuffering(context.Background(), cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	if b.Ready.N == 0 || b.Held == 0 {
		t.Fatalf("buffering measured %+v", b)
	}
	if _, err := exec.LookPath("syncplay"); err != nil {
		t.Log("syncplay not installed: the Syncplay side is not exercised")
		return
	}
	cfg.Seeks = 1
	s, err := RunSyncplaySeeks(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.HostSeek.N != 1 {
		t.Fatalf("syncplay measured %+v", s)
	}
}
