package realtime

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// countingServer accepts sockets, reads until they close, and counts the
// ones open.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var open atomic.Int64
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		open.Add(1)
		defer open.Add(-1)
		defer c.Close()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &open
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
}

// A Close that lands after the dial succeeded but before the session
// opened used to be undone: openSession installed the session anyway and
// the closed client kept a live socket, its loops and its callback goroutine.
func TestCloseBetweenDialAndOpenIsFinal(t *testing.T) {
	srv, open := countingServer(t)
	c, err := NewClient(srv.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.afterDial = func() { _ = c.Close() }
	if err := c.Connect(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Connect after a Close during it: %v, want ErrClosed", err)
	}
	select {
	case <-c.cb.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the callback goroutine outlived Close")
	}
	waitUntil(t, "the server sees the socket closed", func() bool { return open.Load() == 0 })
	if st := c.State(); st != StateClosed {
		t.Fatalf("state %v after Close", st)
	}
}

// A Close during a dial used to leave the callback goroutine running (Close
// saw the client started and left the queue to the connection's owner, and
// Connect's failure path never closed it), and a Close during the upgrade
// handshake waited for the whole timeout: gorilla heeds ctx only until TCP
// connects.
func TestCloseDuringHandshakeEndsConnectAndCallbacks(t *testing.T) {
	arrived := make(chan struct{}, 1)
	// Accepts TCP, reads the upgrade request, never answers it.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Connect(context.Background()) }()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the dial never reached the server")
	}
	_ = c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Connect: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Connect did not return after Close (the handshake timeout is a minute)")
	}
	select {
	case <-c.cb.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the callback goroutine outlived Close")
	}
}

// The reader waits for room when maxQueued callbacks are queued, and only
// then: a full queue must never grow from inbound frames.
func TestCallbackQueueBackpressure(t *testing.T) {
	q := newCallbackQueue()
	defer q.close()
	release := make(chan struct{})
	running := make(chan struct{})
	q.push(func() { close(running); <-release })
	<-running
	cancelled := make(chan struct{})
	close(cancelled)
	for range maxQueued - 1 {
		if !q.waitRoom(cancelled) {
			t.Fatalf("no room with %d queued", q.len())
		}
		q.push(func() {})
	}
	if !q.waitRoom(cancelled) {
		t.Fatalf("no room with %d queued", q.len())
	}
	q.push(func() {})
	if q.waitRoom(cancelled) {
		t.Fatalf("room with %d queued, bound is %d", q.len(), maxQueued)
	}
	got := make(chan bool, 1)
	go func() { got <- q.waitRoom(make(chan struct{})) }()
	close(release)
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("waitRoom gave up")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waitRoom did not wake as the queue drained")
	}
}
