package syncbench

import (
	"context"
	"math"
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

// A run that settles few seeks must not report the percentiles of its best.
func TestMissedSeeksRankLast(t *testing.T) {
	s := summarizeMissed([]float64{100, 200, 300, 400, 500}, 15)
	if s.N != 5 || s.Missed != 15 || !math.IsInf(s.P50, 1) || !math.IsInf(s.P95, 1) {
		t.Fatalf("5 of 20 settled: got %+v, want p50 and p95 never", s)
	}
	if s := summarizeMissed([]float64{100, 200, 300}, 1); s.P50 != 200 || !math.IsInf(s.Max, 1) {
		t.Fatalf("3 of 4 settled: got %+v, want p50 200 and max never", s)
	}
	for _, c := range []struct {
		ours, theirs float64
		want         string
	}{
		{500, 1000, "0.50×"},
		{500, math.Inf(1), "<0.05×"},
		{math.Inf(1), 500, ">20.00×"},
		{math.Inf(1), math.Inf(1), "–"},
	} {
		if got := seekRatio(c.ours, c.theirs, 10000); got != c.want {
			t.Errorf("seekRatio(%v, %v) = %q, want %q", c.ours, c.theirs, got, c.want)
		}
	}
}
