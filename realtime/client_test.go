package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/phx"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/server"
)

// testServer runs the embedded server on a loopback port that survives
// restarts, so reconnection can be tested against the same URL.
type testServer struct {
	t    *testing.T
	addr string
	srv  *server.Server
	hs   *http.Server
	cfg  server.Config
	done chan struct{}
}

func startServer(t *testing.T, cfg server.Config) *testServer {
	t.Helper()
	ts := &testServer{t: t, cfg: cfg}
	ts.start("127.0.0.1:0")
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start(addr string) {
	ts.t.Helper()
	var ln net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // port still in TIME_WAIT-ish state after a restart
	}
	if err != nil {
		ts.t.Fatalf("listen: %v", err)
	}
	ts.addr = ln.Addr().String()
	ts.srv = server.New(ts.cfg)
	ts.hs = &http.Server{Handler: ts.srv}
	ts.done = make(chan struct{})
	go func() { _ = ts.hs.Serve(ln); close(ts.done) }()
}

func (ts *testServer) stop() {
	if ts.hs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = ts.hs.Close()
	_ = ts.srv.Shutdown(ctx)
	<-ts.done
	ts.hs = nil
}

func (ts *testServer) restart() {
	ts.stop()
	ts.start(ts.addr)
}

func (ts *testServer) url() string { return "http://" + ts.addr }

func newClient(t *testing.T, url string, opts realtime.Options) *realtime.Client {
	t.Helper()
	if opts.Backoff == nil {
		opts.Backoff = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}
	}
	c, err := realtime.NewClient(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func subscribe(t *testing.T, ch *realtime.Channel) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ch.Subscribe(ctx); err != nil {
		t.Fatalf("subscribe %s: %v", ch.Topic(), err)
	}
}

func TestBroadcastSelfAndAck(t *testing.T) {
	for _, vsn := range []string{phx.VSN1, phx.VSN2} {
		t.Run(vsn, func(t *testing.T) {
			ts := startServer(t, server.Config{})
			a := newClient(t, ts.url(), realtime.Options{VSN: vsn})
			b := newClient(t, ts.url(), realtime.Options{VSN: vsn})
			chA := a.Channel("room:x", realtime.ChannelConfig{Broadcast: realtime.BroadcastConfig{Self: true, Ack: true}})
			chB := b.Channel("room:x", realtime.ChannelConfig{})
			gotA, gotB := make(chan realtime.Broadcast, 10), make(chan realtime.Broadcast, 10)
			chA.OnBroadcast("msg", func(m realtime.Broadcast) { gotA <- m })
			chB.OnBroadcast("*", func(m realtime.Broadcast) { gotB <- m })
			subscribe(t, chA)
			subscribe(t, chB)

			ctx := context.Background()
			if err := chA.Send(ctx, "msg", map[string]any{"n": 1}); err != nil {
				t.Fatalf("send with ack: %v", err)
			}
			for name, ch := range map[string]chan realtime.Broadcast{"self": gotA, "peer": gotB} {
				m := waitFor(t, ch, name+" broadcast")
				if m.Event != "msg" || string(m.Payload) != `{"n":1}` {
					t.Fatalf("%s got %+v", name, m)
				}
			}
			// self:false on B: B's message reaches A but not B.
			if err := chB.Send(ctx, "msg", map[string]any{"n": 2}); err != nil {
				t.Fatal(err)
			}
			if m := waitFor(t, gotA, "peer message"); string(m.Payload) != `{"n":2}` {
				t.Fatalf("A got %s", m.Payload)
			}
			// A marker sent after proves B saw nothing of its own.
			if err := chA.Send(ctx, "marker", map[string]any{}); err != nil {
				t.Fatal(err)
			}
			if m := waitFor(t, gotB, "marker"); m.Event != "marker" {
				t.Fatalf("B got its own message back: %+v", m)
			}
		})
	}
}

type presenceLog struct {
	mu     sync.Mutex
	syncs  chan struct{}
	joins  chan string
	leaves chan string
}

func watchPresence(ch *realtime.Channel) *presenceLog {
	l := &presenceLog{syncs: make(chan struct{}, 100), joins: make(chan string, 100), leaves: make(chan string, 100)}
	ch.OnPresenceSync(func() { l.syncs <- struct{}{} })
	ch.OnPresenceJoin(func(key string, _, _ []realtime.Presence) { l.joins <- key })
	ch.OnPresenceLeave(func(key string, _, _ []realtime.Presence) { l.leaves <- key })
	return l
}

func waitPresence(t *testing.T, ch *realtime.Channel, l *presenceLog, want func(map[string][]realtime.Presence) bool, what string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for !want(ch.PresenceState()) {
		select {
		case <-l.syncs:
		case <-deadline:
			t.Fatalf("timed out waiting for presence: %s; have %v", what, ch.PresenceState())
		}
	}
}

func TestPresenceJoinLeaveAndRestart(t *testing.T) {
	ts := startServer(t, server.Config{})
	a := newClient(t, ts.url(), realtime.Options{})
	b := newClient(t, ts.url(), realtime.Options{})
	chA := a.Channel("room:p", realtime.ChannelConfig{Presence: realtime.PresenceConfig{Key: "alice"}})
	chB := b.Channel("room:p", realtime.ChannelConfig{Presence: realtime.PresenceConfig{Key: "bob"}})
	la, lb := watchPresence(chA), watchPresence(chB)
	subscribe(t, chA)
	subscribe(t, chB)
	ctx := context.Background()
	if err := chA.Track(ctx, map[string]any{"name": "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := chB.Track(ctx, map[string]any{"name": "bob"}); err != nil {
		t.Fatal(err)
	}
	both := func(s map[string][]realtime.Presence) bool { return len(s["alice"]) == 1 && len(s["bob"]) == 1 }
	waitPresence(t, chA, la, both, "A sees both")
	waitPresence(t, chB, lb, both, "B sees both")
	var meta map[string]any
	_ = json.Unmarshal(chA.PresenceState()["bob"][0].Data, &meta)
	if meta["name"] != "bob" || meta["phx_ref"] == nil {
		t.Fatalf("bob's meta: %v", meta)
	}

	// A server restart: both come back and presence is restored by itself.
	states := make(chan realtime.ConnEvent, 100)
	a.OnState(func(ev realtime.ConnEvent) { states <- ev })
	ts.restart()
	for ev := waitFor(t, states, "reconnecting"); ev.State != realtime.StateReconnecting; ev = waitFor(t, states, "reconnecting") {
	}
	for ev := waitFor(t, states, "open"); ev.State != realtime.StateOpen; ev = waitFor(t, states, "open") {
	}
	waitPresence(t, chA, la, both, "A sees both after restart")
	waitPresence(t, chB, lb, both, "B sees both after restart")

	// B leaves: A sees the leave.
	if err := chB.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	waitPresence(t, chA, la, func(s map[string][]realtime.Presence) bool { return len(s["bob"]) == 0 && len(s["alice"]) == 1 }, "bob left")
}

func TestSendWhileDisconnectedIsBufferedAndDelivered(t *testing.T) {
	ts := startServer(t, server.Config{})
	a := newClient(t, ts.url(), realtime.Options{PushBuffer: 3, Backoff: []time.Duration{300 * time.Millisecond}})
	b := newClient(t, ts.url(), realtime.Options{})
	chA := a.Channel("room:buf", realtime.ChannelConfig{})
	chB := b.Channel("room:buf", realtime.ChannelConfig{})
	got := make(chan realtime.Broadcast, 10)
	chB.OnBroadcast("m", func(m realtime.Broadcast) { got <- m })
	errs := make(chan error, 10)
	chA.OnStatus(func(st realtime.Status, err error) {
		if st == realtime.StatusChannelError {
			errs <- err
		}
	})
	subscribe(t, chA)
	subscribe(t, chB)
	ts.restart()
	waitFor(t, errs, "A notices the drop")
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := chA.Send(ctx, "m", map[string]int{"i": i}); err != nil {
			t.Fatalf("buffered send %d: %v", i, err)
		}
	}
	if err := chA.Send(ctx, "m", map[string]int{"i": 3}); !errors.Is(err, realtime.ErrBufferFull) {
		t.Fatalf("4th send while disconnected: got %v, want ErrBufferFull", err)
	}
	for i := 0; i < 3; i++ {
		m := waitFor(t, got, "buffered message")
		var p struct{ I int }
		_ = json.Unmarshal(m.Payload, &p)
		if p.I != i {
			t.Fatalf("message %d arrived as %d", i, p.I)
		}
	}
}

func TestConnectRefusedAndWrongKey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, _ := realtime.NewClient("http://"+addr, realtime.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err == nil {
		t.Fatal("connect to a closed port succeeded")
	}
	ts := startServer(t, server.Config{AnonKey: "secret"})
	c, _ = realtime.NewClient(ts.url(), realtime.Options{APIKey: "wrong"})
	err = c.Connect(ctx)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong key: %v", err)
	}
	good := newClient(t, ts.url(), realtime.Options{APIKey: "secret"})
	subscribe(t, good.Channel("room:k", realtime.ChannelConfig{}))
}

func TestHeartbeatRTTAndPing(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := newClient(t, ts.url(), realtime.Options{Heartbeat: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rtt, err := c.Ping(ctx)
	if err != nil || rtt <= 0 {
		t.Fatalf("ping: %v %v", rtt, err)
	}
}
