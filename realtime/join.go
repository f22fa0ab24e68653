package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/watchium/watchium-tui/phx"
)

// Subscribe joins the channel and waits for the first outcome: nil once
// SUBSCRIBED, the server's refusal, or a timeout. Whatever the outcome the
// channel keeps rejoining by itself (after reconnects and errors) until
// Unsubscribe.
func (ch *Channel) Subscribe(ctx context.Context) error {
	ctx, cancel := ch.c.withTimeout(ctx)
	defer cancel()
	wait := make(chan error, 1)
	ch.c.mu.Lock()
	if ch.c.ctx.Err() != nil {
		ch.c.mu.Unlock()
		return ErrClosed
	}
	if ch.state == chanJoined {
		ch.c.mu.Unlock()
		return nil
	}
	ch.subscribed = true
	ch.waiters = append(ch.waiters, wait)
	var f outFrame
	ok := false
	s := ch.c.sess
	if s != nil && ch.state != chanJoining {
		f, ok = ch.joinFrameLocked(s)
	} else if ch.state == chanClosed {
		ch.state = chanErrored // joins when the socket opens
	}
	ch.c.mu.Unlock()
	if ok {
		s.send(f)
	}
	select {
	case err := <-wait:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: joining %s", ErrTimeout, ch.topic)
	}
}

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.opts.Timeout)
}

// joinPayload is what realtime-js sends in phx_join.
func (ch *Channel) joinPayloadLocked() json.RawMessage {
	pcs := make([]PostgresChangesFilter, 0, len(ch.pg))
	for _, b := range ch.pg {
		pcs = append(pcs, b.filter)
	}
	p := map[string]any{
		"config": map[string]any{
			"broadcast":        ch.cfg.Broadcast,
			"presence":         ch.cfg.Presence,
			"postgres_changes": pcs,
			"private":          ch.cfg.Private,
		},
	}
	if ch.c.accessToken != "" {
		p["access_token"] = ch.c.accessToken
	}
	raw, _ := json.Marshal(p)
	return raw
}

// joinFrameLocked prepares a phx_join with a fresh join ref.
func (ch *Channel) joinFrameLocked(s *session) (outFrame, bool) {
	if !ch.subscribed {
		return outFrame{}, false
	}
	ch.stopTimersLocked()
	ref := ch.c.nextRef()
	ch.joinRef = ref
	ch.state = chanJoining
	ch.c.pending[ref] = &pendingReply{ch: ch, join: true, joinRef: ref}
	data, err := phx.EncodeText(ch.c.opts.VSN, phx.Message{JoinRef: ref, Ref: ref, Topic: ch.topic, Event: phx.EventJoin, Payload: ch.joinPayloadLocked()})
	if err != nil {
		return outFrame{}, false
	}
	ch.joinTimer = time.AfterFunc(ch.c.opts.Timeout, func() { ch.joinTimedOut(ref) })
	return outFrame{data: data}, true
}

func (ch *Channel) stopTimersLocked() {
	if ch.joinTimer != nil {
		ch.joinTimer.Stop()
		ch.joinTimer = nil
	}
	if ch.rejoinTimer != nil {
		ch.rejoinTimer.Stop()
		ch.rejoinTimer = nil
	}
}

func (ch *Channel) joinTimedOut(ref string) {
	c := ch.c
	c.mu.Lock()
	if ch.state != chanJoining || ch.joinRef != ref {
		c.mu.Unlock()
		return
	}
	delete(c.pending, ref)
	leave, _ := phx.EncodeText(c.opts.VSN, phx.Message{JoinRef: ref, Ref: c.nextRef(), Topic: ch.topic, Event: phx.EventLeave, Payload: json.RawMessage("{}")})
	err := fmt.Errorf("%w: joining %s", ErrTimeout, ch.topic)
	ch.errorLocked(StatusTimedOut, err)
	c.mu.Unlock()
	c.sendFrame(outFrame{data: leave})
}

// onJoinReply handles the server's answer to our phx_join.
func (ch *Channel) onJoinReplyLocked(m phx.Message) []outFrame {
	ch.stopTimersLocked()
	var r struct {
		Status   string          `json:"status"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(m.Payload, &r); err != nil || r.Status != "ok" {
		ch.errorLocked(StatusChannelError, &ReplyError{Topic: ch.topic, Response: r.Response})
		return nil
	}
	var resp struct {
		PG []struct {
			PostgresChangesFilter
			ID json.RawMessage `json:"id"`
		} `json:"postgres_changes"`
	}
	_ = json.Unmarshal(r.Response, &resp)
	if resp.PG != nil || len(ch.pg) > 0 {
		if len(resp.PG) != len(ch.pg) {
			return ch.bindingMismatchLocked()
		}
		for i, b := range ch.pg {
			got := resp.PG[i].PostgresChangesFilter
			if !strings.EqualFold(got.Event, b.filter.Event) || got.Schema != b.filter.Schema || got.Table != b.filter.Table || got.Filter != b.filter.Filter {
				return ch.bindingMismatchLocked()
			}
			b.id = resp.PG[i].ID
		}
	}
	ch.state = chanJoined
	ch.rejoinTry = 0
	ch.presence.pendingDiffs = nil
	ch.presence.joinRef = "" // state for this join not seen yet
	ch.notifyLocked(StatusSubscribed, nil)

	var frames []outFrame
	if ch.tracked != nil {
		frames = append(frames, ch.pushFrameLocked(&push{event: phx.EventPresence, payload: trackPayload(ch.tracked)}))
	}
	for _, p := range ch.outbox {
		frames = append(frames, ch.pushFrameLocked(p))
	}
	ch.outbox = nil
	return frames
}

func (ch *Channel) bindingMismatchLocked() []outFrame {
	leave, _ := phx.EncodeText(ch.c.opts.VSN, phx.Message{JoinRef: ch.joinRef, Ref: ch.c.nextRef(), Topic: ch.topic, Event: phx.EventLeave, Payload: json.RawMessage("{}")})
	ch.state = chanErrored
	ch.subscribed = false
	ch.notifyLocked(StatusChannelError, fmt.Errorf("realtime: mismatch between server and client bindings for postgres changes on %s", ch.topic))
	return []outFrame{{data: leave}}
}

// errorLocked reports a failed or lost subscription and schedules a rejoin.
func (ch *Channel) errorLocked(st Status, err error) {
	ch.state = chanErrored
	ch.notifyLocked(st, err)
	ch.scheduleRejoinLocked()
}

func (ch *Channel) notifyLocked(st Status, err error) {
	for _, w := range ch.waiters {
		w <- err
	}
	ch.waiters = nil
	for _, fn := range ch.statusFns {
		fn := fn
		ch.c.cb.push(func() { fn(st, err) })
	}
}

func (ch *Channel) scheduleRejoinLocked() {
	if !ch.subscribed || ch.c.ctx.Err() != nil {
		return
	}
	ch.rejoinTry++
	d := ch.c.backoff(ch.rejoinTry)
	if ch.rejoinTimer != nil {
		ch.rejoinTimer.Stop()
	}
	ch.rejoinTimer = time.AfterFunc(d, ch.rejoin)
}

func (ch *Channel) rejoin() {
	c := ch.c
	c.mu.Lock()
	s := c.sess
	if s == nil || ch.state != chanErrored {
		c.mu.Unlock()
		return // the socket's open will rejoin
	}
	f, ok := ch.joinFrameLocked(s)
	c.mu.Unlock()
	if ok {
		s.send(f)
	}
}

// connectionLostLocked is called when the socket drops.
func (ch *Channel) connectionLostLocked(err error) {
	if ch.state == chanClosed {
		return
	}
	ch.stopTimersLocked()
	ch.state = chanErrored
	ch.notifyLocked(StatusChannelError, fmt.Errorf("realtime: connection lost: %w", err))
}

func (ch *Channel) closeLocked(err error) {
	ch.stopTimersLocked()
	wasOpen := ch.state != chanClosed
	ch.state = chanClosed
	ch.subscribed = false
	// A Subscribe still waiting learns why it will never be subscribed;
	// notifyLocked below would tell it nil, which reads as success.
	for _, w := range ch.waiters {
		w <- err
	}
	ch.waiters = nil
	for _, p := range ch.outbox {
		if p.done != nil {
			p.done <- err
		}
	}
	ch.outbox = nil
	for ref, pr := range ch.c.pending {
		if pr.ch == ch {
			delete(ch.c.pending, ref)
			if pr.p != nil && pr.p.done != nil {
				pr.p.done <- err
			}
		}
	}
	if wasOpen {
		ch.notifyLocked(StatusClosed, nil)
	}
}

// Unsubscribe leaves the channel and removes it from the client.
func (ch *Channel) Unsubscribe(ctx context.Context) error {
	c := ch.c
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return ErrClosed
	}
	joined := ch.state == chanJoined
	joinRef := ch.joinRef
	ch.closeLocked(ErrUnsubscribed)
	delete(c.channels, ch.topic)
	s := c.sess
	if !joined || s == nil {
		c.mu.Unlock()
		return nil
	}
	ref := c.nextRef()
	p := &push{done: make(chan error, 1)}
	c.pending[ref] = &pendingReply{p: p}
	data, _ := phx.EncodeText(c.opts.VSN, phx.Message{JoinRef: joinRef, Ref: ref, Topic: ch.topic, Event: phx.EventLeave, Payload: json.RawMessage("{}")})
	c.mu.Unlock()
	s.send(outFrame{data: data})
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, ref)
		c.mu.Unlock()
		return fmt.Errorf("%w: leaving %s", ErrTimeout, ch.topic)
	}
}
