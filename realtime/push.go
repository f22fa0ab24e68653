package realtime

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/watchium/watchium-tui/phx"
)

// push is an outgoing channel message that may wait for its reply.
type push struct {
	event   string
	payload json.RawMessage
	done    chan error // nil when nobody waits for a reply
}

// pushFrameLocked encodes p for the joined channel and registers its reply.
func (ch *Channel) pushFrameLocked(p *push) outFrame {
	ref := ch.c.nextRef()
	if p.done != nil {
		ch.c.pending[ref] = &pendingReply{ch: ch, p: p, joinRef: ch.joinRef}
	}
	data, _ := phx.EncodeText(ch.c.opts.VSN, phx.Message{JoinRef: ch.joinRef, Ref: ref, Topic: ch.topic, Event: p.event, Payload: p.payload})
	return outFrame{data: data}
}

// enqueue sends p now if the channel is joined, else buffers it for the
// rejoin. A full buffer is an error, never a silent drop.
func (ch *Channel) enqueue(p *push) error {
	c := ch.c
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return ErrClosed
	}
	if !ch.subscribed {
		c.mu.Unlock()
		return ErrNotJoined
	}
	s := c.sess
	if ch.state == chanJoined && s != nil {
		f := ch.pushFrameLocked(p)
		c.mu.Unlock()
		if !s.send(f) && p.done == nil {
			return fmt.Errorf("realtime: connection lost while sending on %s", ch.topic)
		}
		return nil
	}
	if len(ch.outbox) >= c.opts.PushBuffer {
		c.mu.Unlock()
		return fmt.Errorf("%w (%d messages waiting on %s)", ErrBufferFull, c.opts.PushBuffer, ch.topic)
	}
	ch.outbox = append(ch.outbox, p)
	c.mu.Unlock()
	return nil
}

// await waits for p's reply; on timeout p is withdrawn so it is not resent.
func (ch *Channel) await(ctx context.Context, p *push, what string) error {
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		ch.withdraw(p)
		return fmt.Errorf("%w: %s on %s", ErrTimeout, what, ch.topic)
	}
}

func (ch *Channel) withdraw(p *push) {
	c := ch.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, q := range ch.outbox {
		if q == p {
			ch.outbox = append(ch.outbox[:i], ch.outbox[i+1:]...)
			return
		}
	}
	for ref, pr := range c.pending {
		if pr.p == p {
			delete(c.pending, ref)
			return
		}
	}
}

// Send broadcasts payload as event on the channel. With broadcast ack
// configured it waits for the server's acknowledgement; otherwise it returns
// once the message is queued (sent, or buffered until the rejoin).
func (ch *Channel) Send(ctx context.Context, event string, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("realtime: payload for %q: %w", event, err)
	}
	p := &push{event: phx.EventBroadcast, payload: phx.BroadcastJSON(event, raw, nil)}
	if ch.cfg.Broadcast.Ack {
		p.done = make(chan error, 1)
	}
	ctx, cancel := ch.c.withTimeout(ctx)
	defer cancel()
	if err := ch.enqueue(p); err != nil {
		return err
	}
	if p.done == nil {
		return nil
	}
	return ch.await(ctx, p, "broadcast "+event)
}

// Post broadcasts payload as event without waiting for an acknowledgement,
// even on a channel configured with ack: for frequent messages whose value
// is in arriving fast, not in a round trip per message.
func (ch *Channel) Post(event string, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("realtime: payload for %q: %w", event, err)
	}
	return ch.enqueue(&push{event: phx.EventBroadcast, payload: phx.BroadcastJSON(event, raw, nil)})
}

func trackPayload(obj json.RawMessage) json.RawMessage {
	return json.RawMessage(`{"type":"presence","event":"track","payload":` + string(obj) + `}`)
}

// Track publishes obj as this client's presence; it is re-tracked by itself
// after every rejoin.
func (ch *Channel) Track(ctx context.Context, obj any) error {
	raw, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("realtime: presence payload: %w", err)
	}
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("realtime: presence payload must be a JSON object")
	}
	ch.c.mu.Lock()
	ch.tracked = raw
	ch.c.mu.Unlock()
	p := &push{event: phx.EventPresence, payload: trackPayload(raw), done: make(chan error, 1)}
	ctx, cancel := ch.c.withTimeout(ctx)
	defer cancel()
	if err := ch.enqueue(p); err != nil {
		return err
	}
	return ch.await(ctx, p, "presence track")
}

// Untrack removes this client's presence.
func (ch *Channel) Untrack(ctx context.Context) error {
	ch.c.mu.Lock()
	ch.tracked = nil
	ch.c.mu.Unlock()
	p := &push{event: phx.EventPresence, payload: json.RawMessage(`{"type":"presence","event":"untrack"}`), done: make(chan error, 1)}
	ctx, cancel := ch.c.withTimeout(ctx)
	defer cancel()
	if err := ch.enqueue(p); err != nil {
		return err
	}
	return ch.await(ctx, p, "presence untrack")
}

// SetAuth replaces the access token: joined channels are told at once and
// later joins carry it.
func (c *Client) SetAuth(token string) {
	c.mu.Lock()
	c.accessToken = token
	var frames []outFrame
	for _, ch := range c.channels {
		if ch.state == chanJoined {
			payload, _ := json.Marshal(map[string]string{"access_token": token})
			frames = append(frames, ch.pushFrameLocked(&push{event: phx.EventAccessToken, payload: payload}))
		}
	}
	c.mu.Unlock()
	for _, f := range frames {
		c.sendFrame(f)
	}
}
