package player

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"
)

// eventBuffer holds ~40 s of EventPosition at 25 fps before dropping.
const eventBuffer = 1024

// Properties observed on every connection; dispatch is by name, not id.
// mpv reports changes from one loop iteration in this order, so eof-reached
// precedes the pause that --keep-open makes at the end of the file.
var observed = []string{"eof-reached", "idle-active", "duration", "speed", "seeking", "pause", "playback-time",
	"paused-for-cache", "cache-buffering-state"}

type message struct {
	Event     string          `json:"event"`
	RequestID int64           `json:"request_id"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
	Name      string          `json:"name"`
	Reason    string          `json:"reason"`
	FileError string          `json:"file_error"`
}

type reply struct {
	data json.RawMessage
	err  error
	at   time.Time
}

type request struct {
	Command   []any `json:"command"`
	RequestID int64 `json:"request_id"`
}

// stampReader records when each Read returned, so every line gets the time
// its bytes arrived even when bufio hands out several lines from one read.
type stampReader struct {
	r  io.Reader
	at time.Time
}

func (s *stampReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.at = time.Now()
	return n, err
}

func newMPV(conn net.Conn, log *slog.Logger) *MPV {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &MPV{
		conn:    conn,
		log:     log,
		pending: make(map[int64]func(reply)),
		events:  make(chan Event, eventBuffer),
		done:    make(chan struct{}),
		out:     make(chan outLine),
	}
	m.st.Speed = 1
	go m.readLoop()
	go m.writeLoop()
	return m
}

// observe subscribes to the properties State and Events are built from.
func (m *MPV) observe(ctx context.Context) error {
	for i, name := range observed {
		if _, err := m.Call(ctx, "observe_property", i+1, name); err != nil {
			return err
		}
	}
	return nil
}

func (m *MPV) readLoop() {
	sr := &stampReader{r: m.conn}
	br := bufio.NewReaderSize(sr, 64<<10)
	var long []byte // only used for lines longer than the buffer
	var rerr error
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long, line...)
			continue
		}
		if err != nil {
			rerr = err
			break
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		m.handle(line, sr.at)
	}
	m.shutdown(rerr)
}

func (m *MPV) handle(line []byte, at time.Time) {
	var msg message
	if err := json.Unmarshal(line, &msg); err != nil {
		m.log.Debug("mpv: undecodable line", "line", truncate(string(line), 200), "err", err)
		return
	}
	if msg.Event == "" {
		m.mu.Lock()
		cb := m.pending[msg.RequestID]
		delete(m.pending, msg.RequestID)
		m.mu.Unlock()
		if cb == nil {
			return // id 0 (none sent) or a request that already gave up
		}
		r := reply{data: msg.Data, at: at}
		if msg.Error != "success" {
			r.err = mpvError(msg.Error)
		}
		cb(r)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if msg.Event == "property-change" {
		m.property(&msg, at)
	} else {
		m.event(&msg, at)
	}
}

// property runs with m.mu held.
func (m *MPV) property(msg *message, at time.Time) {
	d := msg.Data
	switch msg.Name {
	case "playback-time":
		v, ok := number(d)
		// playback-time exists only once a file is open (path is set
		// earlier, at start-file, when seeking still fails).
		m.hasTime = ok
		m.st.Loaded = ok && !m.idle
		if !ok {
			return
		}
		m.st.Pos, m.st.PosAt = v, at
		// During a seek mpv reports the target, not a shown frame; frame
		// steps resume once the post-restart position is known.
		if !m.burst.active && m.holdPos == 0 {
			m.emit(EventPosition, at, false)
		}
		if m.burst.active && !m.burst.announced {
			// The first report of a seek is its target: others can start
			// seeking there while this mpv still decodes.
			m.burst.announced = true
			m.emit(EventSeekStarted, at, m.burst.ours)
		}
	case "pause":
		v, ok := flag(d)
		if !ok {
			return
		}
		first := m.known&knownPause == 0
		changed := m.st.Paused != v
		m.known |= knownPause
		m.st.Paused = v
		if changed && !v {
			// The clock restarts now from the paused position; without this,
			// PositionAt would count the time spent paused.
			m.st.PosAt = at
		}
		var ours bool
		m.expPause, ours = matchExpect(m.expPause, b2f(v), at)
		if !first && changed {
			k := EventUnpaused
			if v {
				k = EventPaused
			}
			m.emit(k, at, ours)
		}
	case "speed":
		v, ok := number(d)
		if !ok {
			return
		}
		first := m.known&knownSpeed == 0
		changed := m.st.Speed != v
		m.known |= knownSpeed
		m.st.Speed = v
		var ours bool
		m.expSpeed, ours = matchExpect(m.expSpeed, v, at)
		if !first && changed {
			m.emit(EventSpeedChanged, at, ours)
		}
	case "duration":
		m.st.Duration, _ = number(d)
	case "seeking":
		m.st.Seeking, _ = flag(d)
	case "paused-for-cache":
		v, ok := flag(d)
		if ok && v != m.st.Buffering {
			m.st.Buffering = v
			m.emit(EventBuffering, at, false)
		}
	case "cache-buffering-state":
		if v, ok := number(d); ok {
			m.st.BufferPercent = int(v)
			if m.st.Buffering {
				m.emit(EventBuffering, at, false)
			}
		}
	case "eof-reached":
		v, _ := flag(d)
		if v && !m.eofSent && m.st.Loaded {
			m.eofSent = true
			m.emit(EventEndOfFile, at, false)
		} else if !v {
			m.eofSent = false
		}
	case "idle-active":
		m.idle, _ = flag(d)
		m.st.Loaded = m.hasTime && !m.idle
	}
}

// event runs with m.mu held.
func (m *MPV) event(msg *message, at time.Time) {
	switch msg.Event {
	case "start-file":
		// The old file's position no longer holds, and mpv may report the
		// new one only after the load's playback-restart.
		m.st.Pos, m.st.PosAt = 0, at
	case "file-loaded":
		m.st.Loaded, m.eofSent = true, false
		m.emit(EventFileLoaded, at, false)
	case "end-file":
		m.st.Loaded = false
		if msg.Reason == "error" && m.loadWait != nil {
			m.loadWait <- fmt.Errorf("mpv could not open the file: %s", msg.FileError)
			m.loadWait = nil
		}
		if (msg.Reason == "eof" || msg.Reason == "error") && !m.eofSent {
			m.eofSent = true
			m.emit(EventEndOfFile, at, false)
		}
	case "seek":
		m.burst.active = true
		for _, w := range m.seeks {
			if !w.sawSeek {
				w.sawSeek = true
				m.burst.ours = m.burst.ours || at.Sub(w.sent) < expectTTL
			}
		}
	case "playback-restart":
		if !m.burst.active {
			// The restart that follows loadfile, not a seek.
			if m.loadWait != nil {
				m.loadWait <- nil
				m.loadWait = nil
			}
			return
		}
		m.restarted(at)
	}
}

// restarted finishes a seek burst. The playback-time mpv reported so far is
// the seek target; the frame actually shown can differ (12.33 -> 12.328) and
// its property change can lag by ~50 ms while paused, so ask for it.
// Runs with m.mu held.
func (m *MPV) restarted(at time.Time) {
	ours := m.burst.ours
	m.burst.active, m.burst.ours, m.burst.announced = false, false, false
	var waiters []*seekWait
	rest := m.seeks[:0]
	for _, w := range m.seeks {
		if w.sawSeek {
			waiters = append(waiters, w)
		} else {
			rest = append(rest, w)
		}
	}
	m.seeks = rest
	if m.pending == nil {
		return
	}
	m.holdPos++
	id := m.nextID.Add(1)
	m.pending[id] = func(r reply) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.holdPos--
		if v, ok := number(r.data); ok && r.err == nil {
			m.st.Pos, m.st.PosAt = v, r.at
		}
		ev := m.emit(EventSeeked, at, ours)
		for _, w := range waiters {
			w.done <- ev
		}
	}
	// Not written from the reader: a blocked write must never stop replies.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
		defer cancel()
		if err := m.send(ctx, id, []any{"get_property", "playback-time"}); err != nil {
			m.log.Debug("mpv: position query after seek failed", "err", err)
		}
	}()
}

// emit queues an event without ever blocking: when the buffer is full the
// oldest event is dropped. Only the reader goroutine calls it.
func (m *MPV) emit(k EventKind, at time.Time, ours bool) Event {
	ev := Event{Kind: k, Position: m.st.Pos, Speed: m.st.Speed, At: at, Ours: ours}
	for {
		select {
		case m.events <- ev:
			return ev
		default:
		}
		select {
		case <-m.events:
			m.dropped.Add(1)
		default:
		}
	}
}

func (m *MPV) shutdown(rerr error) {
	m.mu.Lock()
	if m.err == nil {
		switch {
		case m.closing:
			m.err = fmt.Errorf("%w: Close was called", ErrClosed)
		case rerr == nil || errors.Is(rerr, io.EOF):
			m.err = fmt.Errorf("%w: mpv quit or was killed (its IPC connection closed)", ErrClosed)
		default:
			m.err = fmt.Errorf("%w: lost the connection to mpv: %v", ErrClosed, rerr)
		}
	}
	pending := m.pending
	m.pending = nil
	if m.loadWait != nil {
		m.loadWait <- m.err
		m.loadWait = nil
	}
	err := m.err
	m.mu.Unlock()
	m.conn.Close()
	for _, cb := range pending {
		cb(reply{err: err})
	}
	m.mu.Lock()
	m.emit(EventShutdown, time.Now(), m.closing)
	m.mu.Unlock()
	close(m.events)
	close(m.done)
}

func number(d json.RawMessage) (float64, bool) {
	if len(d) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(d), 64)
	return v, err == nil
}

func flag(d json.RawMessage) (bool, bool) {
	switch string(d) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
