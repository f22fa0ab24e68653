package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/phx"
)

// A client's send queue may grow past sendQueue only while its writer keeps
// making progress: a burst (another member flooding before its rate limit
// trips, a presence storm) must not cost a reader that is keeping up its
// place. A genuinely slow reader is one whose queue stays full while nothing
// is written for stallAfter; it is evicted, as is any queue beyond the hard
// bounds, which cap the memory one reader can hold.
const (
	sendQueue     = 64
	stallAfter    = 2 * time.Second
	maxQueue      = 4096
	maxQueueBytes = 8 << 20
)

type frame struct {
	data   []byte
	binary bool
}

// conn is one client socket. readLoop reads; writeLoop writes, and runs
// only while there is something to write, so an idle connection costs one
// goroutine and no queue. subs is touched only by the reader goroutine.
type conn struct {
	s    *Server
	ws   *websocket.Conn
	vsn  string
	done chan struct{}
	once sync.Once

	qmu        sync.Mutex
	queue      []frame // waiting for the writer
	queueBytes int
	writing    bool         // a writeLoop is running
	progress   atomic.Int64 // unix ns of the writer's last completed write (or its start)

	// hmu serializes frame handling with the token-expiry timers, the
	// only other goroutines that touch subs.
	hmu    sync.Mutex
	subs   map[string]*subscription
	tokens float64
	last   time.Time
}

func newConn(s *Server, ws *websocket.Conn, vsn string) *conn {
	return &conn{
		s: s, ws: ws, vsn: vsn,
		done:   make(chan struct{}),
		subs:   map[string]*subscription{},
		tokens: float64(2 * s.cfg.EventsPerSecond),
		last:   time.Now(),
	}
}

func (c *conn) closeWith(code int, reason string) {
	c.once.Do(func() {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		close(c.done)
		_ = c.ws.Close()
	})
}

// enqueue hands a frame to the writer without ever blocking the caller (a
// fan-out must not wait for one slow reader); a client whose queue is full is
// disconnected and will rejoin.
func (c *conn) enqueue(f frame) {
	c.qmu.Lock()
	select {
	case <-c.done:
		c.qmu.Unlock()
		return
	default:
	}
	if c.tooSlowLocked(len(f.data)) {
		queued := len(c.queue) // read under qmu: the writer empties the queue
		c.qmu.Unlock()
		c.s.log.Warn("server: evicting slow client", "remote", c.ws.RemoteAddr().String(), "queued", queued)
		go c.closeWith(websocket.CloseTryAgainLater, "client too slow")
		return
	}
	c.queue = append(c.queue, f)
	c.queueBytes += len(f.data)
	start := !c.writing
	c.writing = true
	if start {
		c.progress.Store(time.Now().UnixNano())
	}
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// backedUp reports whether the client is not reading what it is sent.
func (c *conn) backedUp() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return len(c.queue) >= sendQueue/2
}

// tooSlowLocked decides whether adding n bytes to the queue evicts the
// client (see sendQueue).
func (c *conn) tooSlowLocked(n int) bool {
	if len(c.queue) >= maxQueue || c.queueBytes+n > maxQueueBytes {
		return true
	}
	if len(c.queue) < sendQueue {
		return false
	}
	return time.Since(time.Unix(0, c.progress.Load())) > stallAfter
}

// writeLoop writes what is queued, batch by batch, and exits when the queue
// is empty; enqueue starts it again.
func (c *conn) writeLoop() {
	for {
		c.qmu.Lock()
		batch := c.queue
		c.queue = nil
		c.queueBytes = 0
		if len(batch) == 0 {
			c.writing = false
			c.qmu.Unlock()
			return
		}
		c.qmu.Unlock()
		for _, f := range batch {
			select {
			case <-c.done:
				return // writing stays true: no writer starts after close
			default:
			}
			kind := websocket.TextMessage
			if f.binary {
				kind = websocket.BinaryMessage
			}
			_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.ws.WriteMessage(kind, f.data); err != nil {
				c.closeWith(websocket.CloseAbnormalClosure, "write failed")
				return
			}
			c.progress.Store(time.Now().UnixNano())
		}
	}
}

func (c *conn) readLoop() {
	defer func() {
		c.closeWith(websocket.CloseNormalClosure, "")
		c.hmu.Lock()
		for _, sub := range c.subs {
			c.leave(sub)
		}
		c.hmu.Unlock()
		c.s.removeConn(c)
	}()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
		kind, data, err := c.readFrame()
		if errors.Is(err, errFrameTooBig) {
			c.s.log.Warn("server: frame over limit", "limit", c.s.cfg.MaxFrameBytes)
			c.closeTooBig()
			return
		}
		if err != nil {
			return
		}
		c.handleFrame(kind, data)
	}
}

var errFrameTooBig = errors.New("frame over the limit")

// readFrame reads one message, refusing any over MaxFrameBytes. The limit is
// ours rather than gorilla's so the close can say why (gorilla's 1009 has
// no reason).
func (c *conn) readFrame() (int, []byte, error) {
	kind, rd, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	limit := c.s.cfg.MaxFrameBytes
	data, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return 0, nil, err
	}
	if int64(len(data)) > limit {
		return 0, nil, errFrameTooBig
	}
	return kind, data, nil
}

// closeTooBig closes with 1009 and a reason, then lingers reading (and
// dropping) what the client still sends, so the close frame reaches it
// instead of a reset from closing a socket with unread data.
func (c *conn) closeTooBig() {
	c.once.Do(func() {
		msg := fmt.Sprintf("frame too large: the limit is %d bytes", c.s.cfg.MaxFrameBytes)
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, msg), time.Now().Add(time.Second))
		close(c.done)
		_ = c.ws.SetReadDeadline(time.Now().Add(closeLinger))
		for {
			_, rd, err := c.ws.NextReader()
			if err != nil {
				break
			}
			if _, err := io.Copy(io.Discard, rd); err != nil {
				break
			}
		}
		_ = c.ws.Close()
	})
}

// closeLinger bounds how long a connection closed for a too-large frame
// keeps draining the client's data.
const closeLinger = 2 * time.Second

// handleFrame decodes and handles one frame. It is kept out of readLoop so
// that readLoop's own stack frame stays small: an idle connection, parked
// in ReadMessage, then uses little enough of its stack for the GC to shrink
// it back to 4 KiB after a join or reply grew it to 8 KiB.
//
//go:noinline
func (c *conn) handleFrame(kind int, data []byte) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	var m phx.Message
	var err error
	if kind == websocket.BinaryMessage {
		m, err = phx.DecodeBinary(data)
	} else {
		m, err = phx.DecodeText(data)
	}
	if err != nil {
		// Nothing to correlate a reply with; say so on the phoenix
		// topic, which clients ignore unless a ref matches.
		c.reply(phx.Message{Topic: "phoenix"}, "error", map[string]string{"reason": err.Error()})
		return
	}
	c.handle(m)
}

func (c *conn) write(m phx.Message) {
	data, err := phx.EncodeText(c.vsn, m)
	if err != nil {
		return
	}
	c.enqueue(frame{data: data})
}

func (c *conn) reply(m phx.Message, status string, response any) {
	raw, _ := json.Marshal(map[string]any{"status": status, "response": response})
	c.write(phx.Message{JoinRef: m.JoinRef, Ref: m.Ref, Topic: m.Topic, Event: phx.EventReply, Payload: raw})
}

// allow spends one event from the connection's token bucket.
func (c *conn) allow() bool {
	now := time.Now()
	rate := float64(c.s.cfg.EventsPerSecond)
	c.tokens = min(2*rate, c.tokens+now.Sub(c.last).Seconds()*rate)
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

func (c *conn) handle(m phx.Message) {
	if m.Topic == "phoenix" {
		if m.Event == phx.EventHeartbeat {
			c.reply(m, "ok", struct{}{})
		} else {
			c.reply(m, "error", map[string]string{"reason": "unknown event on phoenix: " + m.Event})
		}
		return
	}
	if m.Event == phx.EventJoin {
		c.join(m)
		return
	}
	sub := c.subs[m.Topic]
	if sub == nil {
		if (m.Event == phx.EventBroadcast || m.Event == phx.EventPresence) && c.backedUp() {
			// A client still flooding a channel that was closed for it,
			// without reading: an error per frame would only fill its own
			// queue until it is evicted, and bury the system message.
			return
		}
		if m.Event != phx.EventLeave {
			c.reply(m, "error", map[string]string{"reason": "unmatched topic: join " + m.Topic + " first"})
		} else {
			c.reply(m, "ok", struct{}{})
		}
		return
	}
	switch m.Event {
	case phx.EventLeave:
		c.leave(sub)
		c.reply(m, "ok", struct{}{})
		c.write(phx.Message{JoinRef: sub.joinRef, Ref: sub.joinRef, Topic: m.Topic, Event: phx.EventClose, Payload: json.RawMessage("{}")})
	case phx.EventBroadcast:
		if !c.allow() {
			c.rateLimited(sub, "Too many messages per second")
			return
		}
		if !sub.room.allow(c.s.cfg.RoomEventsPerSecond) {
			c.reply(m, "error", map[string]string{"reason": "RoomRateLimited: too many messages per second in this room"})
			return
		}
		c.broadcast(sub, m)
	case phx.EventPresence:
		if !c.allow() {
			c.rateLimited(sub, "Too many presence messages per second")
			return
		}
		if !sub.room.allow(c.s.cfg.RoomEventsPerSecond) {
			c.reply(m, "error", map[string]string{"reason": "RoomRateLimited: too many messages per second in this room"})
			return
		}
		c.presence(sub, m)
	case phx.EventAccessToken:
		c.accessToken(sub, m)
	default:
		c.reply(m, "error", map[string]string{"reason": "unknown event " + m.Event})
	}
}

func (c *conn) system(sub *subscription, status, msg string) {
	raw, _ := json.Marshal(map[string]string{"extension": "system", "status": status, "message": msg, "channel": strings.TrimPrefix(sub.topic, "realtime:")})
	c.write(phx.Message{JoinRef: sub.joinRef, Topic: sub.topic, Event: phx.EventSystem, Payload: raw})
}

// rateLimited does what Supabase does: a system error, then the channel is
// closed for this client.
func (c *conn) rateLimited(sub *subscription, msg string) {
	c.system(sub, "error", msg)
	c.leave(sub)
	c.write(phx.Message{JoinRef: sub.joinRef, Ref: sub.joinRef, Topic: sub.topic, Event: phx.EventClose, Payload: json.RawMessage("{}")})
}
