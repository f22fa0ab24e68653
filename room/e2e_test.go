package room_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/internal/testmedia"
	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/server"
)

var media string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "room-media")
	if err != nil {
		panic(err)
	}
	if _, err := exec.LookPath("mpv"); err == nil {
		media, err = testmedia.Make(dir, testmedia.Default)
		if err != nil {
			fmt.Fprintln(os.Stderr, "making test media:", err)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needMPV(t *testing.T) {
	t.Helper()
	if media != "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("mpv and ffmpeg are required in CI (.ci/run installs them)")
	}
	t.Skip("mpv or ffmpeg not installed")
}

// peer is one member: a realtime client, an mpv and a room.
type peer struct {
	t      *testing.T
	name   string
	client *realtime.Client
	mpv    *player.MPV
	room   *room.Room
	cancel context.CancelFunc
	done   chan struct{}
	events chan any
}

func startServer(t *testing.T) string {
	srv := server.New(server.Config{})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return hs.URL
}

func launch(t *testing.T) *player.MPV {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := player.Launch(ctx, media, player.Options{Headless: true, StartPaused: true})
	if err != nil {
		t.Fatalf("launch mpv: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func join(t *testing.T, url, name string, wantHost bool, m *player.MPV) *peer {
	t.Helper()
	if m == nil {
		m = launch(t)
	}
	return joinWith(t, url, name, wantHost, m, m)
}

func testLogger(t *testing.T, name string) *slog.Logger {
	if os.Getenv("ROOM_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("peer", name)
}

// countingPlayer records the seeks the room asks for.
type countingPlayer struct {
	*player.MPV
	seeks atomic.Int32
}

func (c *countingPlayer) Seek(ctx context.Context, s float64) error {
	c.seeks.Add(1)
	return c.MPV.Seek(ctx, s)
}

func joinWith(t *testing.T, url, name string, wantHost bool, m *player.MPV, rp room.Player) *peer {
	t.Helper()
	return joinConfig(t, url, room.Config{RoomID: "e2e", UserID: name, Username: name, WantHost: wantHost, HostGrace: 500 * time.Millisecond, Logger: testLogger(t, name)}, m, rp)
}

func joinConfig(t *testing.T, url string, cfg room.Config, m *player.MPV, rp room.Player) *peer {
	t.Helper()
	name := cfg.UserID
	c, err := realtime.NewClient(url, realtime.Options{Heartbeat: 2 * time.Second, Backoff: []time.Duration{100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := room.Join(ctx, c, cfg, rp)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	p := &peer{t: t, name: name, client: c, mpv: m, room: r, cancel: stop, done: make(chan struct{}), events: make(chan any, 4096)}
	go func() { _ = r.Run(runCtx); close(p.done) }()
	go func() {
		for ev := range r.Events() {
			select {
			case p.events <- ev:
			default: // tests only look at recent events
			}
		}
	}()
	t.Cleanup(p.leave)
	return p
}

func (p *peer) leave() {
	p.cancel()
	<-p.done
	_ = p.client.Close()
}

// eventually polls cond every 20 ms until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return time.Since(start)
		}
		last = detail
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s (%s)", d, what, last)
		}
	}
}

// offset is follower − host position in seconds, measured from the two
// players directly (not from the room's own estimate).
func offset(host, f *player.MPV) float64 {
	now := time.Now()
	return f.State().PositionAt(now) - host.State().PositionAt(now)
}

func snapshot(t *testing.T, p *peer) room.Snapshot {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := p.room.Snapshot(ctx)
	if err != nil {
		t.Fatalf("%s snapshot: %v", p.name, err)
	}
	return s
}

func hostOf(t *testing.T, p *peer) string { return snapshot(t, p).HostID }

func TestRoomEndToEnd(t *testing.T) {
	needMPV(t)
	url := startServer(t)
	host := join(t, url, "alice", true, nil)
	eventually(t, 10*time.Second, "alice hosts", func() (bool, string) { return hostOf(t, host) == "alice", hostOf(t, host) })
	followers := []*peer{join(t, url, "bob", false, nil), join(t, url, "carol", false, nil), join(t, url, "dave", false, nil)}
	for _, f := range followers {
		eventually(t, 10*time.Second, f.name+" sees alice as host", func() (bool, string) { h := hostOf(t, f); return h == "alice", h })
	}
	ctx := context.Background()

	// Play from the host's mpv (as the person would): followers start.
	if err := host.mpv.Play(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		eventually(t, 10*time.Second, f.name+" playing", func() (bool, string) {
			st := f.mpv.State()
			return !st.Paused, fmt.Sprintf("paused=%v", st.Paused)
		})
	}
	for _, f := range followers {
		eventually(t, 15*time.Second, f.name+" within 40 ms of the host", func() (bool, string) {
			o := offset(host.mpv, f.mpv)
			return math.Abs(o) < 0.04, fmt.Sprintf("offset %.1f ms", o*1000)
		})
	}

	// Seek on the host: followers jump there, and once all have landed the
	// room plays on together. Until then everyone, the host too, holds
	// paused at the target (wait for everyone), where a pause would change
	// nothing.
	if err := host.mpv.Seek(ctx, 40); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		eventually(t, 10*time.Second, f.name+" follows the seek and plays on", func() (bool, string) {
			o := offset(host.mpv, f.mpv)
			hp, fp := host.mpv.State().Paused, f.mpv.State().Paused
			return !hp && !fp && math.Abs(o) < 0.1, fmt.Sprintf("offset %.1f ms, host paused=%v, follower paused=%v", o*1000, hp, fp)
		})
	}

	// Pause: everyone rests on the host's exact frame.
	if err := host.mpv.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		eventually(t, 10*time.Second, f.name+" paused on the host's frame", func() (bool, string) {
			hs, fs := host.mpv.State(), f.mpv.State()
			return fs.Paused && !fs.Seeking && math.Abs(hs.Pos-fs.Pos) < 0.001, fmt.Sprintf("host %.3f follower %.3f paused=%v", hs.Pos, fs.Pos, fs.Paused)
		})
	}

	// A follower's own seek is detected and shown, then /sync fixes it.
	bob := followers[0]
	if _, err := bob.mpv.Call(ctx, "seek", 5, "absolute"); err != nil {
		t.Fatal(err)
	}
	// A raw Call is not one of the driver's own commands, so it counts as
	// the person's, like a key press in mpv.
	eventually(t, 10*time.Second, "bob shown as detached", func() (bool, string) {
		self, _ := snapshot(t, bob).Self()
		return self.Detached && !self.InSync, fmt.Sprintf("detached=%v pos=%.3f", self.Detached, bob.mpv.State().Pos)
	})
	eventually(t, 10*time.Second, "alice sees bob out of sync", func() (bool, string) {
		for _, m := range snapshot(t, host).Members {
			if m.UserID == "bob" {
				return m.Detached && !m.InSync, fmt.Sprintf("%+v", m)
			}
		}
		return false, "bob missing"
	})
	if err := bob.room.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "bob back on the host's frame", func() (bool, string) {
		hs, fs := host.mpv.State(), bob.mpv.State()
		return math.Abs(hs.Pos-fs.Pos) < 0.001, fmt.Sprintf("host %.3f bob %.3f", hs.Pos, fs.Pos)
	})

	// A late joiner while playing is in sync quickly.
	if err := host.mpv.Play(ctx); err != nil {
		t.Fatal(err)
	}
	late := join(t, url, "erin", false, nil)
	took := eventually(t, 15*time.Second, "late joiner in sync", func() (bool, string) {
		o := offset(host.mpv, late.mpv)
		return !late.mpv.State().Paused && math.Abs(o) < 0.04, fmt.Sprintf("offset %.1f ms", o*1000)
	})
	t.Logf("late joiner within 40 ms after %v", took)

	// The host leaves: the earliest-joined follower (bob) takes over, and
	// everyone agrees.
	host.leave()
	for _, p := range append(followers, late) {
		eventually(t, 15*time.Second, p.name+" sees bob as the new host", func() (bool, string) { h := hostOf(t, p); return h == "bob", h })
	}
	if err := bob.room.Pause(ctx); err != nil {
		t.Fatalf("new host pause: %v", err)
	}
	for _, p := range append(followers[1:], late) {
		eventually(t, 10*time.Second, p.name+" paused by the new host", func() (bool, string) {
			return p.mpv.State().Paused, ""
		})
	}
}

// A follower already playing 1.5 s behind seeks ahead once, holds, and
// starts with the host: no 20 s of speed nudging.
func TestFollowerBehindConvergesBySeekingAhead(t *testing.T) {
	needMPV(t)
	url := startServer(t)
	host := join(t, url, "alice", true, nil)
	eventually(t, 10*time.Second, "alice hosts", func() (bool, string) { return hostOf(t, host) == "alice", "" })
	ctx := context.Background()
	if err := host.mpv.Seek(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if err := host.mpv.Play(ctx); err != nil {
		t.Fatal(err)
	}
	// Bob's mpv already plays, 1.5 s behind the host, when he joins.
	m := launch(t)
	if err := m.Seek(ctx, host.mpv.State().PositionAt(time.Now())-1.5); err != nil {
		t.Fatal(err)
	}
	if err := m.Play(ctx); err != nil {
		t.Fatal(err)
	}
	if o := offset(host.mpv, m); math.Abs(o+1.5) > 0.2 {
		t.Fatalf("setup: bob starts %.3f s off, want about -1.5", o)
	}
	cp := &countingPlayer{MPV: m}
	joinWith(t, url, "bob", false, m, cp)
	took := eventually(t, 60*time.Second, "bob within 20 ms", func() (bool, string) {
		o := offset(host.mpv, m)
		return !m.State().Paused && math.Abs(o) < 0.02, fmt.Sprintf("offset %.1f ms, speed %.3f", o*1000, m.State().Speed)
	})
	if n := cp.seeks.Load(); n < 1 || n > seekAheadTriesForTest {
		t.Fatalf("the room seeked %d times to close a 1.5 s lag", n)
	}
	t.Logf("converged from -1.5 s in %v with %d seek(s)", took, cp.seeks.Load())
	eventually(t, 10*time.Second, "speed back to 1.0", func() (bool, string) {
		return m.State().Speed == 1, fmt.Sprint(m.State().Speed)
	})
}

// seekAheadTriesForTest mirrors the engine's bound on seeks per correction.
const seekAheadTriesForTest = 3
