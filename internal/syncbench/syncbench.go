// Package syncbench measures how well rooms keep real mpv players together:
// how long a host's play, pause and seek take to reach followers' players,
// how far followers drift while playing, and how long a lagging follower
// takes to converge. It runs everything on loopback (optionally through a
// delaying proxy that stands for an internet link) and prints a table.
package syncbench

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/watchium/watchium-tui/internal/testmedia"
	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/server"
)

// Config sets one run.
type Config struct {
	Followers  int
	Cycles     int           // play/seek/pause cycles for apply latency
	Steady     time.Duration // how long to sample offsets while playing
	Delay      time.Duration // one-way delay of the followers' link (0: plain loopback)
	Jitter     time.Duration // ± spread of that delay
	MediaDir   string        // where the 100 fps test video is made
	NoConverge bool          // skip the 1.5 s convergence run (about 20 s)
	Log        io.Writer     // progress lines; nil for none
}

// Stats summarises samples.
type Stats struct {
	N                  int
	P50, P95, P99, Max float64
	// Missed counts attempts that never got there (a seek that never
	// settled). They rank above every N that did, so a percentile that
	// falls among them is +Inf: a run that settles 5 of 20 seeks has no
	// p50, not the p50 of its 5 best.
	Missed int
}

func summarize(xs []float64) Stats { return summarizeMissed(xs, 0) }

func summarizeMissed(xs []float64, missed int) Stats {
	if len(xs)+missed == 0 {
		return Stats{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	for range missed {
		s = append(s, math.Inf(1))
	}
	q := func(p float64) float64 { return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)] }
	return Stats{N: len(xs), Missed: missed, P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: s[len(s)-1]}
}

// Result is one run's figures, all in milliseconds.
type Result struct {
	Config      Config
	Play        Stats // host unpause → follower unpause
	Pause       Stats // host pause → follower pause
	Seek        Stats // host seek done → follower seek done
	PauseFrame  Stats // |host − follower| resting position after a pause
	Steady      Stats // |follower − host| while playing
	Converge    float64
	ConvergeErr string
}

// tapped lets the harness see a player's events while the room consumes
// them too.
type tapped struct {
	*player.MPV
	out chan player.Event
	mu  sync.Mutex
	mon []chan player.Event
}

func tap(m *player.MPV) *tapped {
	t := &tapped{MPV: m, out: make(chan player.Event, 1024)}
	go func() {
		defer close(t.out)
		for ev := range m.Events() {
			t.out <- ev
			t.mu.Lock()
			for _, c := range t.mon {
				select {
				case c <- ev:
				default:
				}
			}
			t.mu.Unlock()
		}
	}()
	return t
}

func (t *tapped) Events() <-chan player.Event { return t.out }

func (t *tapped) watch() chan player.Event {
	c := make(chan player.Event, 4096)
	t.mu.Lock()
	t.mon = append(t.mon, c)
	t.mu.Unlock()
	return c
}

type member struct {
	name   string
	room   *room.Room
	mpv    *tapped
	events chan player.Event
	client *realtime.Client
	cancel context.CancelFunc
	done   chan struct{}
}

func (m *member) close() {
	if m.cancel != nil {
		m.cancel()
		<-m.done
	}
	if m.client != nil {
		_ = m.client.Close()
	}
	_ = m.mpv.Close()
}

// Run performs one measurement.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res := Result{Config: cfg}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	media, err := testmedia.Make(cfg.MediaDir, testmedia.Default)
	if err != nil {
		return res, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	stop := server.New(server.Config{EventsPerSecond: 1000}).Start(ln)
	defer stop()
	direct := "http://" + ln.Addr().String()
	followURL := direct
	if cfg.Delay > 0 {
		px, err := startDelayProxy(ln.Addr().String(), cfg.Delay, cfg.Jitter)
		if err != nil {
			return res, err
		}
		defer px.Close()
		followURL = "http://" + px.Addr()
	}

	roomID := fmt.Sprintf("bench-%d", rand.IntN(1e6))
	join := func(name, url string, host bool, m *player.MPV) (*member, error) {
		return joinRoom(ctx, media, url, roomID, name, host, m)
	}

	host, err := join("host", direct, true, nil)
	if err != nil {
		return res, fmt.Errorf("host: %w", err)
	}
	defer host.close()
	var fols []*member
	defer func() {
		for _, f := range fols {
			f.close()
		}
	}()
	for i := range cfg.Followers {
		f, err := join(fmt.Sprintf("follower%d", i+1), followURL, false, nil)
		if err != nil {
			return res, fmt.Errorf("follower %d: %w", i+1, err)
		}
		fols = append(fols, f)
	}
	// Everyone learns who hosts and the clocks settle.
	if err := waitUntil(ctx, 20*time.Second, func() bool {
		for _, f := range fols {
			if f.mpv.State().Pos != host.mpv.State().Pos {
				return false
			}
		}
		return true
	}); err != nil {
		return res, fmt.Errorf("followers never settled on the host's frame")
	}
	logf("  %d followers joined", len(fols))

	// Apply latency: host changes → followers' players change.
	var play, pause, seek, frame []float64
	for c := 0; c < cfg.Cycles; c++ {
		for _, step := range []string{"play", "seek", "pause"} {
			drainAll(host, fols)
			var err error
			switch step {
			case "play":
				err = host.mpv.Play(ctx)
			case "seek":
				err = host.mpv.Seek(ctx, 10+rand.Float64()*80)
			case "pause":
				err = host.mpv.Pause(ctx)
			}
			if err != nil {
				return res, fmt.Errorf("host %s: %w", step, err)
			}
			kind := map[string]player.EventKind{"play": player.EventUnpaused, "seek": player.EventSeeked, "pause": player.EventPaused}[step]
			hostAt, err := waitEvent(ctx, host.events, kind, false)
			if err != nil {
				return res, fmt.Errorf("host %s event: %w", step, err)
			}
			for _, f := range fols {
				at, err := waitEvent(ctx, f.events, kind, true)
				if err != nil {
					return res, fmt.Errorf("%s did not follow %s: %w", f.name, step, err)
				}
				d := at.Sub(hostAt).Seconds() * 1000
				switch step {
				case "play":
					play = append(play, d)
				case "seek":
					seek = append(seek, d)
				case "pause":
					pause = append(pause, d)
				}
			}
			if step == "pause" {
				_ = waitUntil(ctx, 5*time.Second, func() bool {
					for _, f := range fols {
						if st := f.mpv.State(); st.Seeking || math.Abs(st.Pos-host.mpv.State().Pos) > 0.0005 {
							return false
						}
					}
					return true
				})
				for _, f := range fols {
					frame = append(frame, math.Abs(f.mpv.State().Pos-host.mpv.State().Pos)*1000)
				}
			}
			pauseFor(ctx, 600*time.Millisecond)
		}
	}
	res.Play, res.Pause, res.Seek, res.PauseFrame = summarize(play), summarize(pause), summarize(seek), summarize(frame)
	logf("  apply latency measured over %d cycles", cfg.Cycles)

	// Steady state: play from 10 s and sample offsets.
	if err := host.mpv.Seek(ctx, 10); err != nil {
		return res, err
	}
	if err := host.mpv.Play(ctx); err != nil {
		return res, err
	}
	pauseFor(ctx, 3*time.Second) // let the followers' controllers settle
	var offs []float64
	tick := time.NewTicker(50 * time.Millisecond)
	end := time.Now().Add(cfg.Steady)
	for time.Now().Before(end) && ctx.Err() == nil {
		<-tick.C
		now := time.Now()
		hp := host.mpv.State().PositionAt(now)
		for _, f := range fols {
			offs = append(offs, math.Abs(f.mpv.State().PositionAt(now)-hp)*1000)
		}
	}
	tick.Stop()
	res.Steady = summarize(offs)
	logf("  steady state sampled for %v", cfg.Steady)

	if cfg.NoConverge {
		return res, nil
	}
	res.Converge, res.ConvergeErr, err = convergeFromBehind(ctx, media, followURL, roomID, host, &fols, func(lm *player.MPV) bool {
		now := time.Now()
		return math.Abs(lm.State().PositionAt(now)-host.mpv.State().PositionAt(now)) < 0.02
	})
	return res, err
}

// joinRoom starts a member: a headless mpv on media (or m), a client and a
// room, running until close.
func joinRoom(ctx context.Context, media, url, roomID, name string, host bool, m *player.MPV) (*member, error) {
	var err error
	if m == nil {
		lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		m, err = player.Launch(lctx, media, player.Options{Headless: true, StartPaused: true})
		if err != nil {
			return nil, err
		}
	}
	mem := &member{name: name, mpv: tap(m), done: make(chan struct{})}
	mem.events = mem.mpv.watch()
	c, err := realtime.NewClient(url, realtime.Options{Backoff: []time.Duration{200 * time.Millisecond}})
	if err != nil {
		mem.close()
		return nil, err
	}
	mem.client = c
	jctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := c.Connect(jctx); err != nil {
		mem.close()
		return nil, err
	}
	r, err := room.Join(jctx, c, room.Config{RoomID: roomID, UserID: name, Username: name, WantHost: host, HostGrace: time.Second}, mem.mpv)
	if err != nil {
		mem.close()
		return nil, err
	}
	mem.room = r
	rctx, rcancel := context.WithCancel(ctx)
	mem.cancel = rcancel
	go func() { _ = r.Run(rctx); close(mem.done) }()
	go func() {
		for range r.Events() {
		}
	}()
	return mem, nil
}

// convergeFromBehind starts an mpv playing 1.5 s behind the host, joins it
// to the room (adding it to fols, for closing) and times (ms) how long until
// converged holds; failure says why it never did. err is a setup failure.
func convergeFromBehind(ctx context.Context, media, url, roomID string, host *member, fols *[]*member, converged func(*player.MPV) bool) (took float64, failure string, err error) {
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	lm, err := player.Launch(lctx, media, player.Options{Headless: true, StartPaused: true})
	cancel()
	if err != nil {
		return 0, "", err
	}
	if err := lm.Seek(ctx, host.mpv.State().PositionAt(time.Now())-1.5); err != nil {
		_ = lm.Close()
		return 0, "", err
	}
	if err := lm.Play(ctx); err != nil {
		_ = lm.Close()
		return 0, "", err
	}
	start := time.Now()
	late, err := joinRoom(ctx, media, url, roomID, "late", false, lm)
	if err != nil {
		return 0, "", err
	}
	*fols = append(*fols, late)
	if err := waitUntil(ctx, 90*time.Second, func() bool { return converged(lm) }); err != nil {
		return 0, "did not converge within 90 s", nil
	}
	return ms(time.Since(start)), "", nil
}

func drainAll(host *member, fols []*member) {
	for _, m := range append([]*member{host}, fols...) {
		for len(m.events) > 0 {
			<-m.events
		}
	}
}

func waitEvent(ctx context.Context, ch <-chan player.Event, kind player.EventKind, ours bool) (time.Time, error) {
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case ev := <-ch:
			if ev.Kind == kind && (!ours || ev.Ours) {
				return ev.At, nil
			}
		case <-t.C:
			return time.Time{}, fmt.Errorf("no %v event within 10 s", kind)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// waitUntil polls cond every 10 ms until it holds or d passes.
func waitUntil(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", d)
		}
		if !pauseFor(ctx, 10*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// pauseFor waits d unless ctx ends first (pacing between benchmark steps).
func pauseFor(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// FormatTable prints results, with Syncplay's figures for comparison.
func FormatTable(w io.Writer, rs []Result) {
	fmt.Fprintf(w, "%-34s %8s %8s %8s %8s %6s\n", "metric (ms)", "p50", "p95", "p99", "max", "n")
	row := func(name string, s Stats) {
		fmt.Fprintf(w, "%-34s %8.2f %8.2f %8.2f %8.2f %6d\n", name, s.P50, s.P95, s.P99, s.Max, s.N)
	}
	for _, r := range rs {
		link := "loopback"
		if r.Config.Delay > 0 {
			link = fmt.Sprintf("link %v ± %v one-way", r.Config.Delay, r.Config.Jitter)
		}
		fmt.Fprintf(w, "\n%s, %d followers\n", link, r.Config.Followers)
		row("apply: host unpause → follower", r.Play)
		row("apply: host pause → follower", r.Pause)
		row("apply: host seek → follower", r.Seek)
		row("pause: |host − follower| frame", r.PauseFrame)
		row("steady: |follower − host|", r.Steady)
		if r.ConvergeErr != "" {
			fmt.Fprintf(w, "%-34s %s\n", "converge from 1.5 s behind", r.ConvergeErr)
		} else {
			fmt.Fprintf(w, "%-34s %8.0f\n", "converge from 1.5 s behind", r.Converge)
		}
	}
	fmt.Fprintln(w, "\n"+strings.TrimSpace(`
Syncplay on this kind of machine (medians): unpause 65–130 ms, pause 190–230 ms,
drift while playing 50–170 ms.`))
}
