package player

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Requests to mpv: one writer goroutine owns the socket's write side,
// callers wait for their reply by request id and by their own ctx.

// Call sends a raw command (e.g. "get_property", "volume") and returns mpv's
// data. Without a deadline on ctx it waits at most 10 s.
func (m *MPV) Call(ctx context.Context, args ...any) (json.RawMessage, error) {
	if len(args) == 0 {
		return nil, errors.New("player: Call needs a command name")
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	what := describe(args)
	ch := make(chan reply, 1)
	id := m.nextID.Add(1)
	m.mu.Lock()
	if m.pending == nil {
		err := m.err
		m.mu.Unlock()
		return nil, err
	}
	m.pending[id] = func(r reply) { ch <- r }
	m.mu.Unlock()
	forget := func() {
		m.mu.Lock()
		if m.pending != nil {
			delete(m.pending, id)
		}
		m.mu.Unlock()
	}
	if err := m.send(ctx, id, args); err != nil {
		forget()
		if errors.Is(err, ErrClosed) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctxErr(ctx, what)
		}
		return nil, fmt.Errorf("mpv %s: writing to mpv: %w", what, err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			if errors.Is(r.err, ErrClosed) {
				return nil, r.err
			}
			return nil, fmt.Errorf("mpv %s: %w", what, r.err)
		}
		return r.data, nil
	case <-ctx.Done():
		forget()
		return nil, ctxErr(ctx, what)
	}
}

// outLine is one message for writeLoop; done (buffered) gets the result,
// which nobody may be waiting for any more.
type outLine struct {
	b    []byte
	done chan error
}

// writeStall is how long one write to mpv may block before mpv counts as
// frozen: it reads its IPC socket between frames even while paused or
// buffering, so seconds without reading is a hung process. The connection
// is then closed, and every call fails at once rather than one by one.
const writeStall = 10 * time.Second

// writeLoop is the only writer of the connection.
func (m *MPV) writeLoop() {
	for {
		select {
		case l := <-m.out:
			_ = m.conn.SetWriteDeadline(time.Now().Add(writeStall))
			n, err := m.conn.Write(l.b)
			if err != nil {
				m.log.Warn("mpv: writing a command failed; closing the connection", "err", err, "partial", n > 0)
				// Half a message may be on the wire, and nothing after it
				// would parse; or mpv stopped reading altogether.
				m.conn.Close()
			}
			l.done <- err
		case <-m.done:
			return
		}
	}
}

// send hands one message to writeLoop and waits for it to be written, or
// for ctx, whichever comes first.
func (m *MPV) send(ctx context.Context, id int64, args []any) error {
	b, err := json.Marshal(request{Command: args, RequestID: id})
	if err != nil {
		return fmt.Errorf("encoding command: %w", err)
	}
	l := outLine{b: append(b, '\n'), done: make(chan error, 1)}
	select {
	case m.out <- l:
	case <-m.done:
		return m.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-l.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func mpvError(s string) error {
	if s == "property unavailable" {
		return ErrUnavailable
	}
	if s == "" {
		s = "no error field in reply"
	}
	return errors.New(s)
}

func describe(args []any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = truncate(fmt.Sprint(a), 60)
	}
	return strings.Join(parts, " ")
}

// truncate shortens s for a log line, without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
