// Package conformance runs the real @supabase/realtime-js against
// `watchium-tui serve`, with a Go client in the same room.
package conformance

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/realtime"
)

// need skips, or in CI fails, when a tool the test needs is missing.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing: .ci/run should have installed it", what)
	}
	t.Skipf("%s is missing (run .ci/run once to install it)", what)
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "watchium-tui")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/watchium/watchium-tui/cmd/watchium-tui")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type serveProc struct {
	t    *testing.T
	bin  string
	addr string
	data string
	cmd  *exec.Cmd
	// extra are more serve flags.
	extra []string
}

func (s *serveProc) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, append([]string{"serve", "--addr", s.addr, "--anon-key", "anon", "--data", s.data}, s.extra...)...)
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
	s.t.Fatalf("server did not come up on %s", s.addr)
}

// stop ends the server we started, by its pid.
func (s *serveProc) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestRealtimeJSConformance(t *testing.T) {
	_, nodeErr := exec.LookPath("node")
	need(t, nodeErr == nil, "node")
	_, modErr := os.Stat("node_modules/@supabase/realtime-js/package.json")
	need(t, modErr == nil, "test/conformance/node_modules (npm ci in test/conformance)")

	srv := &serveProc{t: t, bin: buildBinary(t), addr: freeAddr(t), data: t.TempDir()}
	srv.start()
	t.Cleanup(srv.stop)
	url := "http://" + srv.addr

	// The Go peer: tracks presence as "go", answers ping with pong.
	goc, err := realtime.NewClient(url, realtime.Options{APIKey: "anon", Heartbeat: time.Second, Backoff: []time.Duration{200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := goc.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer goc.Close()
	ch := goc.Channel("room:conformance", realtime.ChannelConfig{Presence: realtime.PresenceConfig{Key: "go"}, Broadcast: realtime.BroadcastConfig{Ack: true}})
	seen := make(chan string, 100)
	ch.OnBroadcast("ping", func(b realtime.Broadcast) {
		seen <- "ping"
		var p map[string]any
		_ = json.Unmarshal(b.Payload, &p)
		go func() {
			if err := ch.Send(ctx, "pong", p); err != nil {
				t.Errorf("go pong: %v", err)
			}
		}()
	})
	ch.OnBroadcast("hello", func(b realtime.Broadcast) {
		if string(b.Payload) == `{"n":1,"s":"wörld"}` {
			seen <- "hello"
		}
	})
	syncs := make(chan struct{}, 1000)
	ch.OnPresenceSync(func() { syncs <- struct{}{} })
	if err := ch.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ch.Track(ctx, map[string]any{"name": "go peer"}); err != nil {
		t.Fatal(err)
	}

	node := exec.CommandContext(ctx, "node", "conformance.mjs")
	node.Env = append(os.Environ(), "SERVER_URL="+url, "API_KEY=anon")
	node.Stderr = os.Stderr
	stdin, _ := node.StdinPipe()
	stdout, _ := node.StdoutPipe()
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	var steps []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Logf("node: %s", line)
		if line == "RESTART" {
			srv.stop()
			srv.start()
			fmt.Fprintln(stdin, "RESTARTED")
			continue
		}
		var s struct{ Step string }
		if json.Unmarshal([]byte(line), &s) == nil && s.Step != "" {
			steps = append(steps, s.Step)
		}
		if s.Step == "restart" {
			// The Go client came back by itself, with everyone's presence.
			if err := waitPresence(ch, syncs, "go", "js1", "js2"); err != nil {
				t.Error(err)
			}
			// Only now may js2 leave: the check raced its leave before.
			fmt.Fprintln(stdin, "CHECKED")
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	if err := node.Wait(); err != nil {
		t.Fatalf("realtime-js conformance failed after steps %v: %v", steps, err)
	}
	if got := strings.Join(steps, ","); got != "subscribed,presence,broadcast,go-roundtrip,http-broadcast,postgres-changes,restart,leave,done" {
		t.Fatalf("steps: %s", got)
	}
	// The Go side saw JS's binary broadcast and ping.
	got := map[string]bool{}
	for len(seen) > 0 {
		got[<-seen] = true
	}
	if !got["hello"] || !got["ping"] {
		t.Fatalf("go client missed JS broadcasts: %v", got)
	}
}

func waitPresence(ch *realtime.Channel, syncs <-chan struct{}, want ...string) error {
	// Generous: after a server restart every client reconnects and tracks
	// again, which on a loaded 2-core machine can take several seconds.
	deadline := time.After(30 * time.Second)
	for {
		st := ch.PresenceState()
		ok := true
		for _, k := range want {
			ok = ok && len(st[k]) == 1
		}
		if ok {
			return nil
		}
		select {
		case <-syncs:
		case <-deadline:
			return fmt.Errorf("presence %v not seen; have %v", want, keys(st))
		}
	}
}

func keys(m map[string][]realtime.Presence) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s×%d", k, len(v)))
	}
	return out
}
