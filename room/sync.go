package room

import (
	"context"
	"math"
	"time"

	"github.com/watchium/watchium-tui/player"
)

// Our own broadcast events, beside the spec's. Spec clients ignore them.
const (
	typeAnchor       = "sync"          // the host's timeline, at once and every AnchorEvery
	typeProbe        = "sync_probe"    // follower → host clock probe
	typeProbeReply   = "sync_reply"    // host → follower
	typeStateRequest = "state_request" // a (re)joining follower asks for the timeline now
)

// anchor is the host's timeline: at host wall time AtMS it was at Pos,
// moving at Speed if Playing.
type anchor struct {
	// Settled anchors were read off the host's frame steps; those sent at
	// the instant of a play or seek are not (mpv shows the first frames
	// early), so the controller waits for a settled one.
	Settled bool
	Pos     float64
	AtMS    float64
	Speed   float64
	Playing bool
	Epoch   string
	Seq     uint64
}

type anchorPayload struct {
	PlaybackPayload
	Playing bool   `json:"is_playing"`
	Reason  string `json:"reason"`
}

type probePayload struct {
	From string  `json:"from"`
	To   string  `json:"to"`
	T0   float64 `json:"t0"`
	T1   float64 `json:"t1,omitempty"`
	T2   float64 `json:"t2,omitempty"`
}

// at projects the anchor to host wall time ms.
func (a *anchor) at(hostMS float64) float64 {
	if !a.Playing {
		return a.Pos
	}
	return a.Pos + a.Speed*(hostMS-a.AtMS)/1000
}

// ownPosition is where our player is now, between frames.
func (r *Room) ownPosition(now time.Time) float64 {
	if r.player == nil {
		return 0
	}
	st := r.player.State()
	if r.s.gone {
		return st.Pos // a dead mpv's clock does not run
	}
	// The tracker lags the player when its events are still queued; then
	// the player's own latest reading is the better one.
	if st.Paused || st.Seeking || r.s.tracker.Latest().Before(st.PosAt) {
		return st.PositionAt(now)
	}
	if p, ok := r.s.tracker.Estimate(now); ok {
		return p
	}
	return st.PositionAt(now)
}

// hostPosition is where the host's player is at our local time now.
func (r *Room) hostPosition(now time.Time) (float64, bool) {
	a := r.s.anchor
	if a == nil {
		return 0, false
	}
	off, _, _ := r.s.clock.Offset()
	return a.at(wallMS(now) + off), true
}

// offsetToHost is own − host in seconds, if both are known.
func (r *Room) offsetToHost(now time.Time) (float64, bool) {
	if r.s.isHost() {
		return 0, true
	}
	if r.player == nil {
		return 0, false
	}
	hp, ok := r.hostPosition(now)
	if !ok {
		return 0, false
	}
	return r.ownPosition(now) - hp, true
}

func (r *Room) rttMS() float64 {
	if _, rtt, ok := r.s.clock.Offset(); ok {
		return rtt
	}
	if r.cfg.ServerRTT != nil {
		return float64(r.cfg.ServerRTT()) / float64(time.Millisecond)
	}
	return 0
}

// ---- host side ----

// hostPayload is the host's next timeline event: at time at its player is
// (or will be) at pos, moving at speed.
func (r *Room) hostPayload(pos float64, at time.Time, speed float64) PlaybackPayload {
	s := &r.s
	s.seq++
	if speed <= 0 {
		speed = 1
	}
	return PlaybackPayload{
		CurrentTime: pos, UserID: r.cfg.UserID, Username: s.username,
		Seq: s.seq, Epoch: s.epoch, Speed: speed, AtMS: wallMS(at),
	}
}

// publishAnchor tells followers the host's timeline now. play/pause go out
// as spec events (carrying the anchor); seeks go out at once as anchors and,
// debounced, as the spec's seek event.
func (r *Room) publishAnchor(reason string) {
	s := &r.s
	if r.player == nil || !s.isHost() {
		return
	}
	now := time.Now()
	st := r.player.State()
	if !st.Loaded {
		return
	}
	pos := r.ownPosition(now)
	if st.Paused {
		pos = st.Pos
	}
	p := r.hostPayload(pos, now, st.Speed)
	switch reason {
	case TypePlay, TypePause:
		r.post(reason, p)
		r.recordControl(reason, p)
	default:
		r.postEphemeral(typeAnchor, anchorPayload{PlaybackPayload: p, Playing: !st.Paused, Reason: reason})
	}
	if !st.Paused && (reason == TypePlay || reason == TypeSeek) {
		// A settled timeline as soon as the host's player has a few frames.
		r.later(settleAfter, func() { r.publishAnchor("settled") })
	}
	if reason == TypeSeek {
		sp := p
		s.pendingSeek = &sp
		r.after(r.cfg.SeekDebounce, &s.seekGen, func() {
			if s.pendingSeek != nil {
				r.post(TypeSeek, *s.pendingSeek)
				r.recordControl(TypeSeek, *s.pendingSeek)
				s.pendingSeek = nil
			}
		})
	}
}

// onPlayerEvent handles what our own mpv reports.
func (r *Room) onPlayerEvent(ctx context.Context, ev player.Event) {
	s := &r.s
	switch ev.Kind {
	case player.EventPosition:
		s.tracker.Observe(ev.Position, ev.At)
		return
	case player.EventSpeedChanged:
		s.tracker.SetSpeed(ev.Speed)
		if !ev.Ours && !s.isHost() && s.anchor != nil {
			r.detach("you changed the speed in mpv")
		}
		if s.isHost() {
			r.publishAnchor("speed")
		}
		return
	case player.EventPaused, player.EventUnpaused:
		s.tracker.SetPaused(ev.Kind == player.EventPaused, ev.Position)
		if ev.Kind == player.EventUnpaused {
			s.tracker.Observe(ev.Position, ev.At)
		}
	case player.EventSeeked:
		s.tracker.Reset(r.player.State())
		s.tracker.Observe(ev.Position, ev.At)
	case player.EventFileLoaded:
		s.tracker.Reset(r.player.State())
		r.refreshMedia(ctx)
		r.trackSoon()
		return
	case player.EventEndOfFile, player.EventShutdown:
		r.publishSnapshot()
		return
	}
	if s.isHost() {
		switch ev.Kind {
		case player.EventPaused:
			r.publishAnchor(TypePause)
		case player.EventUnpaused:
			r.publishAnchor(TypePlay)
		case player.EventSeeked:
			r.publishAnchor(TypeSeek)
		}
		r.trackSoon()
		r.publishSnapshot()
		return
	}
	if !ev.Ours && s.anchor != nil && !s.applying {
		switch ev.Kind {
		case player.EventPaused:
			r.detach("you paused your mpv")
		case player.EventUnpaused:
			r.detach("you unpaused your mpv")
		case player.EventSeeked:
			r.detach("you seeked in your mpv")
		}
	}
	r.publishSnapshot()
}

func (r *Room) refreshMedia(ctx context.Context) {
	if r.player == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if mi, err := r.player.Media(ctx); err == nil {
		r.s.media = MediaIdentity{Filename: mi.Filename, Duration: round3(mi.Duration), Size: mi.Size}
	}
}

// detach stops following after the person took over their own mpv.
func (r *Room) detach(why string) {
	if r.s.detached {
		return
	}
	r.s.detached = true
	r.resetSpeed()
	r.notice("%s: no longer following the host (/sync to follow again)", why)
	r.trackSoon()
	r.sendHeartbeat()
	r.publishSnapshot()
}

// playLead is how far ahead a /play from the room is scheduled, so that
// everyone, the host included, starts on the same frame: the slowest
// member's one-way delay plus a margin, within bounds.
func (r *Room) playLead() time.Duration {
	worst := 0.0
	for id, mi := range r.s.members {
		if id != r.cfg.UserID && mi.online {
			worst = max(worst, mi.meta.RTTMS)
		}
	}
	lead := time.Duration((worst/2 + 25) * float64(time.Millisecond))
	return min(max(lead, 30*time.Millisecond), 400*time.Millisecond)
}

// schedulePlay starts everyone at once: followers get the timeline with a
// start time slightly in the future, and the host's own mpv starts then.
func (r *Room) schedulePlay() error {
	s := &r.s
	st := r.player.State()
	if !st.Paused {
		return nil
	}
	lead := r.playLead()
	start := time.Now().Add(lead)
	p := r.hostPayload(st.Pos, start, st.Speed)
	r.post(TypePlay, p)
	r.recordControl(TypePlay, p)
	r.after(lead, &s.unpauseGen, func() {
		if s.isHost() {
			if err := r.player.Play(context.Background()); err != nil {
				r.log.Warn("room: play", "err", err)
			}
		}
	})
	return nil
}

// ---- follower side ----

// settleAfter is how long after a play or seek the host's frame steps are
// regular again.
const settleAfter = 250 * time.Millisecond

// onAnchor takes a timeline update from the host.
func (r *Room) onAnchor(ctx context.Context, p PlaybackPayload, playing bool, envMS int64, settled bool) {
	s := &r.s
	if p.Epoch != "" && p.Epoch == s.lastEpoch && p.Seq <= s.lastSeq {
		return // stale or reordered
	}
	if p.Epoch != "" {
		s.lastEpoch, s.lastSeq = p.Epoch, p.Seq
	}
	a := &anchor{Pos: p.CurrentTime, AtMS: p.AtMS, Speed: p.Speed, Playing: playing, Epoch: p.Epoch, Seq: p.Seq, Settled: settled}
	if a.AtMS == 0 {
		a.AtMS = float64(envMS) // a spec client: its envelope timestamp is all we have
	}
	if a.Speed <= 0 || math.IsNaN(a.Speed) || math.IsInf(a.Speed, 0) {
		a.Speed = 1
	}
	prev := s.anchor
	s.anchor = a
	jump := prev == nil || prev.Playing != a.Playing || prev.Epoch != a.Epoch ||
		math.Abs(prev.at(a.AtMS)-a.Pos) > 0.1
	if jump && !s.detached {
		r.log.Debug("room: host timeline jumped", "first", prev == nil, "pos", a.Pos, "playing", a.Playing, "seq", a.Seq)
		r.apply(ctx, prev == nil)
	}
	r.publishSnapshot()
}

// apply brings our player onto the host's timeline at once: the right
// pause state, on the same frame, or at the projected position. On the
// first anchor after joining, a player that is already playing near the
// host's position is left to the controller, so it converges without a
// visible jump.
func (r *Room) apply(ctx context.Context, first bool) {
	s := &r.s
	if r.player == nil || s.gone || s.anchor == nil || s.isHost() {
		return
	}
	a := s.anchor
	st := r.player.State()
	if !st.Loaded {
		return
	}
	s.applying = true
	defer func() { s.applying = false }()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	now := time.Now()
	if !a.Playing {
		s.unpauseGen++
		if !st.Paused {
			if err := r.player.Pause(ctx); err != nil {
				r.log.Warn("room: pause", "err", err)
			}
		}
		r.resetSpeed()
		// Rest on the host's frame: exact seek lands on the first frame at
		// or after the target, so aim a hair before it.
		if math.Abs(r.player.State().Pos-a.Pos) > 0.0005 {
			r.seekTo(ctx, math.Max(0, a.Pos-0.0001))
		}
		s.ctrl.Reset(time.Now(), true)
		return
	}
	hp, _ := r.hostPosition(now)
	own := r.ownPosition(now)
	r.log.Debug("room: applying host timeline", "own", own, "host", hp, "paused", st.Paused, "first", first)
	if st.Paused && own > hp && own-hp < 0.5 {
		// The host starts a moment from now (a scheduled /play): start
		// together, when its timeline reaches our frame.
		wait := time.Duration((own - hp) / a.Speed * float64(time.Second))
		r.after(wait, &s.unpauseGen, func() {
			if s.anchor != nil && s.anchor.Playing && !s.detached {
				_ = r.player.Play(context.Background())
				s.ctrl.Reset(time.Now(), false)
			}
		})
		return
	}
	if st.Paused && math.Abs(own-hp) < 0.1 {
		// Nearly there: start now; the controller removes the rest smoothly.
		if err := r.player.Play(ctx); err != nil {
			r.log.Warn("room: play", "err", err)
		}
		s.ctrl.Reset(now, false)
		return
	}
	if !st.Paused && (math.Abs(own-hp) < 0.1 || first && math.Abs(own-hp) < s.ctrl.SeekAbove) {
		return // the controller's job
	}
	r.resetSpeed()
	if st.Paused {
		// Seek to where the host will be once the seek is done, then start
		// exactly when the host gets there.
		lead := s.seekLatency + 0.03
		target := hp + lead*a.Speed
		r.seekTo(ctx, target)
		after := time.Now()
		hpNow, _ := r.hostPosition(after)
		wait := time.Duration((target - hpNow) / a.Speed * float64(time.Second))
		if wait <= 0 {
			_ = r.player.Play(ctx)
		} else {
			r.after(wait, &s.unpauseGen, func() {
				if s.anchor != nil && s.anchor.Playing && !s.detached {
					_ = r.player.Play(context.Background())
				}
			})
		}
	} else {
		r.seekTo(ctx, hp+s.seekLatency*a.Speed)
	}
	s.ctrl.Reset(time.Now(), true)
}

// seekTo seeks exactly and learns how long our seeks take.
func (r *Room) seekTo(ctx context.Context, t float64) {
	if t < 0 {
		t = 0
	}
	start := time.Now()
	if err := r.player.Seek(ctx, t); err != nil {
		r.log.Warn("room: seek", "target", t, "err", err)
		return
	}
	d := time.Since(start).Seconds()
	r.s.seekLatency = 0.7*r.s.seekLatency + 0.3*math.Min(d, 0.5)
}

func (r *Room) resetSpeed() {
	if r.player == nil || r.s.ctrl.Speed() == 1 {
		return
	}
	r.s.ctrl.ForceSpeed(1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.player.SetSpeed(ctx, 1); err != nil {
		r.log.Warn("room: speed", "err", err)
	}
}

// controlTick is the follower's drift correction, every ControlEvery.
func (r *Room) controlTick(ctx context.Context) {
	s := &r.s
	if r.player == nil || s.gone || s.isHost() || s.detached || s.anchor == nil || !s.anchor.Playing || !s.anchor.Settled {
		return
	}
	st := r.player.State()
	if st.Paused && st.Loaded && !st.Seeking && s.anchor.Settled {
		// The host plays and we do not (a start that never came through):
		// catch up now.
		r.apply(ctx, false)
		return
	}
	if !st.Loaded || st.Paused || st.Seeking || s.tracker.Steps() < 2 {
		return
	}
	now := time.Now()
	off, ok := r.offsetToHost(now)
	if !ok {
		return
	}
	act := s.ctrl.Update(now, off)
	if act.Seek {
		r.log.Debug("room: drift too large, seeking", "offset", off)
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if act.Speed > 0 {
			_ = r.player.SetSpeed(c, act.Speed)
		}
		hp, _ := r.hostPosition(time.Now())
		r.seekTo(c, hp+s.seekLatency*s.anchor.Speed)
		return
	}
	if act.Speed > 0 {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := r.player.SetSpeed(c, act.Speed); err != nil {
			r.log.Warn("room: speed", "err", err)
		}
	}
}

// ---- clock probes ----

func (r *Room) sendProbe() {
	s := &r.s
	if s.isHost() || s.hostID == "" {
		return
	}
	r.postEphemeral(typeProbe, probePayload{From: r.cfg.UserID, To: s.hostID, T0: wallMS(time.Now())})
}

// probeBurst measures the clock quickly after joining or a host change.
func (r *Room) probeBurst() {
	for i := 0; i < 4; i++ {
		r.later(time.Duration(i)*60*time.Millisecond, r.sendProbe)
	}
}

func (r *Room) requestState() {
	if r.s.isHost() || r.s.hostID == "" {
		return
	}
	r.postEphemeral(typeStateRequest, MemberPayload{UserID: r.cfg.UserID, Username: r.s.username})
	r.probeBurst()
}

// sendHeartbeat is the spec's heartbeat broadcast, every HeartbeatEvery.
func (r *Room) sendHeartbeat() {
	now := time.Now()
	off, ok := r.offsetToHost(now)
	hb := heartbeatExtra{
		HeartbeatPayload: HeartbeatPayload{UserID: r.cfg.UserID, CurrentTime: round3(r.ownPosition(now)), IsSynced: r.inSync(ok, off)},
		OffsetMS:         round1(off * 1000), RTTMS: round1(r.rttMS()), Detached: r.s.detached,
	}
	if r.player != nil {
		hb.IsPlaying = !r.player.State().Paused && !r.s.gone
	}
	hb.PlayerState = r.playerState()
	r.postEphemeral(TypeHeartbeat, hb)
	r.publishSnapshot()
}
