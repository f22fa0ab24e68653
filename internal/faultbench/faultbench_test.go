package faultbench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFaultSuite runs every fault case once against real processes and
// fails if a case could not complete or lost or duplicated acknowledged
// chat; it prints the table. The 40 s silent link is skipped with -short.
// FAULTS=name,name limits it to some cases (prefixes of the case names).
func TestFaultSuite(t *testing.T) {
	for _, tool := range []string{"mpv", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "watchium-tui")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/watchium-tui").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := Config{Binary: bin, Runs: 1, SilentFor: []time.Duration{10 * time.Second, 40 * time.Second}, StopFor: 30 * time.Second, Progress: testWriter{t}}
	if testing.Short() {
		cfg.SilentFor, cfg.StopFor = []time.Duration{10 * time.Second}, 10*time.Second
	}
	if f := os.Getenv("FAULTS"); f != "" {
		cfg.Cases = strings.Split(f, ",")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	rs, err := Run(ctx, cfg)
	var buf bytes.Buffer
	FormatTable(&buf, rs)
	t.Logf("\n%s", buf.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if len(r.Errors) > 0 {
			t.Errorf("%s: %s", r.Case, strings.Join(r.Errors, "; "))
		}
		for _, s := range r.Samples {
			if s.Lost > 0 || s.Dups > 0 {
				t.Errorf("%s: %d acknowledged messages lost, %d shown twice", r.Case, s.Lost, s.Dups)
			}
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
