package room

import (
	"context"
	"math"
	"net"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/server"
)

// loopServer is the embedded server on a fixed loopback port, so it can go
// away and come back at the same URL.
type loopServer struct {
	addr string
	stop func() error
}

func (s *loopServer) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // the port is released asynchronously
	}
	s.addr = ln.Addr().String()
	s.stop = server.New(server.Config{}).Start(ln)
}

func realMember(t *testing.T, url string, cfg Config) (*Room, *fakePlayer) {
	t.Helper()
	c, err := realtime.NewClient(url, realtime.Options{Backoff: []time.Duration{50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	p := newFakePlayer()
	r, err := Join(ctx, c, cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = r.Run(runCtx); close(done) }()
	go func() {
		for range r.Events() {
		}
	}()
	t.Cleanup(func() { stop(); <-done; c.Close() })
	return r, p
}

func TestSyncSurvivesServerRestart(t *testing.T) {
	s := &loopServer{addr: "127.0.0.1:0"}
	s.start(t)
	defer func() { _ = s.stop() }()
	url := "http://" + s.addr
	host, hp := realMember(t, url, fastConfig("alice", true))
	follower, fp := realMember(t, url, fastConfig("bob", false))
	hostOf := func(r *Room) func() bool {
		return func() bool { snap, _ := r.Snapshot(context.Background()); return snap.HostID == "alice" }
	}
	waitCond(t, "bob follows alice", hostOf(follower))

	_ = s.stop()
	waitCond(t, "both notice the server went away", func() bool {
		a, _ := host.Snapshot(context.Background())
		b, _ := follower.Snapshot(context.Background())
		return a.Conn.State == "reconnecting" && b.Conn.State == "reconnecting"
	})
	s.start(t)

	waitCond(t, "both reconnected", func() bool {
		a, _ := host.Snapshot(context.Background())
		b, _ := follower.Snapshot(context.Background())
		return a.Conn.State == "open" && b.Conn.State == "open" && len(a.Members) == 2 && len(b.Members) == 2
	})
	waitCond(t, "bob still follows alice", hostOf(follower))
	// The host pauses at 12.34 after the restart; bob rests there.
	hp.set(func(st *player.State) { st.Pos = 12.34 })
	hp.events <- playerEvent(eventPaused, 12.34)
	waitCond(t, "bob on alice's frame after the restart", func() bool {
		return math.Abs(fp.State().Pos-(12.34-0.0001)) < 1e-9
	})
}
