// Package bench measures the embedded realtime server the way a watch party
// loads it: how long a broadcast takes to reach every member of a room
// (fan-out latency, as percentiles over all deliveries) and how much memory
// the server spends per idle connection. `watchium-tui bench fanout` and the
// Go benchmarks of this package run it.
//
// It is a load generator, so it is deliberately fenced in: it only dials
// loopback addresses, bounds the number of connections and messages, caps
// its own run time, and stops by itself.
//
// The clients are bare gorilla WebSockets speaking vsn 2.0.0 through the
// shared codec (package phx) with small buffers, so a thousand of them in
// one process stay cheap. Every member
// joins realtime:room:bench-N; one sender per room pushes broadcasts as
// binary kind-3 frames (as realtime-js does) whose JSON payload carries the
// send time in Unix nanoseconds, and every other member records receive time
// minus send time when the kind-4 frame comes off its socket. Sender and
// receivers share one clock, so the numbers include the server's work, the
// loopback network, and the scheduling delay of the receiving goroutines.
package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type benchRoom struct {
	topic   string
	members []*member
	// closed-loop mode: receivers count down, the last one wakes the sender
	pending atomic.Int64
	ack     chan struct{}
}

type run struct {
	cfg       FanoutConfig
	closing   atomic.Bool
	warmLeft  atomic.Int64
	warmed    chan struct{}
	measLeft  atomic.Int64
	measured  chan struct{}
	failed    chan struct{}
	failOnce  sync.Once
	failErr   error
	evictions atomic.Int64
}

func (r *run) fail(err error) {
	r.failOnce.Do(func() { r.failErr = err; close(r.failed) })
}

// connect dials and joins every member, a few at a time.
func connect(ctx context.Context, wsURL string, r *run, rooms []*benchRoom) error {
	dialer := newDialer()
	jobs := make(chan *member)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range dialParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range jobs {
				if err := m.connect(ctx, dialer, wsURL, r); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		}()
	}
	var err error
feed:
	for _, rm := range rooms {
		for _, m := range rm.members {
			select {
			case jobs <- m:
			case err = <-errc:
				break feed
			case <-ctx.Done():
				err = ctx.Err()
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

// RunFanout runs one scenario against the server at url (http://127.0.0.1:PORT,
// optionally with ?apikey=…). On lost deliveries it returns the result so
// far together with an error.
func RunFanout(ctx context.Context, url string, cfg FanoutConfig) (FanoutResult, error) {
	return runFanout(ctx, url, cfg, nil)
}

// runFanout is RunFanout with a hook called right before the measured phase
// (benchmarks reset their timer there).
func runFanout(ctx context.Context, rawURL string, cfg FanoutConfig, measuring func()) (res FanoutResult, err error) {
	res.Config = cfg
	switch {
	case cfg.Rooms < 1 || cfg.Members < 2:
		return res, errors.New("bench: need at least 1 room of 2 members")
	case cfg.Rooms*cfg.Members > MaxConns:
		return res, fmt.Errorf("bench: %d connections is over the limit of %d", cfg.Rooms*cfg.Members, MaxConns)
	case cfg.Messages < 1 || cfg.Messages > MaxMessages:
		return res, fmt.Errorf("bench: messages per room must be 1..%d", MaxMessages)
	case cfg.Interval < 0:
		return res, errors.New("bench: negative interval")
	}
	if phase := time.Duration(cfg.Messages) * cfg.Interval; phase > MaxRunTime {
		return res, fmt.Errorf("bench: %d messages at %v would run %v, over the cap of %v", cfg.Messages, cfg.Interval, phase, MaxRunTime)
	}
	wsURL, err := socketURL(rawURL)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, MaxRunTime)
	defer cancel()

	r := &run{cfg: cfg, warmed: make(chan struct{}), measured: make(chan struct{}), failed: make(chan struct{})}
	receivers := int64(cfg.Rooms * (cfg.Members - 1))
	r.warmLeft.Store(receivers)
	r.measLeft.Store(receivers * int64(cfg.Messages))
	rooms := make([]*benchRoom, cfg.Rooms)
	for i := range rooms {
		rm := &benchRoom{topic: fmt.Sprintf("realtime:room:bench-%d", i), ack: make(chan struct{}, 1)}
		for range cfg.Members {
			rm.members = append(rm.members, &member{room: rm, done: make(chan struct{}), lat: make([]time.Duration, 0, cfg.Messages)})
		}
		rooms[i] = rm
	}
	defer func() {
		r.closing.Store(true)
		for _, rm := range rooms {
			for _, m := range rm.members {
				if m.ws != nil {
					_ = m.ws.Close()
				}
			}
		}
		for _, rm := range rooms {
			for _, m := range rm.members {
				if m.ws != nil {
					<-m.done
				}
			}
		}
	}()

	if err := connect(ctx, wsURL, r, rooms); err != nil {
		return res, err
	}

	// Warm-up: one broadcast per room that every member must see. It is
	// also the barrier that proves every member is in its room.
	for _, rm := range rooms {
		if err := rm.members[0].send("warm", 0); err != nil {
			return res, err
		}
	}
	select {
	case <-r.warmed:
	case <-r.failed:
		return res, r.failErr
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(drainTimeout):
		return res, fmt.Errorf("bench: warm-up broadcast did not reach %d members within %v", r.warmLeft.Load(), drainTimeout)
	}

	if measuring != nil {
		measuring()
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var wg sync.WaitGroup
	if cfg.Presence {
		period := PresencePeriod
		if phase := time.Duration(cfg.Messages) * cfg.Interval; phase < 3*period {
			period = max(phase/3, 100*time.Millisecond)
		}
		for i, rm := range rooms {
			wg.Add(1)
			// Rooms are offset within one step too, so the tracks of all
			// rooms are spread evenly instead of arriving in bursts.
			offset := period / time.Duration(cfg.Members) * time.Duration(i) / time.Duration(len(rooms))
			go func() { defer wg.Done(); rm.trackLoop(runCtx, r, period, offset) }()
		}
	}
	for i, rm := range rooms {
		wg.Add(1)
		// Stagger the rooms over one interval so they do not all fire at once.
		offset := time.Duration(0)
		if cfg.Interval > 0 {
			offset = cfg.Interval * time.Duration(i) / time.Duration(len(rooms))
		}
		go func() { defer wg.Done(); rm.sendLoop(runCtx, r, offset) }()
	}

	var waitErr error
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()
	select {
	case <-r.measured:
	case <-r.failed:
		waitErr = r.failErr
	case <-ctx.Done():
		waitErr = ctx.Err()
	case <-afterSenders(runCtx, sendersDone):
		waitErr = fmt.Errorf("bench: %d of %d deliveries missing %v after the last send", r.measLeft.Load(), receivers*int64(cfg.Messages), drainTimeout)
	}
	stopRun()
	<-sendersDone
	r.closing.Store(true)
	for _, rm := range rooms {
		for _, m := range rm.members {
			_ = m.ws.Close()
		}
	}
	var all []time.Duration
	for _, rm := range rooms {
		for _, m := range rm.members {
			<-m.done
			all = append(all, m.lat...)
		}
	}
	res.Deliveries = len(all)
	if len(all) > 0 {
		slices.Sort(all)
		res.P50, res.P95, res.P99 = pct(all, 50), pct(all, 95), pct(all, 99)
		res.Max = all[len(all)-1]
	}
	if n := r.evictions.Load(); n > 0 && waitErr != nil {
		waitErr = fmt.Errorf("%w (%d members evicted by the server as too slow)", waitErr, n)
	}
	return res, waitErr
}

// afterSenders fires drainTimeout after the senders finished.
func afterSenders(ctx context.Context, done <-chan struct{}) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
		t := time.NewTimer(drainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			close(out)
		case <-ctx.Done():
		}
	}()
	return out
}

func (rm *benchRoom) sendLoop(ctx context.Context, r *run, offset time.Duration) {
	sender := rm.members[0]
	if r.cfg.Interval == 0 {
		for i := range r.cfg.Messages {
			rm.pending.Store(int64(len(rm.members) - 1))
			if err := sender.send("tick", i); err != nil {
				r.fail(err)
				return
			}
			select {
			case <-rm.ack:
			case <-ctx.Done():
				return
			case <-time.After(drainTimeout):
				r.fail(fmt.Errorf("bench: broadcast %d in %s not delivered to all within %v", i, rm.topic, drainTimeout))
				return
			}
		}
		return
	}
	if !waitFor(ctx, offset) {
		return
	}
	tk := time.NewTicker(r.cfg.Interval)
	defer tk.Stop()
	for i := range r.cfg.Messages {
		if i > 0 {
			select {
			case <-tk.C:
			case <-ctx.Done():
				return
			}
		}
		if err := sender.send("tick", i); err != nil {
			r.fail(err)
			return
		}
	}
}

// trackLoop re-tracks each member's presence once per period, spread over
// the period and starting after offset, until ctx ends.
func (rm *benchRoom) trackLoop(ctx context.Context, r *run, period, offset time.Duration) {
	if !waitFor(ctx, offset) {
		return
	}
	step := period / time.Duration(len(rm.members))
	tk := time.NewTicker(step)
	defer tk.Stop()
	for n := 0; ; n++ {
		select {
		case <-tk.C:
		case <-ctx.Done():
			return
		}
		m := rm.members[n%len(rm.members)]
		m.wmu.Lock()
		m.ref++
		ref := strconv.Itoa(m.ref)
		m.wmu.Unlock()
		track, err := trackFrame(m.joinRef, ref, rm.topic, n, time.Now())
		if err == nil {
			err = m.writeText(track)
		}
		if err != nil && !r.closing.Load() {
			r.fail(fmt.Errorf("bench: track: %w", err))
			return
		}
	}
}

// waitFor waits d (nothing when d <= 0) unless ctx ends first.
func waitFor(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
