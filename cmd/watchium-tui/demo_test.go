package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/room"
)

// childMPVs lists the pids of mpv processes this test process started
// (its children named mpv), from /proc.
func childMPVs(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) < 2 || s[open+1:end] != "mpv" {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == self {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestDemoMembersJoinAndCloseCleanly(t *testing.T) {
	need(t, "mpv", "ffmpeg")
	if runtime.GOOS != "linux" {
		t.Skip("counts mpv processes through /proc")
	}
	if pids := childMPVs(t); len(pids) > 0 {
		t.Fatalf("mpv children before the demo started: %v", pids)
	}
	baseGoroutines := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var notesMu sync.Mutex
	var notes []string
	d, err := startDemo(ctx, demoConfig{
		MediaDir: t.TempDir(), MediaSeconds: 20, Scale: 0.02,
		Note: func(s string) { notesMu.Lock(); notes = append(notes, s); notesMu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !strings.HasPrefix(d.URL, "http://127.0.0.1:") || strings.HasSuffix(d.URL, ":4000") {
		t.Fatalf("demo server at %s, want loopback on a random port", d.URL)
	}
	host, err := d.JoinHost(ctx, "tester", player.Options{Headless: true})
	if err != nil {
		t.Fatal(err)
	}
	// The host reads its own events, as the UI would; chat from the
	// simulated members arrives here.
	var chatMu sync.Mutex
	chatFrom := map[string]bool{}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for ev := range host.Events() {
			if c, ok := ev.(room.ChatReceived); ok {
				chatMu.Lock()
				chatFrom[c.Comment.Username] = true
				chatMu.Unlock()
			}
		}
	}()
	d.StartScript()

	want := []string{"bob", "carol", "dave"}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last room.Snapshot
	for {
		s, err := host.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last = s
		var online []string
		for _, m := range s.Members {
			if !m.IsSelf && m.Online {
				online = append(online, m.Username)
			}
		}
		slices.Sort(online)
		chatMu.Lock()
		chatted := chatFrom["bob"] && chatFrom["carol"] && chatFrom["dave"]
		chatters := slices.Sorted(maps.Keys(chatFrom))
		chatMu.Unlock()
		scriptDone := false
		select {
		case <-d.ScriptDone():
			scriptDone = true
		default:
		}
		if slices.Equal(online, want) && s.HostID == s.SelfID && chatted && scriptDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: members %v (want %v), host %q self %q, chat from %v, script done %v",
				online, want, s.HostID, s.SelfID, chatters, scriptDone)
		}
		<-tick.C
	}
	t.Logf("host sees %d members", len(last.Members))

	pids := childMPVs(t)
	if len(pids) != 4 {
		t.Errorf("want 4 mpv (host + 3 simulated), found %v", pids)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	<-drained
	for _, pid := range pids {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
			t.Errorf("mpv %d still exists after Close", pid)
		}
	}
	if left := childMPVs(t); len(left) > 0 {
		t.Errorf("mpv left after Close: %v", left)
	}
	notesMu.Lock()
	t.Logf("notes: %q", notes)
	notesMu.Unlock()

	// Goroutines wind down asynchronously (socket readers see EOF); poll.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > baseGoroutines; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), baseGoroutines, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond) // polling for a condition, with a deadline
	}
}

// demoCmd runs `watchium-tui demo` with only the tools in pathDir.
func demoCmd(t *testing.T, pathDir string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "demo", "--headless")
	cmd.Env = []string{"PATH=" + pathDir, "HOME=" + t.TempDir()}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("demo without its tools: %v: %s", err, out.String())
	}
	return out.String(), ee.ExitCode()
}

func TestDemoExplainsMissingTools(t *testing.T) {
	out, code := demoCmd(t, t.TempDir())
	if code == 0 || !strings.Contains(out, "mpv is not installed") || !strings.Contains(out, "apt-get install mpv") {
		t.Fatalf("without mpv: exit %d, output:\n%s", code, out)
	}
	mpv, err := exec.LookPath("mpv")
	if err != nil {
		return // the ffmpeg half needs an mpv to get that far
	}
	bin := t.TempDir()
	if err := os.Symlink(mpv, filepath.Join(bin, "mpv")); err != nil {
		t.Fatal(err)
	}
	out, code = demoCmd(t, bin)
	if code == 0 || !strings.Contains(out, "ffmpeg is not installed (apt-get install -y ffmpeg)") {
		t.Fatalf("without ffmpeg: exit %d, output:\n%s", code, out)
	}
}

func TestDemoHelp(t *testing.T) {
	stdout, stderr, code := run(t, "demo", "--help")
	if code != 0 {
		t.Fatalf("demo --help exited %d: %s", code, stderr)
	}
	for _, want := range []string{"watchium-tui demo --headless", "--name", "dave", "127.0.0.1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo --help lacks %q:\n%s", want, stdout)
		}
	}
}
