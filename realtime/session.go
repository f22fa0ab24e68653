package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/watchium/watchium-tui/phx"
)

// maxInbound bounds one inbound frame; larger ones end the connection.
const maxInbound = 8 << 20

type outFrame struct {
	data   []byte
	binary bool
}

// session is one WebSocket connection. Exactly one goroutine reads and one
// writes; everything else hands frames to the writer through out.
type session struct {
	c    *Client
	conn *websocket.Conn
	out  chan outFrame
	done chan struct{}

	closeOnce sync.Once
	errMu     sync.Mutex
	err       error

	hbMu   sync.Mutex
	hbRef  string
	hbSent time.Time
	hbWait chan time.Duration // answers a Ping
}

func newSession(c *Client, conn *websocket.Conn) *session {
	conn.SetReadLimit(maxInbound)
	return &session{c: c, conn: conn, out: make(chan outFrame, 1024), done: make(chan struct{})}
}

func (s *session) wait() error {
	<-s.done
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *session) close(code int, reason string) { s.fail(code, reason, nil) }

func (s *session) fail(code int, reason string, err error) {
	s.closeOnce.Do(func() {
		s.errMu.Lock()
		if err == nil {
			err = errors.New(reason)
		}
		s.err = err
		s.errMu.Unlock()
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		_ = s.conn.Close()
		close(s.done)
	})
}

func (s *session) send(f outFrame) bool {
	select {
	case s.out <- f:
		return true
	case <-s.done:
		return false
	}
}

func (s *session) writeLoop() {
	for {
		select {
		case f := <-s.out:
			kind := websocket.TextMessage
			if f.binary {
				kind = websocket.BinaryMessage
			}
			if s.c.opts.Debug {
				s.c.log.Info("realtime frame out", "frame", debugFrame(f))
			}
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.c.opts.Timeout))
			if err := s.conn.WriteMessage(kind, f.data); err != nil {
				s.fail(websocket.CloseAbnormalClosure, "write failed", fmt.Errorf("realtime: write: %w", err))
				return
			}
		case <-s.done:
			return
		}
	}
}

// accessTokenField matches the token in joins and access_token pushes:
// debug logs end up in bug reports, tokens must not.
var accessTokenField = regexp.MustCompile(`"access_token":"[^"]*"`)

func debugFrame(f outFrame) string {
	if f.binary {
		return fmt.Sprintf("binary %d bytes kind %d", len(f.data), f.data[0])
	}
	return accessTokenField.ReplaceAllString(string(f.data), `"access_token":"[redacted]"`)
}

func (s *session) readLoop() {
	for {
		kind, data, err := s.conn.ReadMessage()
		if err != nil {
			s.fail(websocket.CloseAbnormalClosure, "connection lost", fmt.Errorf("realtime: connection lost: %w", err))
			return
		}
		at := time.Now()
		var m phx.Message
		switch kind {
		case websocket.TextMessage:
			m, err = phx.DecodeText(data)
		case websocket.BinaryMessage:
			m, err = phx.DecodeBinary(data)
		}
		if s.c.opts.Debug {
			s.c.log.Info("realtime frame in", "frame", string(data))
		}
		if err != nil {
			// One bad frame must not cost the connection.
			s.c.log.Warn("realtime: dropping frame", "err", err)
			continue
		}
		if m.Topic == phx.TopicPhoenix {
			s.heartbeatReply(m, at)
			continue
		}
		// Backpressure (see callbackQueue): while this waits nothing is
		// read, heartbeat replies included, so a handler stuck for two
		// heartbeat intervals costs the connection (and a reconnect), never
		// unbounded memory.
		if !s.c.cb.waitRoom(s.done) {
			return
		}
		s.c.handle(m, at)
	}
}

// heartbeatLoop sends a heartbeat every interval; if the previous one has not
// been answered by then, the connection is presumed dead.
func (s *session) heartbeatLoop() {
	t := time.NewTicker(s.c.opts.Heartbeat)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-t.C:
			now := time.Now()
			// A tick far later than the interval means this process was
			// stopped (SIGSTOP, a laptop's sleep): the reply may be
			// waiting unread, so give it one more interval rather than
			// dropping a connection that may be fine.
			resumed := now.Sub(last) > s.c.opts.Heartbeat*3/2
			last = now
			s.hbMu.Lock()
			outstanding := s.hbRef != ""
			s.hbMu.Unlock()
			if outstanding && resumed {
				continue
			}
			if outstanding {
				s.fail(websocket.CloseNormalClosure, "heartbeat timeout", errors.New("realtime: heartbeat timeout"))
				return
			}
			s.sendHeartbeat(nil)
		case <-s.done:
			return
		}
	}
}

func (s *session) sendHeartbeat(wait chan time.Duration) {
	ref := s.c.nextRef()
	data, _ := phx.EncodeText(s.c.opts.VSN, phx.Message{Ref: ref, Topic: phx.TopicPhoenix, Event: phx.EventHeartbeat, Payload: json.RawMessage("{}")})
	s.hbMu.Lock()
	s.hbRef, s.hbSent, s.hbWait = ref, time.Now(), wait
	s.hbMu.Unlock()
	s.send(outFrame{data: data})
}

func (s *session) heartbeatReply(m phx.Message, at time.Time) {
	s.hbMu.Lock()
	defer s.hbMu.Unlock()
	if m.Event != phx.EventReply || m.Ref == "" || m.Ref != s.hbRef {
		return
	}
	rtt := at.Sub(s.hbSent)
	s.c.rtt.Store(int64(rtt))
	if s.hbWait != nil {
		s.hbWait <- rtt
	}
	s.hbRef, s.hbWait = "", nil
}

func (s *session) ping(ctx context.Context) (time.Duration, error) {
	wait := make(chan time.Duration, 1)
	s.sendHeartbeat(wait)
	select {
	case d := <-wait:
		return d, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: heartbeat reply", ErrTimeout)
	case <-s.done:
		return 0, errors.New("realtime: connection lost")
	}
}
