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

// reasonSeeking is the anchor a host sends when its own seek starts, so
// followers decode the target at the same time as the host.
const reasonSeeking = "seeking"

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
	// Seeking: the host's player is still landing on Pos; its clock starts
	// there only once a later anchor says it landed.
	Seeking bool
	// Round names the host's wait for everyone at this target, if any.
	Round string
	// Received is our local time when the anchor arrived.
	Received time.Time
}

type anchorPayload struct {
	PlaybackPayload
	Playing bool   `json:"is_playing"`
	Reason  string `json:"reason"`
	Seeking bool   `json:"seeking,omitempty"`
	Round   string `json:"round,omitempty"`
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
	if !a.Playing || a.Seeking {
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
	if rd := s.round; rd != nil && reason != TypePlay && reason != TypePause {
		r.roundAnchor(rd) // holding: the timeline is the round's target
		return
	}
	now := r.now()
	st := r.player.State()
	if !st.Loaded {
		return
	}
	pos := r.ownPosition(now)
	if st.Paused || st.Seeking {
		pos = st.Pos // while seeking, the target: nothing moves until it lands
	}
	p := r.hostPayload(pos, now, st.Speed)
	switch reason {
	case TypePlay, TypePause:
		r.post(reason, p)
		r.recordControl(reason, p)
	default:
		r.postEphemeral(typeAnchor, anchorPayload{PlaybackPayload: p, Playing: !st.Paused, Reason: reason, Seeking: st.Seeking || reason == reasonSeeking})
	}
	if !st.Paused && (reason == TypePlay || reason == TypeSeek) {
		// A settled timeline as soon as the host's player has a few frames.
		r.later(settleAfter, func() { r.publishAnchor("settled") })
	}
	if !st.Paused && reason == "speed" {
		// mpv moves to a new speed over a few hundred ms (its audio
		// buffer); the timeline read off frame steps after that is exact.
		r.later(speedSettleAfter, func() { r.publishAnchor("settled") })
	}
	if reason == TypeSeek {
		r.debounceSeekEvent(p)
	}
}

// debounceSeekEvent sends the spec's seek event SeekDebounce after the last
// of a run of seeks (followers have had the anchor at once).
func (r *Room) debounceSeekEvent(p PlaybackPayload) {
	s := &r.s
	s.pendingSeek = &p
	r.after(r.cfg.SeekDebounce, &s.seekGen, func() {
		if s.pendingSeek != nil {
			r.post(TypeSeek, *s.pendingSeek)
			r.recordControl(TypeSeek, *s.pendingSeek)
			s.pendingSeek = nil
		}
	})
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
	case player.EventSeekStarted:
		if s.isHost() {
			st := r.player.State()
			playing := !st.Paused || s.round != nil
			r.cancelRound("")
			// Followers start decoding the target now, beside us, rather
			// than after we land; with wait for everyone, we all start
			// once everyone has.
			if !playing || !r.beginRound(ev.Position, st.Speed) {
				r.publishAnchor(reasonSeeking)
			}
		}
		r.publishSnapshot()
		return
	case player.EventBuffering:
		r.onBuffering()
		return
	case player.EventFileLoaded:
		s.ended = false
		s.tracker.Reset(r.player.State())
		s.seekCost.reset() // seek times belong to a file
		r.fileLoaded(ctx, 0)
		return
	case player.EventEndOfFile:
		s.ended = true
		if s.isHost() {
			r.hostEndOfFile()
		}
		r.publishSnapshot()
		return
	case player.EventShutdown:
		r.publishSnapshot()
		return
	}
	if !ev.Ours && (s.loading != "" || r.now().Before(s.switchUntil) || (s.ended || s.missing != "") && !s.isHost()) {
		// The file switch's own events (keep-open's pause at the end of
		// the previous file), not the person's; and a member without the
		// room's file follows nothing to detach from.
		r.publishSnapshot()
		return
	}
	if s.isHost() {
		if rd := s.round; rd != nil {
			switch {
			case ev.Kind == player.EventSeeked:
				rd.landed = true
				r.debounceSeekEvent(r.hostPayload(rd.pos, r.now(), rd.speed))
				r.maybeStartRound()
				r.publishSnapshot()
				return
			case ev.Ours:
				return // our own hold
			default:
				r.cancelRound("you took over in mpv")
			}
		}
		if ev.Kind == player.EventUnpaused && !ev.Ours && r.holdPlayForBusy() {
			return
		}
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
	if !ev.Ours && s.anchor != nil && s.busy == 0 {
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

// fileLoaded: our player opened a file (ours or the person's doing). What
// it is, mpv is asked off the room's goroutine (a busy mpv answers late);
// the answer comes back through the room's queue.
func (r *Room) fileLoaded(ctx context.Context, try int) {
	if r.player == nil {
		return
	}
	p := r.player
	go func() {
		rctx, cancel := context.WithTimeout(ctx, mediaReadTimeout)
		mi, err := p.Media(rctx)
		cancel()
		r.in.put(inTimer{fn: func() { r.mediaRead(ctx, try, mi, err) }})
	}()
}

func (r *Room) mediaRead(ctx context.Context, try int, mi player.MediaInfo, err error) {
	if err != nil {
		r.log.Warn("room: reading what mpv plays", "err", err, "try", try+1)
		// A host whose file changed must still move the room.
		if try+1 < mediaRetries && ctx.Err() == nil {
			r.later(mediaRetryEvery, func() { r.fileLoaded(ctx, try+1) })
		}
		return
	}
	r.s.media = mediaIdentity(mi)
	if r.s.isHost() {
		r.hostFileChanged()
	}
	r.trackSoon()
	r.publishSnapshot()
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
	var rtts []float64
	for id, mi := range r.s.members {
		if id != r.cfg.UserID && mi.online {
			rtts = append(rtts, mi.meta.RTTMS)
		}
	}
	return playLead(rtts)
}

// playLead is the start delay for members whose round trips to us are
// rttsMS: the slowest one-way delay plus a margin, within bounds.
func playLead(rttsMS []float64) time.Duration {
	worst := 0.0
	for _, rtt := range rttsMS {
		worst = max(worst, rtt)
	}
	lead := time.Duration(worst/2*float64(time.Millisecond)) + playLeadMargin
	return min(max(lead, playLeadMin), playLeadMax)
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
	start := r.now().Add(lead)
	p := r.hostPayload(st.Pos, start, st.Speed)
	r.post(TypePlay, p)
	r.recordControl(TypePlay, p)
	r.after(lead, &s.unpauseGen, func() {
		if s.isHost() {
			r.enqueue("start", func(ctx context.Context, p Player) error { return p.Play(ctx) }, nil)
		}
	})
	return nil
}

// ---- follower side ----

// onAnchor takes a timeline update from the host.
func (r *Room) onAnchor(p PlaybackPayload, playing, seeking bool, round string, envMS int64, settled bool) {
	s := &r.s
	if p.Epoch != "" && p.Epoch == s.lastEpoch && p.Seq <= s.lastSeq {
		return // stale or reordered
	}
	if p.Epoch != "" {
		s.lastEpoch, s.lastSeq = p.Epoch, p.Seq
	}
	a := &anchor{Pos: p.CurrentTime, AtMS: p.AtMS, Speed: p.Speed, Playing: playing, Seeking: seeking, Round: round, Epoch: p.Epoch, Seq: p.Seq, Settled: settled, Received: r.now()}
	if a.AtMS == 0 {
		a.AtMS = float64(envMS) // a spec client: its envelope timestamp is all we have
	}
	r.takeAnchor(a)
}

// specReportAnchor decides whether a spec-only host's presence report
// (position and playing state, tracked every 3 s) becomes the timeline: it
// is all such a host sends between its events, and what corrects drift.
func specReportAnchor(cur *anchor, rep presenceMeta, now time.Time) (*anchor, bool) {
	if cur != nil && now.Sub(cur.Received) < reportQuiet {
		return nil, false
	}
	return &anchor{Pos: rep.CurrentTime, AtMS: wallMS(now), Speed: 1, Playing: rep.IsPlaying, Settled: true, Received: now}, true
}

// onHostReport follows a spec-only host from its presence.
func (r *Room) onHostReport(rep presenceMeta, now time.Time) {
	if a, ok := specReportAnchor(r.s.anchor, rep, now); ok {
		r.takeAnchor(a)
	}
}

// takeAnchor makes a the host's timeline, and moves our player at once when
// the timeline jumped.
func (r *Room) takeAnchor(a *anchor) {
	s := &r.s
	if a.Speed <= 0 || math.IsNaN(a.Speed) || math.IsInf(a.Speed, 0) {
		a.Speed = 1
	}
	prev := s.anchor
	s.anchor = a
	if prev != nil && prev.Speed != a.Speed && !s.detached {
		// The host changed the room's speed: ours follows at once; the
		// controller's corrections are relative to it.
		r.resetSpeed()
		s.ctrl.Reset(r.now(), false)
	}
	switch timelineChange(prev, a) {
	case timelineJumped:
		if !s.detached {
			r.log.Debug("room: host timeline jumped", "first", prev == nil, "pos", a.Pos, "playing", a.Playing, "seeking", a.Seeking, "seq", a.Seq)
			r.apply()
		}
	case timelineLanded:
		// The host landed where it announced: a follower holding there
		// starts when the host's clock reaches its frame.
		if !s.detached && s.hold != nil && s.hold.landed {
			r.release()
		}
	}
	r.publishSnapshot()
}

// ---- clock probes ----

func (r *Room) sendProbe() {
	s := &r.s
	if s.isHost() || s.hostID == "" {
		return
	}
	r.postEphemeral(typeProbe, probePayload{From: r.cfg.UserID, To: s.hostID, T0: wallMS(r.now())})
}

// probeBurst measures the clock quickly after joining or a host change.
func (r *Room) probeBurst() {
	for i := 0; i < probeBurst; i++ {
		r.later(time.Duration(i)*probeBurstGap, r.sendProbe)
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
	now := r.now()
	off, ok := r.offsetToHost(now)
	hb := heartbeatExtra{
		HeartbeatPayload: HeartbeatPayload{UserID: r.cfg.UserID, CurrentTime: round3(r.ownPosition(now)), IsSynced: r.inSync(ok, off)},
		OffsetMS:         round1(off * 1000), RTTMS: round1(r.rttMS()), Detached: r.s.detached,
	}
	if r.player != nil {
		hb.IsPlaying = !r.player.State().Paused && !r.s.gone
	}
	hb.Missing = r.s.missing
	hb.PlayerState, hb.BufferPercent = r.playerState()
	hb.IsSynced = hb.IsSynced || busy(hb.PlayerState) && !r.s.detached
	r.postEphemeral(TypeHeartbeat, hb)
	r.publishSnapshot()
}

// mediaIdentity is how the room names what mpv plays.
func mediaIdentity(mi player.MediaInfo) MediaIdentity {
	return MediaIdentity{Filename: mi.Filename, Duration: round3(mi.Duration), Size: mi.Size}
}
