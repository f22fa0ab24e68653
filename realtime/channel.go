package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/watchium/watchium-tui/phx"
)

type chanState int

const (
	chanClosed chanState = iota
	chanJoining
	chanJoined
	chanErrored
	chanLeaving
)

// push is an outgoing channel message that may wait for its reply.
type push struct {
	event   string
	payload json.RawMessage
	done    chan error // nil when nobody waits for a reply
}

type pgBinding struct {
	filter PostgresChangesFilter
	id     json.RawMessage
	fn     func(PostgresChange)
}

// Channel is one topic on a Client: broadcast, presence and postgres_changes
// for `realtime:<name>`. All state lives under the client's lock; callbacks
// run on the client's callback goroutine, in arrival order.
type Channel struct {
	c     *Client
	name  string
	topic string
	cfg   ChannelConfig

	state        chanState
	joinRef      string
	subscribed   bool // Subscribe was called and Unsubscribe was not
	rejoinTry    int
	rejoinTimer  *time.Timer
	joinTimer    *time.Timer
	statusFns    []func(Status, error)
	broadcastFns map[string][]func(Broadcast)
	systemFns    []func(SystemMessage)
	pg           []*pgBinding
	presence     presenceState
	syncFns      []func()
	joinFns      []func(key string, current, joined []Presence)
	leaveFns     []func(key string, current, left []Presence)
	tracked      json.RawMessage
	outbox       []*push
	waiters      []chan error // Subscribe calls waiting for the first result
}

// Channel returns the channel for name (the topic is "realtime:"+name),
// creating it on first use; the same name returns the same channel.
func (c *Client) Channel(name string, cfg ChannelConfig) *Channel {
	topic := phx.TopicPrefix + name
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.channels[topic]; ok {
		return ch
	}
	ch := &Channel{c: c, name: name, topic: topic, cfg: cfg, broadcastFns: map[string][]func(Broadcast){}}
	c.channels[topic] = ch
	return ch
}

// Topic is the wire topic, "realtime:"+name.
func (ch *Channel) Topic() string { return ch.topic }

// OnBroadcast registers fn for broadcasts named event ("*" for all).
func (ch *Channel) OnBroadcast(event string, fn func(Broadcast)) *Channel {
	ch.c.mu.Lock()
	ch.broadcastFns[strings.ToLower(event)] = append(ch.broadcastFns[strings.ToLower(event)], fn)
	ch.c.mu.Unlock()
	return ch
}

// OnPresenceSync registers fn for presence sync (after every state or diff).
func (ch *Channel) OnPresenceSync(fn func()) *Channel {
	ch.c.mu.Lock()
	ch.syncFns = append(ch.syncFns, fn)
	ch.cfg.Presence.Enabled = true
	ch.c.mu.Unlock()
	return ch
}

// OnPresenceJoin registers fn for keys gaining metas.
func (ch *Channel) OnPresenceJoin(fn func(key string, current, joined []Presence)) *Channel {
	ch.c.mu.Lock()
	ch.joinFns = append(ch.joinFns, fn)
	ch.cfg.Presence.Enabled = true
	ch.c.mu.Unlock()
	return ch
}

// OnPresenceLeave registers fn for keys losing metas.
func (ch *Channel) OnPresenceLeave(fn func(key string, current, left []Presence)) *Channel {
	ch.c.mu.Lock()
	ch.leaveFns = append(ch.leaveFns, fn)
	ch.cfg.Presence.Enabled = true
	ch.c.mu.Unlock()
	return ch
}

// OnPostgresChanges registers fn for database changes matching filter. Call
// it before Subscribe: bindings travel in the join.
func (ch *Channel) OnPostgresChanges(filter PostgresChangesFilter, fn func(PostgresChange)) *Channel {
	if filter.Event == "" {
		filter.Event = "*"
	}
	ch.c.mu.Lock()
	ch.pg = append(ch.pg, &pgBinding{filter: filter, fn: fn})
	ch.c.mu.Unlock()
	return ch
}

// OnSystem registers fn for system messages.
func (ch *Channel) OnSystem(fn func(SystemMessage)) *Channel {
	ch.c.mu.Lock()
	ch.systemFns = append(ch.systemFns, fn)
	ch.c.mu.Unlock()
	return ch
}

// OnStatus registers fn for every subscription status change, including
// those of automatic rejoins.
func (ch *Channel) OnStatus(fn func(Status, error)) *Channel {
	ch.c.mu.Lock()
	ch.statusFns = append(ch.statusFns, fn)
	ch.c.mu.Unlock()
	return ch
}

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

// Unsubscribe leaves the channel and removes it from the client.
func (ch *Channel) Unsubscribe(ctx context.Context) error {
	c := ch.c
	c.mu.Lock()
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

// PresenceState returns the channel's presences by key, like realtime-js's
// presenceState().
func (ch *Channel) PresenceState() map[string][]Presence {
	ch.c.mu.Lock()
	defer ch.c.mu.Unlock()
	out := make(map[string][]Presence, len(ch.presence.state))
	for k, metas := range ch.presence.state {
		out[k] = append([]Presence(nil), metas...)
	}
	return out
}

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
