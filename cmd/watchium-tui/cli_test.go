package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/server"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "watchium-cli")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "watchium-tui")
	// Sessions the commands under test sign in to stay in the temp dir,
	// never in the person's ~/.config.
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testServer(t *testing.T, cfg server.Config) string {
	t.Helper()
	srv := server.New(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return hs.URL
}

// run executes the binary with a clean environment and returns its output.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "WATCHIUM_NAME=tester"}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// startTail runs `tail` and returns a channel of its JSON lines.
func startTail(t *testing.T, url, roomID string) <-chan map[string]any {
	t.Helper()
	cmd := exec.Command(binary, "tail", roomID, "--server", url)
	out, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
		close(lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if cmd.ProcessState != nil && !cmd.ProcessState.Success() {
			t.Errorf("tail did not exit cleanly on SIGINT: %v %s", cmd.ProcessState, stderr.String())
		}
	})
	return lines
}

func TestSayAndTail(t *testing.T) {
	url := testServer(t, server.Config{})
	lines := startTail(t, url, "movie")
	// tail subscribes asynchronously; keep saying until it hears us.
	deadline := time.After(15 * time.Second)
	for i := 0; ; i++ {
		if _, stderr, code := run(t, "say", "movie", "hello", "there", "--server", url, "--name", "ana"); code != 0 {
			t.Fatalf("say exited %d: %s", code, stderr)
		}
		select {
		case m := <-lines:
			if m["type"] != "new_comment" || m["room_id"] != "movie" {
				t.Fatalf("unexpected line %v", m)
			}
			p := m["payload"].(map[string]any)
			if p["content"] != "hello there" || p["username"] != "ana" || p["id"] == "" {
				t.Fatalf("comment payload %v", p)
			}
			return
		case <-time.After(500 * time.Millisecond):
		case <-deadline:
			t.Fatal("tail never printed the message")
		}
	}
}

func TestSayUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, stderr, code := run(t, "say", "movie", "hi", "--server", "http://"+addr)
	if code == 0 || !strings.Contains(stderr, "nothing answers at") || !strings.Contains(stderr, "watchium-tui serve") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestWrongKeyIsExplained(t *testing.T) {
	url := testServer(t, server.Config{AnonKey: "right"})
	_, stderr, code := run(t, "say", "movie", "hi", "--server", url, "--key", "wrong")
	if code == 0 || !strings.Contains(stderr, "401") || !strings.Contains(stderr, "anon-key") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if _, stderr, code := run(t, "say", "movie", "hi", "--server", url, "--key", "right"); code != 0 {
		t.Fatalf("right key: %d %s", code, stderr)
	}
}

func TestMembersOfEmptyAndBusyRoom(t *testing.T) {
	url := testServer(t, server.Config{})
	out, stderr, code := run(t, "members", "empty", "--server", url)
	if code != 0 || !strings.Contains(out, "nobody is in room") {
		t.Fatalf("code %d out %q err %q", code, out, stderr)
	}
	out, _, code = run(t, "members", "empty", "--server", url, "--json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("json for empty room: %q", out)
	}

	// A headless member without mpv (chat only) hosts the room.
	join := exec.Command(binary, "join", "busy", "--headless", "--host", "--server", url, "--name", "ana")
	jout, _ := join.StdoutPipe()
	if err := join.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = join.Process.Signal(os.Interrupt)
		if err := join.Wait(); err != nil {
			t.Errorf("join did not exit cleanly on SIGINT: %v", err)
		}
	})
	sc := bufio.NewScanner(jout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "you are the host") {
			break
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _, _ = run(t, "members", "busy", "--server", url, "--json")
		var rows []map[string]any
		_ = json.Unmarshal([]byte(out), &rows)
		if len(rows) == 1 && rows[0]["username"] == "ana" && rows[0]["is_host"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("members never showed ana hosting: %s", out)
		}
	}
	out, _, _ = run(t, "members", "busy", "--server", url)
	if !strings.Contains(out, "ana") || !strings.Contains(out, "host") {
		t.Fatalf("table: %s", out)
	}
}

func TestBadFlagsAndArgs(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"say", "movie"}, "requires at least 2 arg"},
		{[]string{"join"}, "accepts 1 arg"},
		{[]string{"join", "movie", "--media", "a.mkv", "--mpv-socket", "/tmp/x"}, "none of the others can be"},
		{[]string{"say", "my movie", "hi"}, "has spaces"},
		{[]string{"join", "movie", "--nope"}, "unknown flag"},
		{[]string{"frobnicate"}, "unknown command"},
	}
	for _, c := range cases {
		_, stderr, code := run(t, c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: code %d, stderr %q, want it to mention %q", c.args, code, stderr, c.want)
		}
	}
	out, _, code := run(t, "--version")
	if code != 0 || !strings.Contains(out, version) {
		t.Errorf("--version: %q", out)
	}
	for _, sub := range []string{"join", "say", "tail", "members", "serve", "bench"} {
		out, _, code := run(t, sub, "--help")
		if code != 0 || !strings.Contains(out, "Usage:") || (sub != "bench" && !strings.Contains(out, "Examples:")) {
			t.Errorf("%s --help: code %d\n%s", sub, code, out)
		}
	}
}

func TestFlagsAfterPositionals(t *testing.T) {
	url := testServer(t, server.Config{})
	// gh/kubectl style: flags may follow the positional arguments.
	if _, stderr, code := run(t, "say", "movie", "hi", "--server", url, "--name", "ana"); code != 0 {
		t.Fatalf("%d %s", code, stderr)
	}
}
