package room

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/realtime"
)

// Channel is what a Room needs of its realtime channel; *realtime.Channel
// has it.
type Channel interface {
	// Send broadcasts and waits for the server's acknowledgement.
	Send(ctx context.Context, event string, payload any) error
	// Post broadcasts without waiting.
	Post(event string, payload any) error
	Track(ctx context.Context, meta any) error
	PresenceState() map[string][]realtime.Presence
}

// Player is what a Room needs of a player; *player.MPV has it.
type Player interface {
	Play(ctx context.Context) error
	Pause(ctx context.Context) error
	Seek(ctx context.Context, seconds float64) error
	SeekRelative(ctx context.Context, delta float64) error
	SetSpeed(ctx context.Context, speed float64) error
	// LoadFile replaces the file (paused or not) and returns once it shows.
	LoadFile(ctx context.Context, path string, paused bool) error
	ShowText(ctx context.Context, text string, d time.Duration) error
	Media(ctx context.Context) (player.MediaInfo, error)
	State() player.State
	Events() <-chan player.Event
}

// Config describes who we are in which room. Zero durations mean defaults.
type Config struct {
	RoomID    string
	UserID    string
	Username  string
	AvatarURL string
	// WantHost claims the host role when nobody holds it.
	WantHost bool
	// Private joins the room's channel as a private one (a private room's
	// members only; the server checks membership at the join).
	Private bool
	// Admin runs the private-room commands (/invite, /kick); nil when the
	// server has none.
	Admin Admin
	// SigningKey signs our events while we host; its public half goes on
	// our room_members row. Default: a fresh key for this run.
	SigningKey ed25519.PrivateKey
	// Store keeps chat history and room state when the server offers it.
	Store  Store
	Server string // shown in the status bar
	Logger *slog.Logger
	// ServerRTT is the round trip to the server (the socket's heartbeats),
	// shown for members who measure none to the host (the host itself).
	ServerRTT func() time.Duration

	HeartbeatEvery   time.Duration // spec heartbeat broadcast (3 s)
	AnchorEvery      time.Duration // host's timeline refresh (2 s)
	ProbeEvery       time.Duration // clock probes to the host, after a burst at join (10 s)
	ControlEvery     time.Duration // follower drift control (100 ms)
	SeekDebounce     time.Duration // spec seek events (500 ms, trailing)
	PresenceBatch    time.Duration // presence batching (100 ms)
	PresenceInterval time.Duration // least time between presence tracks (6 s)
	HostGrace        time.Duration // how long a vanished host is waited for (2 s)
	WaitTimeout      time.Duration // how long a host's seek waits for everyone (5 s)
	SilentAfter      time.Duration // heartbeats missing this long: "not responding" (7 s)
	// HostClaimWindow is how long a host claim may wait for the database
	// to name the claimant, how long a refused claimant is then ignored,
	// and how long an elected successor keeps calling claim_host (20 s;
	// Supabase's claim_host needs 15 s of host silence).
	HostClaimWindow time.Duration
	// MediaDirs are where playlist entries are looked for by file name
	// (join --media-dir; the folder of the file we joined with).
	MediaDirs []string
	// NoWait turns wait for everyone off: after a host seek, everyone
	// starts as soon as they land, the slow ones catching up.
	NoWait bool
	// Now is the clock every decision reads (time.Now by default); the
	// sync logic's tests drive it by hand.
	Now func() time.Time
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HeartbeatEvery, 3*time.Second)
	// Every broadcast counts once per receiver against Supabase's message
	// quota (100/s on the free plan), so steady-state traffic is kept low:
	// clocks drift by microseconds per second, and the host's timeline only
	// needs refreshing in case its player stalls.
	def(&c.AnchorEvery, 2*time.Second)
	def(&c.ProbeEvery, 10*time.Second)
	def(&c.ControlEvery, 100*time.Millisecond)
	def(&c.SeekDebounce, 500*time.Millisecond)
	def(&c.PresenceBatch, 100*time.Millisecond)
	// Supabase allows 5 presence calls per 30 s per client; stay under it.
	def(&c.PresenceInterval, 6*time.Second)
	def(&c.HostGrace, 2*time.Second)
	// Long enough for an HD seek on a slow laptop or a short buffering
	// stall; a member stuck longer is left to catch up on their own.
	def(&c.WaitTimeout, 5*time.Second)
	def(&c.SilentAfter, notRespondingAfter)
	def(&c.HostClaimWindow, defaultHostClaimWindow)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SigningKey == nil {
		c.SigningKey = NewSigningKey()
	}
}

// now is the room's clock.
func (r *Room) now() time.Time { return r.cfg.Now() }

// Errors returned to commands.
var (
	ErrNotHost  = errors.New("only the host can do that")
	ErrNoPlayer = errors.New("no mpv is attached (join with --media or --mpv-socket)")
	ErrClosed   = errors.New("room closed")
)

// Room is one client's view of and part in a watch party. One goroutine
// (Run) owns all of its state; everything else talks to it through its
// mailbox.
type Room struct {
	cfg    Config
	log    *slog.Logger
	ch     Channel
	player Player

	in     *mailbox
	out    *mailbox
	jobs   *mailbox // for the player worker
	events chan Event
	// forwarded is closed when forwardEvents has returned.
	forwarded chan struct{}
	done      chan struct{}

	seenMu   sync.Mutex
	seenChat map[string]bool
	chat     chatCursor // the newest comment shown, and any catch-up in progress (under seenMu)
	dedupe   PlaybackDedupe
	control  controlRecorder
	outbox   chatOutbox

	storeMu sync.Mutex
	noStore bool
	// noHostRecords: the database has no host functions (noteHostErr).
	noHostRecords bool

	historyLoaded bool // Join loaded it, so it shows before anything live

	s state // owned by Run
}

// New makes a room on ch, driving p (nil for chat only). Wire the channel's
// callbacks to the Handle* methods (Join does), then call Run.
func New(cfg Config, ch Channel, p Player) *Room {
	cfg.defaults()
	r := &Room{
		cfg: cfg, log: cfg.Logger, ch: ch, player: p,
		in: newMailbox(), out: newMailbox(), jobs: newMailbox(),
		events:    make(chan Event, 64),
		forwarded: make(chan struct{}),
		done:      make(chan struct{}),
		seenChat:  map[string]bool{},
	}
	r.s.init(cfg)
	r.s.joined = true // New's channel is ready; status changes say otherwise
	go r.forwardEvents()
	return r
}

// Events delivers StateChanged, ChatReceived, Notice, EventReceived and
// ConnectionChanged in order. It is closed when Run returns. Reading slowly
// never blocks the room: snapshots are latest-wins, and past
// maxQueuedEvents the oldest notices and raw events give way (never chat).
func (r *Room) Events() <-chan Event { return r.events }

// Event is what a Room tells its consumer; the set is closed.
type Event interface{ roomEvent() }

func (StateChanged) roomEvent()      {}
func (ChatReceived) roomEvent()      {}
func (Notice) roomEvent()            {}
func (EventReceived) roomEvent()     {}
func (ConnectionChanged) roomEvent() {}

// maxQueuedEvents bounds what waits for a consumer that stopped reading
// (a UI frozen on a terminal, a bot that exited without Run's ctx ending):
// beyond it the oldest notices and raw envelopes are dropped. Chat is
// never dropped: it is the one thing people notice missing, and the
// server's flood limits bound its rate.
const maxQueuedEvents = 4096

// drainGrace is how long, after Run returned, the forwarder waits for the
// consumer to take each remaining event before it gives up and closes
// Events: a consumer that stopped reading must not keep it alive forever.
const drainGrace = time.Second

func (r *Room) forwardEvents() {
	defer close(r.forwarded)
	defer close(r.events)
	var grace <-chan time.Time
	for {
		items, ok := r.out.wait(nil)
		for _, it := range items {
			select {
			case r.events <- it.(Event):
				continue
			case <-r.done:
			}
			// Run returned: the reader has drainGrace in all for the rest.
			if grace == nil {
				grace = time.After(drainGrace)
			}
			select {
			case r.events <- it.(Event):
			case <-grace:
				r.log.Debug("room: nobody read the room's last events")
				return
			}
		}
		if !ok {
			return
		}
	}
}

// emit queues v for the consumer. A snapshot replaces one still waiting:
// only the newest state matters, and a slow UI then catches up in one step.
func (r *Room) emit(v Event) {
	_, snap := v.(StateChanged)
	r.out.putBounded(v, maxQueuedEvents,
		func(old any) bool { _, s := old.(StateChanged); return snap && s },
		func(old any) bool { _, chat := old.(ChatReceived); return !chat })
}

// Inbound messages for the mailbox.
type (
	inBroadcast struct{ b realtime.Broadcast }
	inPresence  struct{}
	inStatus    struct {
		st  realtime.Status
		err error
	}
	inConn struct{ ev realtime.ConnEvent }
	inCmd  struct {
		fn   func() error
		done chan error
	}
	inTimer struct {
		fn   func()
		gen  *int
		want int
	}
)

// later runs fn on the room's goroutine after d.
func (r *Room) later(d time.Duration, fn func()) {
	time.AfterFunc(d, func() { r.in.put(inTimer{fn: fn}) })
}

// after runs fn on the room's goroutine after d, unless *gen changes first
// (bumping a generation counter cancels every timer armed with it).
func (r *Room) after(d time.Duration, gen *int, fn func()) {
	*gen++
	want := *gen
	time.AfterFunc(d, func() { r.in.put(inTimer{fn: fn, gen: gen, want: want}) })
}

// HandleBroadcast takes every broadcast on the room's channel.
func (r *Room) HandleBroadcast(b realtime.Broadcast) {
	r.in.putBounded(inBroadcast{b}, maxQueuedInbound, nil, func(old any) bool {
		ob, ok := old.(inBroadcast)
		return ok && ob.b.Event != TypeNewComment
	})
}

// maxQueuedInbound bounds the broadcasts waiting for the room's goroutine
// (a flood from one member, the room stalled): beyond it the oldest
// broadcasts other than chat are dropped. Anchors and heartbeats are
// re-sent every few seconds, so an old one lost costs nothing.
const maxQueuedInbound = 8192

// HandlePresenceSync takes presence sync notifications.
func (r *Room) HandlePresenceSync() {
	// A presence sync carries nothing: one waiting already covers this one.
	r.in.putBounded(inPresence{}, maxQueuedInbound, func(old any) bool { _, p := old.(inPresence); return p }, nil)
}

// HandleStatus takes the channel's subscription status changes.
func (r *Room) HandleStatus(st realtime.Status, err error) { r.in.put(inStatus{st, err}) }

// HandleSystem takes the server's system messages: an error one says why
// the server is closing our channel (token expired, rate limit, removed
// from a private room), which the person should read.
func (r *Room) HandleSystem(m realtime.SystemMessage) {
	if m.Status != "error" || m.Message == "" {
		return
	}
	r.in.put(inTimer{fn: func() { r.notice("the server: %s", m.Message) }})
}

// HandleConn takes the socket's state changes.
func (r *Room) HandleConn(ev realtime.ConnEvent) { r.in.put(inConn{ev}) }

// do runs fn on the room's goroutine and returns its error.
func (r *Room) do(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	r.in.put(inCmd{fn: fn, done: done})
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-r.done:
		return ErrClosed
	}
}

// Run is the room's loop; it returns when ctx ends.
func (r *Room) Run(ctx context.Context) error {
	defer close(r.done)
	defer r.out.close()
	var playerEvents <-chan player.Event
	if r.player != nil {
		playerEvents = r.player.Events()
		// Events from before we joined describe a past we do not act on.
		for drained := false; !drained; {
			select {
			case _, ok := <-playerEvents:
				drained = !ok
			default:
				drained = true
			}
		}
		r.s.tracker.Reset(r.player.State())
		// Before the room's loop starts, so our first presence names the
		// file; nothing is queued behind this read yet.
		mctx, cancel := context.WithTimeout(ctx, mediaReadTimeout)
		if mi, err := r.player.Media(mctx); err != nil {
			r.log.Warn("room: reading what mpv plays", "err", err)
		} else {
			r.s.media = mediaIdentity(mi)
		}
		cancel()
		wctx, stopWorker := context.WithCancel(ctx)
		defer stopWorker()
		go r.runPlayerJobs(wctx)
	}
	r.s.joinedAt = wallMS(r.now())
	if !r.historyLoaded {
		go r.loadHistory()
	}
	r.announceJoin()
	// A first heartbeat now, not in 3 s: the room judges a member's
	// silence only once it has heard it, so it must hear it early.
	r.sendHeartbeat()

	heartbeat := time.NewTicker(r.cfg.HeartbeatEvery)
	defer heartbeat.Stop()
	anchor := time.NewTicker(r.cfg.AnchorEvery)
	defer anchor.Stop()
	probe := time.NewTicker(r.cfg.ProbeEvery)
	defer probe.Stop()
	control := time.NewTicker(r.cfg.ControlEvery)
	defer control.Stop()

	for {
		select {
		case <-ctx.Done():
			r.leave()
			return ctx.Err()
		case <-r.in.signal():
			for _, it := range r.in.drain() {
				r.dispatch(ctx, it)
			}
		case ev, ok := <-playerEvents:
			if !ok {
				playerEvents = nil
				r.playerGone()
				continue
			}
			r.onPlayerEvent(ctx, ev)
		case <-heartbeat.C:
			r.sendHeartbeat()
			r.retrackIfChanged(r.now())
		case <-anchor.C:
			if r.s.isHost() && r.player != nil {
				r.publishAnchor("tick")
			}
			if r.s.isHost() {
				r.hostAliveTick()
			}
		case <-probe.C:
			r.sendProbe()
		case <-control.C:
			r.controlTick()
			r.checkLiveness(r.now())
		}
	}
}

func (r *Room) dispatch(ctx context.Context, it any) {
	switch m := it.(type) {
	case inBroadcast:
		r.onBroadcast(ctx, m.b)
	case inPresence:
		r.onPresence(ctx)
	case inStatus:
		r.onStatus(m.st, m.err)
	case inConn:
		r.onConn(m.ev)
	case inCmd:
		m.done <- m.fn()
	case inRoomState:
		r.onRoomState(ctx, m.st)
	case inHostKey:
		r.onHostKey(ctx, m)
	case inHostRow:
		r.onHostRow(m)
	case inClaimed:
		r.onClaimed(m)
	case inRemoved:
		r.onRemovedChecked(m)
	case inJobDone:
		r.onJobDone(m)
	case inTimer:
		if m.gen == nil || *m.gen == m.want {
			m.fn()
		}
	}
}

// post broadcasts a spec envelope without waiting for the server.
func (r *Room) post(typ string, payload any) {
	env, err := NewEnvelope(typ, r.cfg.RoomID, payload, r.now())
	if err == nil && signedTypes[typ] {
		env, err = SignEnvelope(r.cfg.SigningKey, env)
	}
	if err != nil {
		r.log.Error("room: encoding event", "type", typ, "err", err)
		return
	}
	var msg any = env
	if IsSpecType(typ) {
		if msg, err = env.Wire(); err != nil {
			r.log.Error("room: encoding event", "type", typ, "err", err)
			return
		}
	}
	if err := r.ch.Post(typ, msg); err != nil {
		r.log.Warn("room: sending event", "type", typ, "err", err)
	}
}

// postEphemeral sends what is only worth having now (heartbeats, clock
// probes, timeline refreshes): while the channel is down it is dropped
// rather than queued, since a newer one supersedes it after the rejoin.
func (r *Room) postEphemeral(typ string, payload any) {
	if r.s.joined {
		r.post(typ, payload)
	}
}

func (r *Room) notice(format string, args ...any) {
	r.emit(Notice{Text: fmt.Sprintf(format, args...), At: r.now()})
}

// DecodeBroadcast reads a spec event off a broadcast, in any of the shapes
// clients send: our envelope with the payload's fields beside it, the
// spec's bare envelope, or (the seed's web client) the bare payload, with
// the broadcast event as the type.
func DecodeBroadcast(b realtime.Broadcast) (Envelope, error) {
	var env Envelope
	if len(b.Payload) == 0 {
		return env, errors.New("broadcast without a JSON payload")
	}
	if err := json.Unmarshal(b.Payload, &env); err != nil {
		return env, fmt.Errorf("broadcast %q: %w", b.Event, err)
	}
	if env.Type == "" || len(env.Payload) == 0 {
		env = Envelope{Type: b.Event, Payload: b.Payload, Timestamp: b.At.UnixMilli()}
	}
	if env.Type != b.Event {
		return env, fmt.Errorf("broadcast %q carries an envelope of type %q", b.Event, env.Type)
	}
	return env, nil
}

// mailbox is an unbounded FIFO, so producers (socket callbacks, mpv) never
// block on the room and nothing is dropped.
type mailbox struct {
	mu     sync.Mutex
	items  []any
	sig    chan struct{}
	closed bool
}

func newMailbox() *mailbox { return &mailbox{sig: make(chan struct{}, 1)} }

func (m *mailbox) put(v any) {
	m.mu.Lock()
	if !m.closed {
		m.items = append(m.items, v)
	}
	m.mu.Unlock()
	select {
	case m.sig <- struct{}{}:
	default:
	}
}

// putBounded queues v after removing the queued items replaces matches
// (latest wins), and, while the queue is at max, the oldest item droppable
// matches (nil: none may go, and the queue grows past max).
func (m *mailbox) putBounded(v any, max int, replaces, droppable func(any) bool) {
	m.mu.Lock()
	if replaces != nil {
		kept := m.items[:0]
		for _, it := range m.items {
			if !replaces(it) {
				kept = append(kept, it)
			}
		}
		clear(m.items[len(kept):])
		m.items = kept
	}
	if droppable != nil && len(m.items) >= max {
		for i, it := range m.items {
			if droppable(it) {
				m.items = append(m.items[:i], m.items[i+1:]...)
				break
			}
		}
	}
	m.mu.Unlock()
	m.put(v)
}

func (m *mailbox) close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	select {
	case m.sig <- struct{}{}:
	default:
	}
}

func (m *mailbox) signal() <-chan struct{} { return m.sig }

func (m *mailbox) drain() []any {
	m.mu.Lock()
	defer m.mu.Unlock()
	items := m.items
	m.items = nil
	return items
}

// wait returns what is queued (blocking until something is, the mailbox
// closes, or stop fires); ok is false once closed and drained.
func (m *mailbox) wait(stop <-chan struct{}) ([]any, bool) {
	for {
		m.mu.Lock()
		items, closed := m.items, m.closed
		m.items = nil
		m.mu.Unlock()
		if len(items) > 0 || closed {
			return items, !closed
		}
		select {
		case <-m.sig:
		case <-stop:
			return nil, true
		}
	}
}
