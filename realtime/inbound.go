package realtime

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/watchium/watchium-tui/phx"
)

// handle routes one inbound message (reader goroutine).
func (c *Client) handle(m phx.Message, at time.Time) {
	var frames []outFrame
	c.mu.Lock()
	if m.Event == phx.EventReply {
		pr, ok := c.pending[m.Ref]
		if !ok {
			c.mu.Unlock()
			return
		}
		delete(c.pending, m.Ref)
		switch {
		case pr.join:
			if pr.ch.joinRef == pr.joinRef && pr.ch.state == chanJoining {
				frames = pr.ch.onJoinReplyLocked(m)
			}
		case pr.p != nil && pr.p.done != nil:
			var r struct {
				Status   string          `json:"status"`
				Response json.RawMessage `json:"response"`
			}
			_ = json.Unmarshal(m.Payload, &r)
			if r.Status == "ok" {
				pr.p.done <- nil
			} else {
				pr.p.done <- &ReplyError{Topic: m.Topic, Response: r.Response}
			}
		}
		c.mu.Unlock()
		c.sendAll(frames)
		return
	}
	ch, ok := c.channels[m.Topic]
	if !ok || ch.state == chanClosed {
		c.mu.Unlock()
		return
	}
	if m.JoinRef != "" && m.JoinRef != ch.joinRef {
		c.mu.Unlock()
		return // for an earlier join of this topic
	}
	switch m.Event {
	case phx.EventBroadcast:
		ch.broadcastLocked(m, at)
	case phx.EventPresenceSt:
		ch.presenceStateLocked(m)
	case phx.EventPresenceDif:
		ch.presenceDiffLocked(m)
	case phx.EventPGChanges:
		ch.postgresChangeLocked(m)
	case phx.EventSystem:
		var sm SystemMessage
		if json.Unmarshal(m.Payload, &sm) == nil {
			for _, fn := range ch.systemFns {
				fn := fn
				c.cb.push(func() { fn(sm) })
			}
		}
	case phx.EventError:
		if ch.state == chanJoined || ch.state == chanJoining {
			ch.stopTimersLocked()
			ch.errorLocked(StatusChannelError, fmt.Errorf("realtime: channel error on %s", ch.topic))
		}
	case phx.EventClose:
		if m.Ref == "" || m.Ref == ch.joinRef {
			ch.closeLocked(ErrUnsubscribed)
			delete(c.channels, ch.topic)
		}
	}
	c.mu.Unlock()
}

func (c *Client) sendAll(frames []outFrame) {
	for _, f := range frames {
		if !c.sendFrame(f) {
			return
		}
	}
}

func (ch *Channel) broadcastLocked(m phx.Message, at time.Time) {
	b := Broadcast{At: at, Meta: m.UserMeta}
	if m.Binary {
		b.Event = m.UserEvent
		if m.UserEnc == phx.EncodingJSON {
			b.Payload = m.UserPayload
		} else {
			b.Binary = m.UserPayload
		}
	} else {
		var p struct {
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
			Meta    json.RawMessage `json:"meta"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil || p.Event == "" {
			ch.c.log.Warn("realtime: broadcast without event", "topic", m.Topic)
			return
		}
		b.Event, b.Payload, b.Meta = p.Event, p.Payload, p.Meta
	}
	fns := append(append(([]func(Broadcast))(nil), ch.broadcastFns[strings.ToLower(b.Event)]...), ch.broadcastFns["*"]...)
	for _, fn := range fns {
		fn := fn
		ch.c.cb.push(func() { fn(b) })
	}
}
