package room

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Wait for everyone: when the host seeks while playing, its own mpv lands
// paused and the room holds at the target until every follower with a
// player has landed there too (or WaitTimeout passes); then everyone starts
// on one scheduled instant, as a /play from the room does. Jellyfin's
// SyncPlay and Plex work this way; without it, whoever decodes slowest
// starts late and has to chase the others.

// typeReady is a follower's "landed on the round's target" (our event).
const typeReady = "sync_ready"

type readyPayload struct {
	UserID string `json:"user_id"`
	Round  string `json:"round"`
}

// roundAnchor is the seeking anchor of a round, sent again unchanged (same
// round, same target) whenever the host would refresh its timeline.
func (r *Room) roundAnchor(rd *waitRound) {
	p := r.hostPayload(rd.pos, r.now(), rd.speed)
	r.postEphemeral(typeAnchor, anchorPayload{PlaybackPayload: p, Playing: true, Reason: reasonSeeking, Seeking: true, Round: rd.id})
}

// waitRound is the host holding at a seek target.
type waitRound struct {
	id      string
	pos     float64
	speed   float64
	waiting map[string]bool // members not yet ready
	landed  bool            // the host's own seek is done
}

// waitList is who a round waits for: online members with a player who
// follow (web members report no landing, detached ones do not follow).
func (r *Room) waitList() map[string]bool {
	out := map[string]bool{}
	for id, mi := range r.s.members {
		if id != r.cfg.UserID && mi.online && !mi.specOnly && !mi.silent && !mi.meta.Detached && r.hasPlayer(id, mi) && mi.meta.Media.Filename != "" && !r.lacksCurrent(mi) {
			out[id] = true
		}
	}
	return out
}

// lacksCurrent: the member said it does not have the playing entry.
func (r *Room) lacksCurrent(mi *memberInfo) bool {
	cur, ok := r.s.playlist.CurrentEntry()
	return ok && mi.meta.Missing == cur.Name
}

// beginRound starts holding at the host's seek target, if the room waits
// and anyone needs waiting for; it reports whether it did.
func (r *Room) beginRound(target float64, speed float64) bool {
	s := &r.s
	if !s.waitForAll || r.player == nil {
		return false
	}
	waiting := r.waitList()
	if len(waiting) == 0 {
		return false
	}
	if speed <= 0 {
		speed = 1
	}
	s.roundN++
	s.round = &waitRound{id: fmt.Sprintf("%s:%d", s.epoch, s.roundN), pos: target, speed: speed, waiting: waiting}
	r.roundAnchor(s.round)
	// Our own mpv lands paused; it starts with everyone.
	r.enqueue("hold for everyone", func(ctx context.Context, pl Player) error { return pl.Pause(ctx) }, nil)
	r.after(r.cfg.WaitTimeout, &s.roundGen, func() { r.startRound(true) })
	r.publishSnapshot()
	return true
}

// onReady counts a follower that landed.
func (r *Room) onReady(p readyPayload) {
	rd := r.s.round
	if rd == nil || p.Round != rd.id || !rd.waiting[p.UserID] {
		return
	}
	delete(rd.waiting, p.UserID)
	r.publishSnapshot()
	r.maybeStartRound()
}

func (r *Room) maybeStartRound() {
	if rd := r.s.round; rd != nil && rd.landed && len(rd.waiting) == 0 {
		r.startRound(false)
	}
}

// startRound starts everyone on one instant a moment from now.
func (r *Room) startRound(timedOut bool) {
	s := &r.s
	rd := s.round
	if rd == nil {
		return
	}
	s.round = nil
	s.roundGen++
	if timedOut && len(rd.waiting) > 0 {
		r.notice("started without %s (still seeking or buffering after %v)", r.names(rd.waiting), r.cfg.WaitTimeout)
	}
	pos := rd.pos
	if st := r.player.State(); st.Loaded && !st.Seeking {
		pos = st.Pos // the frame we actually landed on
	}
	// Everyone has landed and waits paused, so their unpause is as quick
	// as after a /play, and the round uses a /play's lead. (A floor of
	// 150 ms, later 50, put every settled seek that much behind what the
	// members' decoding made necessary.)
	lead := r.playLead()
	p := r.hostPayload(pos, r.now().Add(lead), rd.speed)
	r.post(TypePlay, p)
	r.recordControl(TypePlay, p)
	r.after(lead, &s.unpauseGen, func() {
		if s.isHost() {
			r.enqueue("start with everyone", func(ctx context.Context, pl Player) error { return pl.Play(ctx) }, nil)
		}
	})
	r.publishSnapshot()
}

// cancelRound drops a round the host overrode (paused, seeked again, or
// unpaused by hand).
func (r *Room) cancelRound(why string) {
	if rd := r.s.round; rd != nil {
		if len(rd.waiting) > 0 && why != "" {
			r.notice("%s: no longer waiting for %s", why, r.names(rd.waiting))
		}
		r.s.round = nil
		r.s.roundGen++
	}
}

func (r *Room) names(ids map[string]bool) string {
	var ns []string
	for id := range ids {
		ns = append(ns, r.nameOf(id))
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

// reportReady tells the host we landed on its round's target.
func (r *Room) reportReady() {
	a := r.s.anchor
	if a == nil || !a.Seeking || a.Round == "" || r.s.isHost() {
		return
	}
	r.postEphemeral(typeReady, readyPayload{UserID: r.cfg.UserID, Round: a.Round})
}

// SetWaitForEveryone turns the room's wait for everyone on or off (the
// host's setting decides; /wait on|off).
func (r *Room) SetWaitForEveryone(ctx context.Context, on bool) error {
	return r.do(ctx, func() error {
		r.s.waitForAll = on
		if !on {
			r.startRound(false)
		}
		return nil
	})
}

// holdPlayForBusy: the host pressed play while someone still seeks or
// buffers. With wait for everyone, playback holds (and the host is told
// why) until they are ready, as after a seek; it reports whether it held.
func (r *Room) holdPlayForBusy() bool {
	s := &r.s
	if !s.waitForAll || s.round != nil {
		return false
	}
	var waiting []string
	for id := range r.waitList() {
		if mi := s.members[id]; busy(mi.meta.PlayerState) {
			waiting = append(waiting, fmt.Sprintf("%s (%s)", mi.meta.Username, mi.meta.PlayerState))
		}
	}
	if len(waiting) == 0 {
		return false
	}
	st := r.player.State()
	if !r.beginRound(st.Pos, st.Speed) {
		return false
	}
	s.round.landed = true // we are where we start from
	sort.Strings(waiting)
	r.notice("holding playback: waiting for %s (/wait off to play regardless)", strings.Join(waiting, ", "))
	return true
}
