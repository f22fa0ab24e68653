package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// What keeps the room truthful and lossless through faults: connection
// events for scripts, catch-up of missed chat after every rejoin, members
// that stop responding, a dead mpv, and host actions that could not be
// recorded while the server was away.

// ConnectionChanged is sent whenever the socket's state changes, so bots
// and the UI see trouble: connecting, open, reconnecting (with the attempt
// and reason) or closed.
type ConnectionChanged struct {
	ConnState
	At time.Time
}

// notRespondingAfter is how long a member may stay silent before the room
// shows it as not responding: members heartbeat every 3 s, so this is two
// missed heartbeats plus a margin, within the 10 s the room promises.
const notRespondingAfter = 7 * time.Second

// rejoinGrace is how long after our own reconnect members missing from
// presence are assumed to be reconnecting too (a server restart drops
// everyone at once; they come back within a backoff step or two): no
// "left"/"is back" notices, no new host, unless they stay away.
const rejoinGrace = 5 * time.Second

// liveness is what the room knows of a member's signs of life.
type liveness struct {
	heardAt    time.Time // last heartbeat, or when it (re)appeared in presence
	beats      int       // heartbeats heard
	silent     bool      // shown as not responding
	quietLeave bool      // left during rejoinGrace; reported only if it stays away
}

type rejoinState struct {
	lost bool      // the channel or socket was down since the last join
	at   time.Time // when we last rejoined after a loss
}

// heard records a sign of life from member id.
func (r *Room) heard(id string, mi *memberInfo, now time.Time) {
	mi.heardAt = now
	mi.beats++
	if mi.silent {
		mi.silent = false
		if id != r.cfg.UserID {
			r.notice("%s is responding again", mi.meta.Username)
		}
	}
}

// checkLiveness marks members whose heartbeats stopped as not responding,
// without waiting for the server to drop them.
func (r *Room) checkLiveness(now time.Time) {
	if !r.s.joined {
		return // we hear nobody while our own link is down: that says nothing of them
	}
	changed := false
	for id, mi := range r.s.members {
		// A web member sends no heartbeats, and a paused one re-tracks
		// nothing new: only the server, dropping its presence, says it left.
		if id == r.cfg.UserID || !mi.online || mi.silent || mi.specOnly {
			continue
		}
		if now.Sub(mi.heardAt) > r.cfg.SilentAfter {
			mi.silent = true
			changed = true
			r.notice("%s is not responding", mi.meta.Username)
		}
	}
	if changed {
		r.publishSnapshot()
	}
}

// memberLeft reports a member missing from presence, unless we just
// reconnected ourselves: then it is most likely reconnecting too, and is
// reported only if it is still away once the grace is over.
func (r *Room) memberLeft(mi *memberInfo, now time.Time) {
	left := rejoinGrace - now.Sub(r.s.rejoin.at)
	if r.s.rejoin.at.IsZero() || left <= 0 {
		r.notice("%s left", mi.meta.Username)
		return
	}
	mi.quietLeave = true
	r.later(left, func() {
		if mi.quietLeave && !mi.online {
			mi.quietLeave = false
			r.notice("%s left", mi.meta.Username)
		}
	})
}

// hostGrace is how long a vanished host is waited for.
func (r *Room) hostGrace() time.Duration {
	g := r.cfg.HostGrace
	if !r.s.rejoin.at.IsZero() {
		g = max(g, rejoinGrace-r.now().Sub(r.s.rejoin.at))
	}
	return g
}

// onRejoin runs when the channel is subscribed again after a loss: fetch
// the chat missed meanwhile, re-read the stored room, and record a host
// action the outage kept from the server.
func (r *Room) onRejoin() {
	if !r.s.rejoin.lost {
		return
	}
	r.s.rejoin.lost = false
	r.s.rejoin.at = r.now()
	for _, mi := range r.s.members {
		mi.heardAt = r.s.rejoin.at // silence while we were away is ours, not theirs
	}
	if r.store() == nil {
		return
	}
	// With nothing shown yet, catch up from a little before we joined
	// (senders' clocks differ a little; duplicates are dropped by id).
	floor := time.UnixMilli(int64(r.s.joinedAt)).Add(-time.Minute).UTC().Format(commentTimeLayout)
	go r.catchUp(floor)
	r.control.kick()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if st := r.store(); st != nil {
			if rs, ok, err := st.RoomState(ctx, r.cfg.RoomID); err == nil && ok {
				r.in.put(inRoomState{rs})
			}
		}
	}()
}

// chatCursor is the newest comment shown, by (created_at, id), and the
// live comments held back while a catch-up runs.
type chatCursor struct {
	lastAt, lastID string
	catchingUp     bool
	held           []Comment
}

func (c *chatCursor) saw(m Comment) {
	if m.CreatedAt > c.lastAt || m.CreatedAt == c.lastAt && m.ID > c.lastID {
		c.lastAt, c.lastID = m.CreatedAt, m.ID
	}
}

// catchUpPage is how many comments one catch-up request reads; pages
// continue until a short one.
const catchUpPage = 200

// catchUp fetches the comments stored since the newest one shown and shows
// them, with any live ones that arrived meanwhile, once each and in order.
func (r *Room) catchUp(floor string) {
	st := r.store()
	since, ok := st.(CommentsSince)
	if !ok {
		return
	}
	r.seenMu.Lock()
	if r.chat.catchingUp {
		r.seenMu.Unlock()
		return
	}
	r.chat.catchingUp = true
	after := r.chat.lastAt
	if after == "" {
		after = floor
	}
	r.seenMu.Unlock()

	var got []Comment
	var err error
	for try := 0; try < 3; try++ {
		if got, err = r.fetchSince(since, after); err == nil {
			break
		}
		time.Sleep(time.Duration(try+1) * time.Second) // the server may still be settling after a restart
	}
	if err != nil && !errors.Is(err, ErrNoStore) {
		r.log.Warn("room: catching up on chat", "err", err)
	}

	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	all := append(got, r.chat.held...)
	r.chat.held, r.chat.catchingUp = nil, false
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].CreatedAt != all[j].CreatedAt {
			return all[i].CreatedAt < all[j].CreatedAt
		}
		return all[i].ID < all[j].ID
	})
	for _, c := range all {
		r.deliverLocked(c)
	}
}

func (r *Room) fetchSince(since CommentsSince, after string) ([]Comment, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var all []Comment
	seen := map[string]bool{}
	for page := 0; page < 50; page++ {
		cs, err := since.CommentsSince(ctx, r.cfg.RoomID, after, catchUpPage)
		if err != nil {
			return all, err
		}
		fresh := 0
		for _, c := range cs {
			if !seen[c.ID] {
				seen[c.ID] = true
				all = append(all, c)
				fresh++
			}
		}
		if len(cs) < catchUpPage || fresh == 0 {
			break
		}
		after = cs[len(cs)-1].CreatedAt
	}
	return all, nil
}

// Player states in presence and heartbeats.
const (
	playerOKState        = "ok"
	playerSeekingState   = "seeking"
	playerBufferingState = "buffering"
	playerGoneState      = "gone"
	playerNoneState      = "none"
)

// playerState is what presence and heartbeats say of our player, with the
// cache fill while it buffers.
func (r *Room) playerState() (state string, bufferPercent int) {
	switch {
	case r.player == nil:
		return playerNoneState, 0
	case r.s.gone:
		return playerGoneState, 0
	}
	st := r.player.State()
	switch {
	case st.Buffering:
		return playerBufferingState, st.BufferPercent
	case st.Seeking || r.s.hold != nil && !r.s.hold.landed:
		return playerSeekingState, 0
	}
	return playerOKState, 0
}

// busy is a player state that waits rather than drifts: seeking or
// buffering members are not out of sync, and the room may wait for them.
func busy(state string) bool { return state == playerSeekingState || state == playerBufferingState }

// hasPlayer reports whether member id can play (for the election).
func (r *Room) hasPlayer(id string, mi *memberInfo) bool {
	if id == r.cfg.UserID {
		return r.player != nil && !r.s.gone
	}
	ps := mi.meta.PlayerState
	return ps != playerNoneState && ps != playerGoneState
}

// playerGone handles our mpv's death: we are no player any more, never "in
// sync", and the room is told at once.
func (r *Room) playerGone() {
	r.s.gone = true
	r.resetSpeedState()
	r.notice("mpv has gone away; you can keep chatting")
	r.trackSoon()
	r.sendHeartbeat()
}

func (r *Room) resetSpeedState() { r.s.ctrl.ForceSpeed(1) }

// retrackDrift is how far our real position may be from what presence says
// (projected) before presence is refreshed; the heartbeats carry the rest.
const retrackDrift = 2.0

// retrackIfChanged refreshes our presence when what it says is no longer
// true (playing state, sync, player state, host role, or position), within
// the presence quota (trackSoon spaces tracks by PresenceInterval).
func (r *Room) retrackIfChanged(now time.Time) {
	if r.s.trackedAt.IsZero() || r.s.trackQueued {
		return
	}
	cur, was := r.selfMeta(), r.s.tracked
	projected := was.CurrentTime
	if was.IsPlaying {
		projected += now.Sub(r.s.trackedAt).Seconds()
	}
	if cur.IsPlaying != was.IsPlaying || cur.InSync != was.InSync || cur.Detached != was.Detached ||
		cur.PlayerState != was.PlayerState || cur.IsHost != was.IsHost || abs(cur.CurrentTime-projected) > retrackDrift {
		r.trackSoon()
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// PlaybackDedupe recognises a play, pause or seek seen already: the host's
// broadcast and the server's sync/control copy carry the same (epoch, seq).
// The zero value is ready; it remembers the last dedupeWindow events.
type PlaybackDedupe struct {
	mu   sync.Mutex
	seen map[string]bool
	ring []string
}

const dedupeWindow = 256

// Seen reports whether env is a playback event already seen (and remembers
// it). Events without an epoch and sequence are never duplicates.
func (d *PlaybackDedupe) Seen(env Envelope) bool {
	switch env.Type {
	case TypePlay, TypePause, TypeSeek:
	default:
		return false
	}
	var p struct {
		Epoch string `json:"epoch"`
		Seq   uint64 `json:"seq"`
	}
	if json.Unmarshal(env.Payload, &p) != nil || p.Epoch == "" || p.Seq == 0 {
		return false
	}
	key := fmt.Sprintf("%s|%s|%d", env.Type, p.Epoch, p.Seq)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen[key] {
		return true
	}
	if d.seen == nil {
		d.seen = map[string]bool{}
	}
	d.seen[key] = true
	d.ring = append(d.ring, key)
	if len(d.ring) > dedupeWindow {
		delete(d.seen, d.ring[0])
		d.ring = d.ring[1:]
	}
	return false
}

// controlRecorder records the host's latest play, pause or seek on the
// server, retrying until the server has it: an action taken while the
// server is away is recorded once it is back. Only the latest action is
// kept; an older one still waiting is superseded.
type controlRecorder struct {
	mu      sync.Mutex
	pending *controlReq
	running bool
	wake    chan struct{}
}

type controlReq struct {
	action string
	p      PlaybackPayload
}

// controlRetry bounds the wait between attempts.
var controlRetry = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}

func (c *controlRecorder) record(r *Room, action string, p PlaybackPayload) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = &controlReq{action, p}
	if c.wake == nil {
		c.wake = make(chan struct{}, 1)
	}
	if !c.running {
		c.running = true
		go c.run(r)
	}
	c.kickLocked()
}

// kick retries a waiting action now (the channel just came back).
func (c *controlRecorder) kick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kickLocked()
}

func (c *controlRecorder) kickLocked() {
	if c.wake != nil {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (c *controlRecorder) run(r *Room) {
	fails := 0
	for {
		c.mu.Lock()
		req := c.pending
		if req == nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		st := r.store()
		if st == nil {
			c.mu.Lock()
			c.pending, c.running = nil, false
			c.mu.Unlock()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := st.Control(ctx, r.cfg.RoomID, req.action, req.p)
		cancel()
		if err == nil || errors.Is(err, ErrNoStore) || isRefusal(err) {
			if err == nil {
				// The database names us now: from here on only we hand the
				// role on.
				// The room row may not have existed before this first
				// control (the server creates it), so the playlist is
				// stored again once it does.
				r.in.put(inTimer{fn: func() {
					if r.s.isHost() {
						r.s.storedHost = r.cfg.UserID
						r.storePlaylistOnce()
					}
				}})
			}
			if err != nil {
				r.disableStore(err)
				if !errors.Is(err, ErrNoStore) {
					r.log.Warn("room: recording playback state", "action", req.action, "err", err)
				}
			}
			c.mu.Lock()
			if c.pending == req {
				c.pending = nil
			}
			c.mu.Unlock()
			fails = 0
			continue
		}
		if fails == 0 {
			r.log.Warn("room: recording playback state; will retry", "action", req.action, "err", err)
		}
		wait := controlRetry[min(fails, len(controlRetry)-1)]
		fails++
		select {
		case <-c.wake:
		case <-time.After(wait):
		case <-r.done:
			return
		}
	}
}

// isRefusal reports whether the server answered and refused (a 4xx, such as
// "not the host"): retrying would not help. Network errors and 5xx retry.
func isRefusal(err error) bool { return errors.Is(err, ErrRefused) }

// chatOutboxSize bounds the chat held while the server is unreachable.
const chatOutboxSize = 100

// ErrOutboxFull is returned by Say when too much chat is already waiting
// for the server.
var ErrOutboxFull = errors.New("message not sent: too many messages are waiting for the server (at most 100)")

// chatOutbox holds chat typed while the server could not be reached, and
// sends it, in order, once it can.
type chatOutbox struct {
	mu      sync.Mutex
	q       []Comment
	running bool
}

// hold queues c behind anything already waiting; force queues it even
// when nothing is (its own send just failed). It reports whether c is
// queued, or an error when the outbox is full.
func (o *chatOutbox) hold(r *Room, c Comment, force bool) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.q) == 0 && !force {
		return false, nil
	}
	if len(o.q) >= chatOutboxSize {
		return false, ErrOutboxFull
	}
	o.q = append(o.q, c)
	if !o.running {
		o.running = true
		go o.flush(r)
	}
	return true, nil
}

// flush stores the waiting comments one by one, in order, retrying until
// the server takes each.
func (o *chatOutbox) flush(r *Room) {
	fails := 0
	for {
		o.mu.Lock()
		if len(o.q) == 0 {
			o.running = false
			o.mu.Unlock()
			return
		}
		c := o.q[0]
		o.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := PostComment(ctx, r.store(), r.ch, c)
		cancel()
		if err == nil || errors.Is(err, ErrStoredOnly) || isRefusal(err) {
			if isRefusal(err) {
				r.notice("%v", err)
			} else {
				r.deliverComment(c)
			}
			o.mu.Lock()
			o.q = o.q[1:]
			o.mu.Unlock()
			fails = 0
			continue
		}
		wait := controlRetry[min(fails, len(controlRetry)-1)]
		fails++
		select {
		case <-time.After(wait):
		case <-r.done:
			return
		}
	}
}

// transient reports whether a failed send is worth holding for a retry:
// the server was unreachable, rather than refusing it.
func transient(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, ErrNoStore) && !isRefusal(err)
}

// storePlaylistOnce saves the host's playlist the first time the room row
// is known to exist.
func (r *Room) storePlaylistOnce() {
	st := r.store()
	if st == nil || r.s.playlistStored || len(r.s.playlist.Entries) == 0 {
		return
	}
	r.s.playlistStored = true
	pl := r.s.playlist.clone()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := st.SavePlaylist(ctx, r.cfg.RoomID, pl); err != nil && !errors.Is(err, ErrNoStore) {
			r.log.Warn("room: storing the playlist", "err", err)
		}
	}()
}
