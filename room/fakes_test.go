package room

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/realtime"
)

// fakeBus is an in-memory channel: what one member posts, the others get.
type fakeBus struct {
	mu       sync.Mutex
	members  map[string]*fakeChannel
	presence map[string]json.RawMessage
	tracks   int                  // every track gets its own phx_ref
	refs     map[string]string    // key → ref of its latest track
	sent     []realtime.Broadcast // everything posted, in order
}

func newFakeBus() *fakeBus {
	return &fakeBus{members: map[string]*fakeChannel{}, presence: map[string]json.RawMessage{}, refs: map[string]string{}}
}

type fakeChannel struct {
	bus  *fakeBus
	id   string
	room *Room
	// outbox keeps a member's posts in order, as a real socket does: each
	// is delivered off the poster's goroutine, by one drainer at a time.
	outMu    sync.Mutex
	outbox   []realtime.Broadcast
	draining bool
}

func (b *fakeBus) channel(id string) *fakeChannel {
	ch := &fakeChannel{bus: b, id: id}
	b.mu.Lock()
	b.members[id] = ch
	b.mu.Unlock()
	return ch
}

func (b *fakeBus) channelOf(id string) *fakeChannel {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.members[id]
}

func (b *fakeBus) deliver(from string, m realtime.Broadcast) {
	b.mu.Lock()
	b.sent = append(b.sent, m)
	var to []*Room
	for id, ch := range b.members {
		if id != from && ch.room != nil {
			to = append(to, ch.room)
		}
	}
	b.mu.Unlock()
	for _, r := range to {
		r.HandleBroadcast(m)
	}
}

// inject delivers a raw broadcast to everyone, as if from a foreign client.
func (b *fakeBus) inject(event string, payload any) {
	raw, _ := json.Marshal(payload)
	b.deliver("", realtime.Broadcast{Event: event, Payload: raw, At: time.Now()})
}

func (b *fakeBus) syncAll() {
	b.mu.Lock()
	var rs []*Room
	for _, ch := range b.members {
		if ch.room != nil {
			rs = append(rs, ch.room)
		}
	}
	b.mu.Unlock()
	for _, r := range rs {
		r.HandlePresenceSync()
	}
}

func (b *fakeBus) leave(id string) {
	b.mu.Lock()
	delete(b.members, id)
	delete(b.presence, id)
	b.mu.Unlock()
	b.syncAll()
}

func (b *fakeBus) sentOfType(typ string) []Envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Envelope
	for _, m := range b.sent {
		if m.Event == typ {
			var env Envelope
			_ = json.Unmarshal(m.Payload, &env)
			out = append(out, env)
		}
	}
	return out
}

func (c *fakeChannel) Send(_ context.Context, event string, payload any) error {
	return c.Post(event, payload)
}

func (c *fakeChannel) Post(event string, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	c.outbox = append(c.outbox, realtime.Broadcast{Event: event, Payload: raw, At: time.Now()})
	if !c.draining {
		c.draining = true
		go c.drain()
	}
	return nil
}

// idle reports whether everything c posted so far has been delivered.
func (c *fakeChannel) idle() bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return !c.draining
}

func (c *fakeChannel) drain() {
	for {
		c.outMu.Lock()
		if len(c.outbox) == 0 {
			c.draining = false
			c.outMu.Unlock()
			return
		}
		m := c.outbox[0]
		c.outbox = c.outbox[1:]
		c.outMu.Unlock()
		c.bus.deliver(c.id, m)
	}
}

func (c *fakeChannel) Track(_ context.Context, meta any) error {
	raw, _ := json.Marshal(meta)
	c.bus.setPresence(c.id, raw)
	c.bus.syncAll()
	return nil
}

func (c *fakeChannel) PresenceState() map[string][]realtime.Presence {
	c.bus.mu.Lock()
	defer c.bus.mu.Unlock()
	out := map[string][]realtime.Presence{}
	for k, v := range c.bus.presence {
		out[k] = []realtime.Presence{{Ref: c.bus.refs[k], Data: v}}
	}
	return out
}

// fakePlayer is a player that does what it is told at once.
type fakePlayer struct {
	media    player.MediaInfo
	mu       sync.Mutex
	st       player.State
	events   chan player.Event
	calls    []string
	seekGate chan struct{}
	// landAfter: an exact seek lands on the first frame at or after the
	// target, as mpv's does, this far after it.
	landAfter float64
}

func newFakePlayer() *fakePlayer {
	return &fakePlayer{st: player.State{Loaded: true, Paused: true, Speed: 1, Duration: 600}, events: make(chan player.Event, 100),
		media: player.MediaInfo{Filename: "movie.mkv", Duration: 600}}
}

func (p *fakePlayer) record(c string) {
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.mu.Unlock()
}

func (p *fakePlayer) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

func (p *fakePlayer) set(fn func(*player.State)) {
	p.mu.Lock()
	fn(&p.st)
	p.st.PosAt = time.Now()
	p.mu.Unlock()
}

func (p *fakePlayer) Play(context.Context) error {
	p.record("play")
	p.set(func(s *player.State) { s.Paused = false })
	p.events <- player.Event{Kind: player.EventUnpaused, Position: p.State().Pos, Speed: 1, At: time.Now(), Ours: true}
	return nil
}

func (p *fakePlayer) Pause(context.Context) error {
	p.record("pause")
	p.set(func(s *player.State) { s.Paused = true })
	p.events <- player.Event{Kind: player.EventPaused, Position: p.State().Pos, Speed: 1, At: time.Now(), Ours: true}
	return nil
}

func (p *fakePlayer) Seek(ctx context.Context, t float64) error {
	p.record("seek")
	p.events <- player.Event{Kind: player.EventSeekStarted, Position: t, Speed: 1, At: time.Now(), Ours: true}
	p.mu.Lock()
	gate := p.seekGate
	p.mu.Unlock()
	if gate != nil {
		// A slow player: the seek lands when the test says so.
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	t += p.landAfter
	p.mu.Unlock()
	p.set(func(s *player.State) { s.Pos = t })
	p.events <- player.Event{Kind: player.EventSeeked, Position: t, Speed: 1, At: time.Now(), Ours: true}
	return nil
}

// slowSeeks makes seeks wait until the returned func is called.
func (p *fakePlayer) slowSeeks() (land func()) {
	gate := make(chan struct{})
	p.mu.Lock()
	p.seekGate = gate
	p.mu.Unlock()
	return func() { close(gate) }
}

func (p *fakePlayer) SeekRelative(ctx context.Context, d float64) error {
	return p.Seek(ctx, p.State().Pos+d)
}

func (p *fakePlayer) SetSpeed(_ context.Context, s float64) error {
	p.record("speed")
	p.set(func(st *player.State) { st.Speed = s })
	return nil
}

func (p *fakePlayer) ShowText(context.Context, string, time.Duration) error { return nil }

func (p *fakePlayer) Media(context.Context) (player.MediaInfo, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.media, nil
}

func (p *fakePlayer) LoadFile(_ context.Context, path string, paused bool) error {
	p.record("load " + filepath.Base(path))
	p.mu.Lock()
	p.media = player.MediaInfo{Filename: filepath.Base(path), Duration: 600}
	p.mu.Unlock()
	p.set(func(s *player.State) { s.Pos, s.Paused, s.Loaded = 0, paused, true })
	p.events <- player.Event{Kind: player.EventFileLoaded, At: time.Now()}
	return nil
}

func (p *fakePlayer) State() player.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

func (p *fakePlayer) Events() <-chan player.Event { return p.events }

func stateAt(pos float64, paused bool) player.State {
	return player.State{Pos: pos, Paused: paused, Loaded: true, Speed: 1, PosAt: time.Now()}
}

type playerState = player.State

const (
	eventPaused = player.EventPaused
	eventSeeked = player.EventSeeked
)

func playerEvent(k player.EventKind, pos float64) player.Event {
	return player.Event{Kind: k, Position: pos, Speed: 1, At: time.Now()}
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func countReason(b *fakeBus, reason string) int {
	n := 0
	for _, e := range b.sentOfType(typeAnchor) {
		if strings.Contains(string(e.Payload), `"reason":"`+reason+`"`) {
			n++
		}
	}
	return n
}

// sEpochForTest reads the host's epoch (tests run it on the room goroutine).
func (r *Room) sEpochForTest() string {
	var e string
	_ = r.do(context.Background(), func() error { e = r.s.epoch; return nil })
	return e
}

// setPresence records a track of key's presence, as the server would.
func (b *fakeBus) setPresence(key string, raw json.RawMessage) {
	b.mu.Lock()
	b.tracks++
	b.presence[key] = raw
	b.refs[key] = fmt.Sprintf("ref%d", b.tracks)
	b.mu.Unlock()
}
