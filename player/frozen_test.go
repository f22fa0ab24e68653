package player

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// A frozen mpv (it stopped reading its socket) must not hang every later
// call: each one gives up by its own ctx. Before one writer owned the
// connection, the position query after a seek wrote with no deadline while
// holding the write lock, and every call after it waited forever.
func TestFrozenMPVDoesNotHangLaterCalls(t *testing.T) {
	client, srv := net.Pipe() // synchronous: a write blocks until read
	defer srv.Close()
	m := newMPV(client, nil)
	defer m.Close()

	// mpv says a seek finished; the client asks for the position it
	// landed on, and mpv never reads the question.
	go func() {
		_, _ = srv.Write([]byte(`{"event":"seek"}` + "\n" + `{"event":"playback-restart"}` + "\n"))
	}()
	// That query is now stuck in the pipe. Every later call must still
	// return on its own deadline.
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		errc := make(chan error, 1)
		go func() { _, err := m.Call(ctx, "get_property", "pause"); errc <- err }()
		select {
		case err := <-errc:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("call %d: want a deadline error, got %v", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("call %d did not return by its ctx: a frozen mpv hangs later calls", i)
		}
		cancel()
	}
}
