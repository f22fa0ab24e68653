// Package player drives mpv over its JSON IPC so a watch party can keep
// several people's players in step: it launches (or attaches to) mpv, sends
// play/pause/seek/speed commands, and turns mpv's property changes into typed,
// timestamped events that say whether this client or the person at the
// keyboard caused them.
//
// Timing: every Event carries the time its line arrived. playback-time only
// moves once per displayed frame, so EventPosition (one per frame step) and
// State.PositionAt give the sub-frame estimates a sync loop needs; Seek
// returns only once mpv shows the new frame.
//
// Attribution: Ours marks changes caused by this client's Play, Pause, Seek
// or SetSpeed; anything else (keys in mpv, another IPC client, mpv pausing
// itself at the end of the file) has Ours=false. mpv does not tag changes
// with their cause, so this is inferred from expectations that expire.
//
// Written against mpv 0.35 (Debian 12), which has no pause/unpause events:
// pause state comes from the observed pause property.
package player

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrNotInstalled means the mpv binary could not be found.
	ErrNotInstalled = errors.New("mpv is not installed: install it with `apt-get install mpv` (Debian/Ubuntu) or see https://mpv.io/installation/")
	// ErrClosed means mpv went away (it quit, was killed, or Close was
	// called); every later call fails fast with it.
	ErrClosed = errors.New("mpv is gone")
	// ErrTimeout means mpv did not answer before the context deadline.
	ErrTimeout = errors.New("mpv did not answer in time (is it frozen or overloaded?)")
	// ErrUnavailable is mpv's "property unavailable", e.g. a time asked while no file is loaded.
	ErrUnavailable = errors.New("property unavailable (is a file loaded?)")
	// ErrInvalidTime rejects NaN, infinite or negative seek targets.
	ErrInvalidTime = errors.New("invalid time")
)

// Without a deadline on ctx a request waits at most this long, so a frozen
// mpv cannot hang the caller forever.
const defaultTimeout = 10 * time.Second

// How long an expectation for one of our own commands may wait for mpv to
// report it. Kept short so it cannot swallow a later change by the person.
const expectTTL = 2 * time.Second

// How long an expectation survives once a read-back shows mpv has processed
// our command without reporting the change yet.
const expectGrace = 250 * time.Millisecond

// EventKind says what happened in mpv.
type EventKind int

const (
	EventPaused EventKind = iota + 1
	EventUnpaused
	EventSeeked // after playback-restart; Position is the position after the restart
	EventSpeedChanged
	EventFileLoaded
	// EventEndOfFile: playback reached the end (or the file failed). With
	// --keep-open mpv then pauses by itself (EventPaused, Ours=false); at a
	// natural end that pause follows ~145 ms later, but after a seek past the
	// end mpv occasionally reports the pause first.
	EventEndOfFile
	EventShutdown
	EventPosition // playback-time changed: one per displayed frame while playing
	// EventSeekStarted: a seek began; Position is its target. EventSeeked
	// follows once mpv shows the target.
	EventSeekStarted
	// EventBuffering: paused-for-cache or its fill level changed (see
	// State.Buffering and State.BufferPercent).
	EventBuffering
)

var kindNames = [...]string{"", "paused", "unpaused", "seeked", "speed-changed", "file-loaded", "end-of-file", "shutdown", "position", "seek-started", "buffering"}

func (k EventKind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one thing mpv reported.
type Event struct {
	Kind     EventKind
	Position float64   // playback-time at the event (best known)
	Speed    float64   // speed at the event
	At       time.Time // when the line arrived from mpv (carries a monotonic reading)
	Ours     bool      // caused by a command this MPV sent, not by the person in mpv
}

// State is the last known player state, built from observed properties.
type State struct {
	Pos     float64   // last playback-time (the target while a seek is in progress)
	PosAt   time.Time // when that value arrived (or when playback resumed from it)
	Paused  bool
	Seeking bool
	// Buffering is mpv's paused-for-cache: it stalls for data, not by
	// choice; BufferPercent is how full the cache is towards resuming.
	Buffering     bool
	BufferPercent int
	Speed         float64
	Duration      float64
	Loaded        bool
}

// PositionAt extrapolates Pos to t while playing. playback-time only moves
// once per frame, so this gives a sub-frame estimate; the receive times of
// frame steps are regular to a few ms (see bench_test.go).
func (s State) PositionAt(t time.Time) float64 {
	if s.Paused || s.Seeking || !s.Loaded || s.PosAt.IsZero() {
		return s.Pos
	}
	return s.Pos + s.Speed*t.Sub(s.PosAt).Seconds()
}

// MediaInfo describes the loaded file.
type MediaInfo struct {
	Filename string
	Duration float64 // seconds; 0 when unknown (e.g. live streams)
	Size     int64   // bytes; 0 when unknown
}

// MPV is one connection to one mpv. All methods are safe for concurrent use.
type MPV struct {
	conn net.Conn
	log  *slog.Logger
	// out feeds writeLoop, the one goroutine that writes to mpv: one
	// Write per message (mpv drops a second object on a line), and a
	// caller waiting for it honours its own ctx rather than a lock.
	out    chan outLine
	nextID atomic.Int64

	mu       sync.Mutex
	pending  map[int64]func(reply) // nil once the connection is gone
	st       State
	known    uint8 // which of pause/speed have been observed at least once
	idle     bool
	hasTime  bool
	eofSent  bool
	expPause []*expect
	expSpeed []*expect
	seeks    []*seekWait
	burst    struct{ active, ours, announced bool } // between a `seek` event and its playback-restart
	holdPos  int                                    // restarts whose position query is still in flight
	loadWait chan error
	closing  bool
	err      error

	events  chan Event
	dropped atomic.Uint64
	done    chan struct{}

	proc      *process // nil for Attach
	dir       string   // private socket dir, removed by Close
	closeOnce sync.Once
	closeErr  error
}

const (
	knownPause = 1 << iota
	knownSpeed
)

type expect struct {
	val   float64 // pause as 0/1, or speed
	until time.Time
}

type seekWait struct {
	sent    time.Time
	sawSeek bool
	done    chan Event
}

// Events delivers events in order. It is buffered; when the consumer falls
// behind, the oldest events are dropped (see Dropped) so replies never stall.
// The channel is closed after EventShutdown.
func (m *MPV) Events() <-chan Event { return m.events }

// Dropped counts events discarded because Events was not drained.
func (m *MPV) Dropped() uint64 { return m.dropped.Load() }

// Done is closed when mpv goes away or Close is called.
func (m *MPV) Done() <-chan struct{} { return m.done }

// Err says why Done was closed; nil while the connection is alive.
func (m *MPV) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// State returns the last known state without any I/O.
func (m *MPV) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

// Play unpauses. mpv reports pause changes once per loop iteration, so a
// Pause followed at once by Play may produce no events at all.
func (m *MPV) Play(ctx context.Context) error { return m.setPause(ctx, false) }

// Pause pauses.
func (m *MPV) Pause(ctx context.Context) error { return m.setPause(ctx, true) }

func (m *MPV) setPause(ctx context.Context, v bool) error {
	m.mu.Lock()
	e := m.expectOwn(&m.expPause, b2f(m.st.Paused), m.known&knownPause != 0, b2f(v))
	m.mu.Unlock()
	return m.setOwn(ctx, &m.expPause, e, "pause", v)
}

// SetSpeed sets the playback speed; it must be within [0.01, 100].
func (m *MPV) SetSpeed(ctx context.Context, speed float64) error {
	if math.IsNaN(speed) || speed < 0.01 || speed > 100 {
		return fmt.Errorf("player: speed %v is outside [0.01, 100]", speed)
	}
	m.mu.Lock()
	e := m.expectOwn(&m.expSpeed, m.st.Speed, m.known&knownSpeed != 0, speed)
	m.mu.Unlock()
	return m.setOwn(ctx, &m.expSpeed, e, "speed", speed)
}

// expectOwn records that our command will change a property to val, so the
// change can be marked Ours. Setting the value mpv already has (or that our
// earlier, still unreported command will leave) produces no property change,
// and an expectation for it would only linger and claim the person's next
// action. Runs with m.mu held.
func (m *MPV) expectOwn(list *[]*expect, cur float64, known bool, val float64) *expect {
	now := time.Now()
	for _, e := range *list {
		if now.Before(e.until) {
			cur, known = e.val, true
		}
	}
	if known && math.Abs(cur-val) <= 1e-6 {
		return nil
	}
	e := &expect{val: val, until: now.Add(expectTTL)}
	*list = append(*list, e)
	return e
}

// setOwn sets prop, then reads it back. mpv's core recomputes observed
// properties once per playloop iteration, so a set followed at once by its
// reverse (pause, then play) may never be reported, and an expectation for it
// would linger. After the read-back the change has usually arrived; if not,
// the expectation keeps only a short grace period instead of the full TTL.
func (m *MPV) setOwn(ctx context.Context, list *[]*expect, e *expect, prop string, v any) error {
	_, err := m.Call(ctx, "set_property", prop, v)
	if err == nil && e != nil {
		_, _ = m.Call(ctx, "get_property", prop)
	}
	if e == nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range *list {
		if x != e {
			continue
		}
		if err != nil {
			*list = removeExpect(*list, e)
		} else if g := time.Now().Add(expectGrace); g.Before(e.until) {
			e.until = g
		}
		break
	}
	return err
}

// Seek jumps exactly to seconds and returns once mpv shows the frame there
// (playback-restart), so Position afterwards reads the new place.
func (m *MPV) Seek(ctx context.Context, seconds float64) error {
	if math.IsNaN(seconds) || math.IsInf(seconds, 0) || seconds < 0 {
		return fmt.Errorf("player: seek to %v: %w", seconds, ErrInvalidTime)
	}
	return m.seek(ctx, seconds, "absolute+exact")
}

// SeekRelative moves by delta seconds, exactly, like Seek.
func (m *MPV) SeekRelative(ctx context.Context, delta float64) error {
	if math.IsNaN(delta) || math.IsInf(delta, 0) {
		return fmt.Errorf("player: seek by %v: %w", delta, ErrInvalidTime)
	}
	return m.seek(ctx, delta, "relative+exact")
}

func (m *MPV) seek(ctx context.Context, t float64, flags string) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	// Registered before sending: mpv answers the command before it emits the
	// `seek` event, and merges quick seeks into one playback-restart.
	w := &seekWait{sent: time.Now(), done: make(chan Event, 1)}
	m.mu.Lock()
	m.seeks = append(m.seeks, w)
	m.mu.Unlock()
	forget := func() {
		m.mu.Lock()
		for i, x := range m.seeks {
			if x == w {
				m.seeks = append(m.seeks[:i:i], m.seeks[i+1:]...)
				break
			}
		}
		m.mu.Unlock()
	}
	what := fmt.Sprintf("seek %v %s", t, flags)
	if _, err := m.Call(ctx, "seek", t, flags); err != nil {
		forget()
		return err
	}
	select {
	case <-w.done:
		return nil
	case <-m.done:
		return m.Err()
	case <-ctx.Done():
		forget()
		return ctxErr(ctx, what+" (waiting for playback-restart)")
	}
}

// ShowText shows text on mpv's OSD for d (mpv's default duration if d <= 0).
// Commands over IPC are not property-expanded, so "${...}" in text from other
// people is shown literally.
func (m *MPV) ShowText(ctx context.Context, text string, d time.Duration) error {
	ms := int64(-1)
	if d > 0 {
		ms = d.Milliseconds()
	}
	_, err := m.Call(ctx, "show-text", text, ms)
	return err
}

// Position reads playback-time from mpv (a fresh read, not the cached State).
func (m *MPV) Position(ctx context.Context) (float64, error) {
	return m.getFloat(ctx, "playback-time")
}

// Duration reads the file's duration in seconds.
func (m *MPV) Duration(ctx context.Context) (float64, error) {
	return m.getFloat(ctx, "duration")
}

// Speed reads the playback speed.
func (m *MPV) Speed(ctx context.Context) (float64, error) {
	return m.getFloat(ctx, "speed")
}

// Paused reads the pause flag.
func (m *MPV) Paused(ctx context.Context) (bool, error) {
	var v bool
	err := m.get(ctx, "pause", &v)
	return v, err
}

// Media describes the loaded file; ErrUnavailable when nothing is loaded.
func (m *MPV) Media(ctx context.Context) (MediaInfo, error) {
	var mi MediaInfo
	if err := m.get(ctx, "filename", &mi.Filename); err != nil {
		return mi, err
	}
	if err := m.get(ctx, "duration", &mi.Duration); err != nil && !errors.Is(err, ErrUnavailable) {
		return mi, err
	}
	if err := m.get(ctx, "file-size", &mi.Size); err != nil && !errors.Is(err, ErrUnavailable) {
		return mi, err
	}
	return mi, nil
}

func (m *MPV) getFloat(ctx context.Context, name string) (float64, error) {
	var v float64
	err := m.get(ctx, name, &v)
	return v, err
}

func (m *MPV) get(ctx context.Context, name string, v any) error {
	data, err := m.Call(ctx, "get_property", name)
	if err != nil {
		return err
	}
	if len(data) == 0 || string(data) == "null" {
		return fmt.Errorf("mpv: get_property %s: %w", name, ErrUnavailable)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("mpv: get_property %s: unexpected value %.80s: %w", name, data, err)
	}
	return nil
}

// Quit asks mpv to exit and waits until its connection closes. With Attach
// this quits the person's mpv.
func (m *MPV) Quit(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if _, err := m.Call(ctx, "quit"); err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return ctxErr(ctx, "quit (waiting for mpv to exit)")
	}
}

func removeExpect(s []*expect, e *expect) []*expect {
	for i, x := range s {
		if x == e {
			return append(s[:i:i], s[i+1:]...)
		}
	}
	return s
}

// matchExpect consumes the first live expectation for val. Expired ones are
// dropped on the way so they cannot claim a later change by the person.
func matchExpect(s []*expect, val float64, at time.Time) ([]*expect, bool) {
	out := s[:0]
	ours := false
	for _, e := range s {
		switch {
		case at.After(e.until):
		case !ours && math.Abs(e.val-val) <= 1e-6:
			ours = true
		default:
			out = append(out, e)
		}
	}
	return out, ours
}

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultTimeout)
}

func ctxErr(ctx context.Context, what string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: %w", ErrTimeout, what, ctx.Err())
	}
	return fmt.Errorf("mpv %s: %w", what, ctx.Err())
}

// LoadFile replaces the playing file with path (a file or a URL) and
// returns once mpv shows its first frame. paused sets the pause state
// first, as our own command, so the new file starts paused (mpv keeps the
// pause flag across files) and no one mistakes it for the person's.
func (m *MPV) LoadFile(ctx context.Context, path string, paused bool) error {
	if path == "" {
		return errors.New("player: loadfile: empty path")
	}
	if err := m.setPause(ctx, paused); err != nil {
		return err
	}
	return m.load(ctx, path)
}
