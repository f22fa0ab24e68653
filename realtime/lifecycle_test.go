package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/phx"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/server"
)

// waitGoroutines waits, with a deadline, until no more than base goroutines
// run: goleak's check without the dependency.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines still running, %d before:\n%s", n, base, buf)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
	}
}

// Close racing Connect, at every point of it: nothing may survive (no
// socket, loop or callback goroutine), and Close must stay final.
func TestStressCloseDuringConnect(t *testing.T) {
	ts := startServer(t, server.Config{})
	base := runtime.NumGoroutine()
	var connected, refused int
	for i := range 200 {
		c, err := realtime.NewClient(ts.url(), realtime.Options{Backoff: []time.Duration{time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		c.Channel("room:stress", realtime.ChannelConfig{})
		states := make(chan realtime.ConnState, 8)
		c.OnState(func(ev realtime.ConnEvent) {
			select {
			case states <- ev.State:
			default:
			}
		})
		done := make(chan error, 1)
		go func() { done <- c.Connect(context.Background()) }()
		// Spread the Close over the phases of Connect: before it starts,
		// while it dials, once it is open, and anywhere between.
		switch i % 4 {
		case 1:
			waitFor(t, states, "connecting")
		case 2:
			for st := waitFor(t, states, "open"); st != realtime.StateOpen && st != realtime.StateClosed; st = waitFor(t, states, "open") {
			}
		case 3:
			for range i % 13 {
				runtime.Gosched()
			}
		}
		_ = c.Close()
		switch err := <-done; {
		case err == nil:
			connected++
		case errors.Is(err, realtime.ErrClosed):
			refused++
		default:
			t.Fatalf("iteration %d: Connect: %v", i, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.Channel("room:stress", realtime.ChannelConfig{}).Subscribe(ctx); !errors.Is(err, realtime.ErrClosed) {
			t.Fatalf("iteration %d: Subscribe after Close: %v", i, err)
		}
		cancel()
	}
	t.Logf("Close came after Connect returned %d times, during it %d times", connected, refused)
	waitGoroutines(t, base)
}

// Pushes waiting for their ack when the socket drops are re-sent after the
// rejoin in the order they were first sent. They used to be re-sent in map
// order, so chat came back shuffled.
func TestUnackedPushesResentInOrder(t *testing.T) {
	const n = 40
	var mu sync.Mutex
	conns := map[*websocket.Conn]int{} // connection → its number
	var first []int                    // messages as the first connection got them
	var resent []int
	got := make(chan int, 2*n)
	allResent := make(chan struct{})
	s := newScriptedServer(t, func(c *websocket.Conn, m phx.Message) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := conns[c]; !ok {
			conns[c] = len(conns)
		}
		if m.Event != phx.EventBroadcast {
			reply(c, m, `{}`)
			return
		}
		var b struct {
			Payload struct {
				I int `json:"i"`
			} `json:"payload"`
		}
		_ = json.Unmarshal(m.Payload, &b)
		if conns[c] == 0 {
			// Never acknowledged: the socket drops once all are in.
			first = append(first, b.Payload.I)
			got <- b.Payload.I
			if len(first) == n {
				_ = c.Close()
			}
			return
		}
		resent = append(resent, b.Payload.I)
		reply(c, m, `{}`)
		if len(resent) == n {
			close(allResent)
		}
	})
	c := newClient(t, s.srv.URL, realtime.Options{})
	ch := c.Channel("room:order", realtime.ChannelConfig{Broadcast: realtime.BroadcastConfig{Ack: true}})
	subscribe(t, ch)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			errs <- ch.Send(ctx, "chat", map[string]int{"i": i})
		}()
		// The next message leaves only once the server has this one, so
		// the send order (and the refs) is 0, 1, 2…
		if v := waitFor(t, got, "message "+strconv.Itoa(i)); v != i {
			t.Fatalf("first connection got %d, want %d", v, i)
		}
	}
	waitFor(t, allResent, "every message re-sent after the reconnect")
	for range n {
		if err := waitFor(t, errs, "Send to return"); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range resent {
		if v != i {
			t.Fatalf("re-sent in the order %v, want 0…%d", resent, n-1)
		}
	}
}

// After Close every call returns an error at once, including one that was
// waiting when Close came (a pending Subscribe used to be told nil).
func TestEveryCallFailsAfterClose(t *testing.T) {
	joined := make(chan struct{}, 1)
	s := newScriptedServer(t, func(c *websocket.Conn, m phx.Message) {
		if m.Event == phx.EventJoin && m.Topic == "realtime:room:silent" {
			joined <- struct{}{} // and never answer
			return
		}
		reply(c, m, `{}`)
	})
	c := newClient(t, s.srv.URL, realtime.Options{Timeout: time.Minute})
	ok := c.Channel("room:ok", realtime.ChannelConfig{})
	subscribe(t, ok)
	silent := c.Channel("room:silent", realtime.ChannelConfig{})
	pending := make(chan error, 1)
	go func() { pending <- silent.Subscribe(context.Background()) }()
	waitFor(t, joined, "the join on the wire")
	_ = c.Close()
	if err := waitFor(t, pending, "the pending Subscribe"); !errors.Is(err, realtime.ErrClosed) {
		t.Fatalf("pending Subscribe: %v, want ErrClosed", err)
	}
	ctx := context.Background() // no deadline: only Close may end these
	calls := map[string]func() error{
		"Connect":     func() error { return c.Connect(ctx) },
		"Subscribe":   func() error { return ok.Subscribe(ctx) },
		"Send":        func() error { return ok.Send(ctx, "e", 1) },
		"Post":        func() error { return ok.Post("e", 1) },
		"Track":       func() error { return ok.Track(ctx, map[string]int{"a": 1}) },
		"Untrack":     func() error { return ok.Untrack(ctx) },
		"Unsubscribe": func() error { return ok.Unsubscribe(ctx) },
		"Ping":        func() error { _, err := c.Ping(ctx); return err },
	}
	for name, call := range calls {
		res := make(chan error, 1)
		go func() { res <- call() }()
		if err := waitFor(t, res, name+" after Close"); err == nil {
			t.Errorf("%s after Close succeeded", name)
		}
	}
}
