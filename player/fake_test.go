package player

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeMPV is the server end of a unix socket that replays mpv's lines, so
// protocol handling is tested without mpv.
type fakeMPV struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	sock string
}

func newFake(t *testing.T) (*MPV, *fakeMPV) {
	t.Helper()
	l, sock := listenFake(t)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	if srv == nil {
		t.Fatal("accept failed")
	}
	m := newMPV(c, nil)
	t.Cleanup(func() { m.Close(); srv.Close() })
	return m, &fakeMPV{t: t, conn: srv, r: bufio.NewReader(srv), sock: sock}
}

func listenFake(t *testing.T) (net.Listener, string) {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "fake")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, sock
}

// next reads one request the client sent.
func (f *fakeMPV) next() (int64, []any) {
	f.t.Helper()
	f.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := f.r.ReadBytes('\n')
	if err != nil {
		f.t.Fatalf("fake: reading request: %v", err)
	}
	var req struct {
		Command   []any `json:"command"`
		RequestID int64 `json:"request_id"`
	}
	if err := json.Unmarshal(line, &req); err != nil {
		f.t.Fatalf("fake: bad request %q: %v", line, err)
	}
	return req.RequestID, req.Command
}

func (f *fakeMPV) send(lines ...string) {
	f.t.Helper()
	if _, err := f.conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		f.t.Fatalf("fake: write: %v", err)
	}
}

type result struct {
	data json.RawMessage
	err  error
}

func callAsync(m *MPV, args ...any) chan result {
	ch := make(chan result, 1)
	go func() {
		d, err := m.Call(context.Background(), args...)
		ch <- result{d, err}
	}()
	return ch
}

func get(t *testing.T, ch chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("call did not return")
		return result{}
	}
}

func TestFakeProtocol(t *testing.T) {
	m, f := newFake(t)

	// Three calls in flight, answered in reverse order; one reply is larger
	// than bufio.Scanner's 64 KiB limit and one has no data at all.
	calls := map[string]chan result{}
	ids := map[string]int64{}
	for _, name := range []string{"a", "b", "big"} {
		calls[name] = callAsync(m, "get_property", name)
		id, cmd := f.next()
		ids[cmd[1].(string)] = id
	}
	big := strings.Repeat("x", 200<<10)
	f.send(
		fmt.Sprintf(`{"data":%q,"request_id":%d,"error":"success"}`, big, ids["big"]),
		fmt.Sprintf(`{"request_id":%d,"error":"success"}`, ids["b"]),
		fmt.Sprintf(`{"data":1.500000,"request_id":%d,"error":"success"}`, ids["a"]),
		`{"request_id":0,"error":"success"}`, // a reply to nobody is ignored
		`not json at all`,
	)
	if r := get(t, calls["a"]); r.err != nil || string(r.data) != "1.500000" {
		t.Errorf("a = %s, %v", r.data, r.err)
	}
	if r := get(t, calls["b"]); r.err != nil || r.data != nil {
		t.Errorf("b = %s, %v, want no data", r.data, r.err)
	}
	if r := get(t, calls["big"]); r.err != nil || len(r.data) != len(big)+2 {
		t.Errorf("big: %d bytes, %v", len(r.data), r.err)
	}

	// mpv's error strings.
	ch := callAsync(m, "get_property", "playback-time")
	id, _ := f.next()
	f.send(fmt.Sprintf(`{"request_id":%d,"error":"property unavailable"}`, id))
	if r := get(t, ch); !errors.Is(r.err, ErrUnavailable) {
		t.Errorf("unavailable: %v", r.err)
	}
	ch = callAsync(m, "frobnicate")
	id, _ = f.next()
	f.send(fmt.Sprintf(`{"request_id":%d,"error":"invalid parameter"}`, id))
	if r := get(t, ch); r.err == nil || !strings.Contains(r.err.Error(), "frobnicate: invalid parameter") {
		t.Errorf("invalid parameter: %v", r.err)
	}

	// Observed properties: the first value is state, not an event; a
	// property without data (unavailable) is ignored.
	f.send(
		`{"event":"property-change","id":1,"name":"pause"}`,
		`{"event":"property-change","id":1,"name":"pause","data":true}`,
		`{"event":"property-change","id":1,"name":"pause","data":false}`,
		`{"event":"property-change","id":3,"name":"playback-time","data":3.500000}`,
	)
	if ev := waitAny(t, m); ev.Kind != EventUnpaused || ev.Ours {
		t.Errorf("event = %+v, want the person's unpause", ev)
	}
	if ev := waitAny(t, m); ev.Kind != EventPosition || ev.Position != 3.5 || ev.At.IsZero() {
		t.Errorf("event = %+v, want position 3.5", ev)
	}

	// EOF with no shutdown event: the pending call fails, Done closes.
	ch = callAsync(m, "get_property", "pause")
	f.next()
	f.conn.Close()
	if r := get(t, ch); !errors.Is(r.err, ErrClosed) {
		t.Errorf("pending call at EOF: %v", r.err)
	}
	<-m.Done()
	if ev := waitAny(t, m); ev.Kind != EventShutdown {
		t.Errorf("last event = %v", ev.Kind)
	}
	if _, ok := <-m.Events(); ok {
		t.Error("events not closed after shutdown")
	}
	if _, err := m.Call(context.Background(), "get_property", "pause"); !errors.Is(err, ErrClosed) {
		t.Errorf("call after EOF: %v", err)
	}
}

func TestFakeSlowConsumer(t *testing.T) {
	m, f := newFake(t)
	var b strings.Builder
	n := eventBuffer * 3
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"event":"property-change","id":3,"name":"playback-time","data":%d.000000}`+"\n", i)
	}
	ch := callAsync(m, "get_property", "speed")
	id, _ := f.next()
	f.send(b.String() + fmt.Sprintf(`{"data":1.0,"request_id":%d,"error":"success"}`, id))
	if r := get(t, ch); r.err != nil {
		t.Fatal(r.err)
	}
	if m.Dropped() != uint64(n-eventBuffer) {
		t.Errorf("Dropped = %d, want %d", m.Dropped(), n-eventBuffer)
	}
	prev := 0.0
	for range eventBuffer {
		ev := waitAny(t, m)
		if ev.Position <= prev {
			t.Fatalf("out of order: %v after %v", ev.Position, prev)
		}
		prev = ev.Position
	}
	if prev != float64(n) {
		t.Errorf("newest kept event = %v, want %d", prev, n)
	}
}

func TestFakeSeekAttribution(t *testing.T) {
	m, f := newFake(t)
	f.send(`{"event":"property-change","id":1,"name":"pause","data":true}`)

	done := make(chan error, 1)
	go func() { done <- m.Seek(context.Background(), 10) }()
	id, cmd := f.next()
	if fmt.Sprint(cmd) != "[seek 10 absolute+exact]" {
		t.Errorf("sent %v", cmd)
	}
	f.send(fmt.Sprintf(`{"data":null,"request_id":%d,"error":"success"}`, id),
		`{"event":"seek"}`,
		`{"event":"property-change","id":3,"name":"playback-time","data":10.000000}`,
		`{"event":"property-change","id":5,"name":"seeking","data":true}`,
		`{"event":"playback-restart"}`)
	// The driver asks where the restart really landed.
	id, cmd = f.next()
	if fmt.Sprint(cmd) != "[get_property playback-time]" {
		t.Fatalf("after restart sent %v", cmd)
	}
	f.send(fmt.Sprintf(`{"data":10.008000,"request_id":%d,"error":"success"}`, id))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The jump to the target is not a frame step, so no EventPosition for
	// it; it announces the seek's target instead.
	if ev := waitAny(t, m); ev.Kind != EventSeekStarted || !ev.Ours || ev.Position != 10 {
		t.Errorf("event = %+v, want our seek starting for 10", ev)
	}
	if ev := waitAny(t, m); ev.Kind != EventSeeked || !ev.Ours || ev.Position != 10.008 {
		t.Errorf("event = %+v, want our seek at 10.008", ev)
	}

	// The person seeks: no command of ours is outstanding.
	f.send(`{"event":"seek"}`, `{"event":"playback-restart"}`)
	id, _ = f.next()
	f.send(fmt.Sprintf(`{"data":20.0,"request_id":%d,"error":"success"}`, id))
	if ev := waitAny(t, m); ev.Kind != EventSeeked || ev.Ours || ev.Position != 20 {
		t.Errorf("event = %+v, want the person's seek at 20", ev)
	}
}

func TestFakeTimeoutAndInvalid(t *testing.T) {
	m, f := newFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := m.Call(ctx, "get_property", "duration")
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "get_property duration") {
		t.Errorf("timeout: %v", err)
	}
	f.next()
	m.mu.Lock()
	if len(m.pending) != 0 {
		t.Errorf("timed-out call left %d pending", len(m.pending))
	}
	m.mu.Unlock()

	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1} {
		if err := m.Seek(ctx, v); !errors.Is(err, ErrInvalidTime) {
			t.Errorf("Seek(%v) = %v", v, err)
		}
	}
	if err := m.SeekRelative(ctx, math.NaN()); !errors.Is(err, ErrInvalidTime) {
		t.Errorf("SeekRelative(NaN) = %v", err)
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), 0, 0.001, 101} {
		if err := m.SetSpeed(ctx, v); err == nil {
			t.Errorf("SetSpeed(%v) accepted", v)
		}
	}
}

func TestExpectationsExpire(t *testing.T) {
	now := time.Now()
	s := []*expect{{val: 1, until: now.Add(-time.Millisecond)}, {val: 0, until: now.Add(time.Second)}}
	s, ours := matchExpect(s, 1, now)
	if ours || len(s) != 1 {
		t.Errorf("expired expectation matched: ours=%v left=%d", ours, len(s))
	}
	s, ours = matchExpect(s, 0, now)
	if !ours || len(s) != 0 {
		t.Errorf("live expectation: ours=%v left=%d", ours, len(s))
	}
}

func TestAttachNotMPV(t *testing.T) {
	l, sock := listenFake(t)
	go func() { // accepts and says nothing, like some other program's socket
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			c.Read(make([]byte, 1024))
			time.Sleep(time.Second)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Attach(ctx, sock)
	if err == nil || !strings.Contains(err.Error(), "does not answer like an mpv IPC socket") {
		t.Errorf("Attach to a silent socket: %v", err)
	}
}

func TestFakePositionAt(t *testing.T) {
	m, f := newFake(t)
	ch := callAsync(m, "get_property", "pause")
	id, _ := f.next()
	f.send(`{"event":"file-loaded"}`,
		`{"event":"property-change","id":1,"name":"idle-active","data":false}`,
		`{"event":"property-change","id":1,"name":"pause","data":true}`,
		`{"event":"property-change","id":3,"name":"playback-time","data":5.000000}`,
		fmt.Sprintf(`{"data":true,"request_id":%d,"error":"success"}`, id))
	get(t, ch)
	st := m.State()
	if got := st.PositionAt(st.PosAt.Add(time.Hour)); got != 5 {
		t.Errorf("paused: PositionAt = %v, want 5", got)
	}
	f.send(`{"event":"property-change","id":1,"name":"pause","data":false}`)
	ev := waitEvent(t, m, EventUnpaused)
	st = m.State()
	// Extrapolation starts at the unpause, not when 5.0 arrived.
	if !st.PosAt.Equal(ev.At) || st.PositionAt(ev.At.Add(500*time.Millisecond)) != 5.5 {
		t.Errorf("after unpause: %+v, PositionAt(+0.5 s) = %v", st, st.PositionAt(ev.At.Add(500*time.Millisecond)))
	}
}

func TestFakeBufferingIsReported(t *testing.T) {
	m, f := newFake(t)
	f.send(`{"event":"property-change","id":8,"name":"paused-for-cache","data":true}`,
		`{"event":"property-change","id":9,"name":"cache-buffering-state","data":43}`)
	if ev := waitAny(t, m); ev.Kind != EventBuffering {
		t.Fatalf("event = %+v, want buffering", ev)
	}
	if ev := waitAny(t, m); ev.Kind != EventBuffering || !m.State().Buffering || m.State().BufferPercent != 43 {
		t.Fatalf("event = %+v, state %+v", ev, m.State())
	}
	f.send(`{"event":"property-change","id":8,"name":"paused-for-cache","data":false}`)
	if ev := waitAny(t, m); ev.Kind != EventBuffering || m.State().Buffering {
		t.Fatalf("buffering did not end: %+v", m.State())
	}
}
