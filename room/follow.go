package room

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"
)

// The follower's engine: it keeps our player on the host's timeline. Small
// errors go to the DriftController (speed); discontinuities and large errors are
// met by seeking ahead and holding: land, paused, on a frame the host has
// not reached yet, then start when the host's clock reaches it. The
// alignment then does not depend on how long the seek took, which on a
// long-GOP HD file is hundreds of ms and varies from seek to seek.

type timelineKind int

const (
	timelineSame   timelineKind = iota
	timelineJumped              // play, pause, seek: apply at once
	timelineLanded              // the host's seek landed where it said
)

// timelineChange classifies a new host anchor against the previous one.
func timelineChange(prev, a *anchor) timelineKind {
	switch {
	case prev == nil || prev.Playing != a.Playing || prev.Epoch != a.Epoch:
		return timelineJumped
	case prev.Seeking && !a.Seeking && math.Abs(a.Pos-prev.Pos) < jumpAbove:
		return timelineLanded
	case a.Seeking && (!prev.Seeking || a.Pos != prev.Pos):
		return timelineJumped
	case !a.Playing && a.Pos != prev.Pos:
		return timelineJumped // paused: rest on the host's exact frame
	case math.Abs(prev.at(a.AtMS)-a.Pos) > jumpAbove:
		return timelineJumped
	}
	return timelineSame
}

// seekCost learns how long our player takes to land a seek on this file.
type seekCost struct{ recent []float64 }

func (c *seekCost) add(d time.Duration) {
	c.recent = append(c.recent, d.Seconds())
	if len(c.recent) > seekCostWindow {
		c.recent = c.recent[1:]
	}
}

func (c *seekCost) reset() { c.recent = c.recent[:0] }

// expect is what the next seek will probably take: the third slowest of
// the recent ones (the slowest when there are few), so most seeks land
// early and wait rather than late and go again.
func (c *seekCost) expect() float64 {
	if len(c.recent) == 0 {
		return defaultSeekCost
	}
	s := append([]float64(nil), c.recent...)
	sort.Float64s(s)
	if len(s) < 4 {
		return s[len(s)-1]
	}
	return s[len(s)-3]
}

// holdPlan is a follower parked on a frame ahead of the host.
type holdPlan struct {
	gen    int     // plans replace each other; stale completions are dropped
	tries  int     // seeks made for this correction
	landed bool    // our seek finished
	pos    float64 // where we landed
}

// playerJob is one command sequence for our player. The worker runs jobs
// one at a time, in order, off the room's goroutine (a seek on an HD file
// takes hundreds of ms, and presence or chat must not wait for it); done
// then runs on the room's goroutine.
type playerJob struct {
	what string
	run  func(ctx context.Context, p Player) error
	done func(err error)
}

type inJobDone struct {
	job *playerJob
	err error
}

// enqueue hands a job to the player worker.
func (r *Room) enqueue(what string, run func(ctx context.Context, p Player) error, done func(err error)) {
	r.s.busy++
	r.jobs.put(&playerJob{what: what, run: run, done: done})
}

// runPlayerJobs is the player worker; it stops when the room stops.
func (r *Room) runPlayerJobs(ctx context.Context) {
	for {
		items, ok := r.jobs.wait(ctx.Done())
		for _, it := range items {
			j := it.(*playerJob)
			jctx, cancel := context.WithTimeout(ctx, jobTimeout)
			err := j.run(jctx, r.player)
			cancel()
			r.in.put(inJobDone{job: j, err: err})
		}
		if !ok || ctx.Err() != nil {
			return
		}
	}
}

func (r *Room) onJobDone(m inJobDone) {
	r.s.busy--
	if m.err != nil {
		r.log.Warn("room: player", "what", m.job.what, "err", m.err)
	}
	if m.job.done != nil {
		m.job.done(m.err)
	}
}

// timedSeek seeks exactly and reports how long the landing took.
func timedSeek(ctx context.Context, now func() time.Time, p Player, t float64) (time.Duration, error) {
	start := now()
	err := p.Seek(ctx, math.Max(0, t))
	return now().Sub(start), err
}

// apply brings our player onto the host's timeline at once: the right
// pause state, on the same frame, or started when the host reaches our
// frame. A player already playing within the controller's reach (a late
// joiner, a small jump of the host's timeline) is left to speed, so it
// converges without a jump.
func (r *Room) apply() {
	s := &r.s
	if r.player == nil || s.gone || s.anchor == nil || s.isHost() {
		return
	}
	a := s.anchor
	st := r.player.State()
	if s.ended && s.missing == "" && s.loading == "" && st.Duration > 0 && a.Pos < st.Duration-0.5 {
		if cur, ok := s.playlist.CurrentEntry(); !ok || cur.Name == s.media.Filename {
			s.ended = false // the host went back into the file we finished
		}
	}
	if !st.Loaded || s.loading != "" || s.ended || s.missing != "" {
		return // the next file's load re-applies
	}
	s.unpauseGen++ // a scheduled start belongs to the old timeline
	s.hold = nil
	if !a.Playing {
		r.restOn(a.Pos)
		return
	}
	now := r.now()
	hp, _ := r.hostPosition(now)
	own := r.ownPosition(now)
	r.log.Debug("room: applying host timeline", "own", own, "host", hp, "paused", st.Paused, "seeking", a.Seeking)
	switch decideApply(a.Seeking, st.Paused, own, hp, s.ctrl.SeekAbove) {
	case applySeekToTarget:
		// The host is still landing: seek to its target now, in parallel,
		// and start when its clock starts.
		r.seekAhead(a.Pos)
	case applyStartAtOwnFrame:
		s.hold = r.newHold(own)
		r.releaseAt(own)
	case applyStartNow:
		r.startNow()
	case applyBySpeed:
		// The controller's job, no jump.
	case applyHoldHere:
		r.holdHere()
	default:
		r.seekAhead(-1)
	}
}

// applyMove is what a follower does about a new host timeline.
type applyMove int

const (
	applySeekAhead       applyMove = iota // seek where the host will be, hold, release
	applySeekToTarget                     // the host is still landing: seek to its target beside it
	applyStartAtOwnFrame                  // paused a little ahead: start when the host reaches our frame
	applyStartNow                         // paused a hair behind: start, speed removes the rest
	applyBySpeed                          // playing and close: the controller's job
	applyHoldHere                         // playing a little ahead: pause until the host catches up
)

// decideApply chooses how a follower meets a playing host's new timeline,
// from whether the host is still seeking, whether our player is paused,
// and both positions now. seekAbove is the controller's reach.
func decideApply(hostSeeking, paused bool, own, host, seekAbove float64) applyMove {
	switch {
	case hostSeeking:
		return applySeekToTarget
	case paused && own >= host && own-host < holdAheadBelow:
		// Already ahead (a /play scheduled a moment from now).
		return applyStartAtOwnFrame
	case paused && own < host && host-own < startNowBelow:
		return applyStartNow
	case !paused && math.Abs(own-host) < seekAbove:
		return applyBySpeed
	case !paused && own > host && own-host < holdAheadBelow:
		return applyHoldHere
	}
	return applySeekAhead
}

func (r *Room) newHold(pos float64) *holdPlan {
	r.s.holdGen++
	return &holdPlan{gen: r.s.holdGen, landed: true, pos: pos}
}

// restOn pauses on the host's exact frame. An exact seek lands on the first
// frame at or after the target, so it aims a hair before it.
func (r *Room) restOn(pos float64) {
	r.resetSpeed()
	r.enqueue("rest on the host's frame", func(ctx context.Context, p Player) error {
		if !p.State().Paused {
			if err := p.Pause(ctx); err != nil {
				return err
			}
		}
		if math.Abs(p.State().Pos-pos) <= 0.0005 {
			return nil
		}
		_, err := timedSeek(ctx, r.now, p, pos-0.0001)
		return err
	}, func(error) { r.s.ctrl.Reset(r.now(), true) })
}

func (r *Room) startNow() {
	r.enqueue("start", func(ctx context.Context, p Player) error { return p.Play(ctx) },
		func(error) { r.s.ctrl.Reset(r.now(), false) })
}

// holdHere pauses a follower that is ahead until the host catches up.
func (r *Room) holdHere() {
	s := &r.s
	r.resetSpeed()
	s.holdGen++
	h := &holdPlan{gen: s.holdGen}
	s.hold = h
	r.enqueue("hold until the host catches up", func(ctx context.Context, p Player) error { return p.Pause(ctx) },
		func(err error) {
			if s.hold != h {
				return
			}
			h.landed, h.pos = true, r.player.State().Pos
			r.release()
		})
}

// seekAhead lands our player, paused, where the host will be once the seek
// is done (our learned seek time plus a margin), or on hostTarget (>= 0)
// while the host itself is still landing there; release then starts it.
func (r *Room) seekAhead(hostTarget float64) {
	s := &r.s
	tries := 0
	if s.hold != nil {
		tries = s.hold.tries
	}
	target := hostTarget
	if target < 0 {
		hp, _ := r.hostPosition(r.now().Add(time.Duration((s.seekCost.expect() + seekMargin) * float64(time.Second))))
		target = hp
	}
	r.resetSpeed()
	s.holdGen++
	h := &holdPlan{gen: s.holdGen, tries: tries + 1}
	s.hold = h
	var took time.Duration
	seeked := false
	r.enqueue("seek ahead", func(ctx context.Context, p Player) error {
		if !p.State().Paused {
			if err := p.Pause(ctx); err != nil {
				return err
			}
		}
		if st := p.State(); !st.Seeking && math.Abs(st.Pos-target) < 0.0005 {
			return nil // already there (a held play): nothing to decode
		}
		var err error
		seeked = true
		took, err = timedSeek(ctx, r.now, p, target)
		return err
	}, func(err error) {
		if err == nil && seeked {
			s.seekCost.add(took)
		}
		if seeked {
			s.stats.Seeks++
		}
		if s.hold != h {
			return // replaced by a newer plan
		}
		h.landed, h.pos = true, r.player.State().Pos
		if !r.player.State().Buffering {
			r.reportReady() // else once the cache has filled (onBuffering)
		}
		r.release()
	})
}

// release starts a holding follower exactly when the host's clock reaches
// its frame; one that landed too late seeks ahead again, or after
// seekAheadTries starts at once and leaves the rest to speed.
func (r *Room) release() {
	s := &r.s
	h, a := s.hold, s.anchor
	if h == nil || !h.landed || a == nil || s.detached {
		return
	}
	if !a.Playing {
		s.hold = nil
		r.restOn(a.Pos)
		return
	}
	if a.Seeking {
		return // the host's landing anchor releases us
	}
	hp, _ := r.hostPosition(r.now())
	switch decideRelease(hp-h.pos, h.tries) {
	case releaseOnTime:
		r.releaseAt(h.pos)
	case releaseLateStart:
		s.stats.LateStarts++
		fallthrough
	case releaseStartNow:
		s.hold = nil
		r.startNow()
	default:
		s.stats.Retries++
		r.seekAhead(-1)
	}
}

// releaseMove is what a follower that landed, paused, does next.
type releaseMove int

const (
	releaseOnTime    releaseMove = iota // ahead of the host: start when it reaches our frame
	releaseStartNow                     // a hair late: start now, speed removes the rest
	releaseLateStart                    // late, out of tries: start now and say so
	releaseSeekAgain                    // late: seek ahead again
)

// decideRelease chooses from how late we landed (host − our frame, in
// seconds; negative is early) and how many seeks this correction made.
func decideRelease(late float64, tries int) releaseMove {
	switch {
	case late <= 0:
		return releaseOnTime
	case late <= releaseLate:
		return releaseStartNow
	case tries >= seekAheadTries:
		return releaseLateStart
	}
	return releaseSeekAgain
}

// releaseAt starts our player when the host's timeline reaches pos.
func (r *Room) releaseAt(pos float64) {
	s := &r.s
	hp, _ := r.hostPosition(r.now())
	wait := time.Duration((pos - hp) / s.anchor.Speed * float64(time.Second))
	h := s.hold
	r.after(wait, &s.unpauseGen, func() {
		if s.hold != h || s.anchor == nil || !s.anchor.Playing || s.anchor.Seeking || s.detached {
			return
		}
		s.hold = nil
		r.startNow()
	})
}

// resetSpeed ends a speed correction: the player goes back to the room's
// speed.
func (r *Room) resetSpeed() {
	if r.player == nil {
		return
	}
	s := &r.s
	base := r.baseSpeed()
	// A host's or a detached member's own speed is theirs; only a
	// correction of ours is undone.
	if s.ctrl.Speed() == 1 && (s.isHost() || s.detached || r.player.State().Speed == base) {
		return
	}
	s.ctrl.ForceSpeed(1)
	r.enqueue(fmt.Sprintf("speed %g", base), func(ctx context.Context, p Player) error { return p.SetSpeed(ctx, base) }, nil)
}

// baseSpeed is the room's playback speed: the host's, which a follower's
// controller multiplies by its small correction (the controller works
// around 1.0).
func (r *Room) baseSpeed() float64 {
	if a := r.s.anchor; a != nil && !r.s.isHost() && a.Speed > 0 {
		return a.Speed
	}
	return 1
}

// onBuffering: a stalled player is not out of sync by choice, and no speed
// nudge should fight it.
func (r *Room) onBuffering() {
	if st := r.player.State(); st.Buffering {
		r.resetSpeed()
		r.s.ctrl.Reset(r.now(), false)
	} else if h := r.s.hold; h != nil && h.landed {
		r.reportReady() // landed while the cache was filling: ready now
	}
	r.trackSoon()
	r.publishSnapshot()
}

// controlTick is the follower's drift correction, every ControlEvery.
func (r *Room) controlTick() {
	s := &r.s
	if r.player == nil || s.gone || s.isHost() || s.detached || s.anchor == nil || !s.anchor.Playing || !s.anchor.Settled ||
		s.hold != nil || s.busy > 0 || s.ended || s.missing != "" {
		return
	}
	st := r.player.State()
	if st.Buffering || st.Seeking || !st.Loaded {
		return
	}
	if st.Paused {
		// The host plays and we do not (a start that never came through):
		// catch up now.
		r.apply()
		return
	}
	if s.tracker.Steps() < 2 {
		return
	}
	now := r.now()
	off, ok := r.offsetToHost(now)
	if !ok {
		return
	}
	// The controller works in wall seconds at speed 1: at the room's speed
	// b a correction removes b times as much of the file per second.
	act := s.ctrl.Update(now, off/r.baseSpeed())
	if act.Speed > 0 {
		speed := act.Speed * r.baseSpeed()
		r.enqueue("speed", func(ctx context.Context, p Player) error { return p.SetSpeed(ctx, speed) }, nil)
	}
	if act.Seek {
		r.log.Debug("room: drift too large, seeking ahead", "offset", off)
		if off > 0 && off < holdAheadBelow {
			r.holdHere()
		} else {
			r.seekAhead(-1)
		}
	}
}

// SyncStats counts how the follower's corrections went, for the members
// pane and the sync benchmark.
type SyncStats struct {
	Seeks      int // seeks made to follow the host
	Retries    int // seek-aheads that landed late and went again
	LateStarts int // gave up seeking ahead and started late, speed doing the rest
	// Unverified counts host events dropped because they did not verify
	// against the host's key (forged, or the server's unsigned copies).
	Unverified int
	// RefusedHosts counts host claims (new_host, a presence claim, an
	// election) refused because the database did not name the claimant
	// within the gate's window.
	RefusedHosts int
}
