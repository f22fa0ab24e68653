package player

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// testMedia is a 60 s, 25 fps, 1 s GOP file made once by TestMain; empty
// when mpv or ffmpeg is missing (skipReason says why).
var (
	testMedia  string
	skipReason string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var missing []string
	for _, bin := range []string{"mpv", "ffmpeg"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		skipReason = fmt.Sprintf("%v not installed (apt-get install -y mpv ffmpeg)", missing)
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "player tests: "+skipReason+": CI must install them")
			return 1
		}
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "player-media")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testMedia = filepath.Join(dir, "x.mkv")
	out, err := exec.Command("ffmpeg", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=96x54:rate=25:duration=60",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=60",
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "40", "-g", "25", "-keyint_min", "25",
		"-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "16k", "-ac", "1",
		"-shortest", testMedia).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "player tests: generating media: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func needMPV(tb testing.TB) {
	tb.Helper()
	if testMedia == "" {
		tb.Skip(skipReason)
	}
}

// launchTest starts a headless mpv with the test media loaded (paused unless
// playing is set) and stops it when the test ends.
func launchTest(tb testing.TB, playing bool, extra ...string) *MPV {
	tb.Helper()
	needMPV(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := Launch(ctx, testMedia, Options{Headless: true, StartPaused: !playing, ExtraArgs: extra})
	if err != nil {
		tb.Fatalf("Launch: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return m
}

func tctx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// waitEvent returns the first event of kind k, skipping others.
func waitEvent(tb testing.TB, m *MPV, k EventKind) Event {
	tb.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-m.Events():
			if !ok {
				tb.Fatalf("events closed while waiting for %v: %v", k, m.Err())
			}
			if ev.Kind == k {
				return ev
			}
		case <-deadline.C:
			tb.Fatalf("no %v event within 5 s", k)
		}
	}
}

// drain discards queued events so a test only sees what comes next.
func drain(m *MPV) {
	for {
		select {
		case <-m.Events():
		default:
			return
		}
	}
}
