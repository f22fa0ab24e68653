package room

import (
	"context"
	"errors"
	"time"
)

// The host gate. On a server that checks who may join a channel but not who
// sends on it (Supabase), a member can broadcast new_host naming itself, or
// track a presence claiming the role, once the host we follow has gone. So
// when the database records host changes (claim_host, hand_over), a
// follower takes a new host only once the room row's host_user_id names it:
// a claim the row does not confirm yet is read again with backoff (the
// claimant's claim_host may still be on its way, and on Supabase it only
// succeeds after 15 s of host silence); a claimant the row still does not
// name within Config.HostClaimWindow is ignored for as long and counted
// (SyncStats.RefusedHosts). The reads run off the room's goroutine and post
// their answers back to its queue. Without a store that records hosts
// (memory-only rooms, a guest without a user) the room trusts the channel,
// as before.

const (
	// gateFirstRetry, doubling to gateMaxRetry, paces the re-reads of the
	// room row while a claim is not confirmed.
	gateFirstRetry = 200 * time.Millisecond
	gateMaxRetry   = 2 * time.Second
	// defaultHostClaimWindow (Config.HostClaimWindow) is how long a claim
	// may wait for the database: longer than Supabase's claim_host needs
	// (15 s of host silence, counted from the host's last host_alive, at
	// most 6 s before it left). A refused claimant's claims are then not
	// even read for as long, so a member repeating a false claim costs one
	// read per window, not one per broadcast; and an elected successor
	// repeats claim_host for as long.
	defaultHostClaimWindow = 20 * time.Second
	// claimRetryEvery: how often an elected successor repeats claim_host
	// until the database agrees (Supabase refuses it while the old host's
	// last sign of life is under 15 s old).
	claimRetryEvery = 2 * time.Second
)

// HostRecords is a Store that can say whether its database records host
// changes under the caller's verified id (claim_host and hand_over, with a
// signed-in user). Only then does the room wait for the database before
// following a new host.
type HostRecords interface {
	RecordsHosts() bool
}

// hostGate is what the room knows of claims waiting for the database.
type hostGate struct {
	checks  map[string]*hostCheck // by claimant
	ignored map[string]time.Time  // claimant → ignored until
	// claimGen identifies our own current claim_host attempts.
	claimGen int
}

type hostCheck struct {
	since    float64
	deadline time.Time
	delay    time.Duration
	// once: the host we follow is here and did not sign this claim; one
	// read decides (a hand-over is recorded before it is announced).
	once bool
}

// inHostRow is a room row read for a claim.
type inHostRow struct {
	claimant string
	st       RoomState
	ok       bool
	err      error
}

// inClaimed is the answer to one of our claim_host calls.
type inClaimed struct {
	gen      int
	attempt  int
	deadline time.Time
	err      error
}

// gated reports whether host changes wait for the database.
func (r *Room) gated() bool {
	hr, ok := r.store().(HostRecords)
	if !ok || !hr.RecordsHosts() {
		return false
	}
	r.storeMu.Lock()
	defer r.storeMu.Unlock()
	return !r.noHostRecords
}

// proposeHost is a claim that id hosts (from new_host, a presence claim, or
// our own election). Ungated it is taken at once; gated, once the room row
// names id.
func (r *Room) proposeHost(id string, since float64, once bool) {
	s := &r.s
	if id == "" || id == s.hostID {
		return
	}
	if !r.gated() {
		r.acceptHost(id, since)
		return
	}
	g := &s.gate
	if r.ignoredHost(id) {
		return
	}
	delete(g.ignored, id)
	if c := g.checks[id]; c != nil {
		// A check is under way; a claim made after the host left gets the
		// full window even if the first was a single read.
		if c.once && !once {
			c.once, c.deadline = false, r.now().Add(r.cfg.HostClaimWindow)
		}
		return
	}
	if g.checks == nil {
		g.checks = map[string]*hostCheck{}
	}
	g.checks[id] = &hostCheck{since: since, deadline: r.now().Add(r.cfg.HostClaimWindow), delay: gateFirstRetry, once: once}
	r.readHostRow(id, 0)
}

// readHostRow reads the room row after d, off the room's goroutine.
func (r *Room) readHostRow(claimant string, d time.Duration) {
	if d > 0 {
		r.later(d, func() { r.readHostRow(claimant, 0) })
		return
	}
	st := r.store()
	if st == nil {
		r.in.put(inHostRow{claimant: claimant, err: ErrNoStore})
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rs, ok, err := st.RoomState(ctx, r.cfg.RoomID)
		r.in.put(inHostRow{claimant: claimant, st: rs, ok: ok, err: err})
	}()
}

// onHostRow decides a claim on the room's goroutine.
func (r *Room) onHostRow(m inHostRow) {
	s := &r.s
	if m.claimant == "" {
		// After our own claim failed: follow whom the row names.
		if m.err == nil && m.ok && m.st.HostUserID != "" && m.st.HostUserID != r.cfg.UserID && s.isHost() {
			s.storedHost = m.st.HostUserID
			r.acceptHost(m.st.HostUserID, 0)
		}
		return
	}
	c := s.gate.checks[m.claimant]
	if c == nil {
		return
	}
	if !r.gated() {
		// Meanwhile we learnt the database records no hosts.
		delete(s.gate.checks, m.claimant)
		r.acceptHost(m.claimant, c.since)
		return
	}
	if errors.Is(m.err, ErrNoStore) {
		r.disableStore(m.err)
		delete(s.gate.checks, m.claimant)
		r.acceptHost(m.claimant, c.since)
		return
	}
	if m.err != nil {
		r.log.Debug("room: reading the room row for a host claim", "claimant", m.claimant, "err", m.err)
	}
	if m.err == nil && m.ok {
		s.storedHost = m.st.HostUserID
		if m.st.HostUserID == m.claimant {
			delete(s.gate.checks, m.claimant)
			r.acceptHost(m.claimant, c.since)
			return
		}
	}
	if !c.once && r.now().Before(c.deadline) {
		r.readHostRow(m.claimant, c.delay)
		c.delay = min(2*c.delay, gateMaxRetry)
		return
	}
	delete(s.gate.checks, m.claimant)
	if c.once {
		// The host we follow is here and did not sign it: a forgery.
		s.stats.Unverified++
		r.log.Warn("room: ignoring a new_host the host did not sign and the database does not record", "names", m.claimant)
		r.publishSnapshot()
		return
	}
	if s.gate.ignored == nil {
		s.gate.ignored = map[string]time.Time{}
	}
	s.gate.ignored[m.claimant] = r.now().Add(r.cfg.HostClaimWindow)
	s.stats.RefusedHosts++
	r.notice("ignoring %s's claim to host: the room's record does not name them", r.nameOf(m.claimant))
	r.log.Warn("room: refused a host claim the database does not confirm", "claimant", m.claimant, "stored", m.st.HostUserID)
	// An election that chose the refused claimant chooses again.
	if !s.isHost() && !s.members[s.hostID].here() {
		r.elect("the host left")
	}
	r.publishSnapshot()
}

// ignoredHost reports whether id's claims are being ignored.
func (r *Room) ignoredHost(id string) bool {
	until, ok := r.s.gate.ignored[id]
	return ok && r.now().Before(until)
}

// acceptHost follows id as the host (the database, or the channel where
// nothing records hosts, says it is).
func (r *Room) acceptHost(id string, since float64) {
	s := &r.s
	if id == s.hostID {
		return
	}
	if id == r.cfg.UserID {
		prev := s.hostID
		r.setHost(r.cfg.UserID, wallMS(r.now()), true)
		r.notice("%s handed you the host role", r.nameOf(prev))
		return
	}
	r.setHost(id, since, false)
}

// claimUntilRecorded calls claim_host, off the room's goroutine; while the
// database refuses, again every claimRetryEvery until deadline.
func (r *Room) claimUntilRecorded(gen, attempt int, deadline time.Time) {
	st := r.store()
	if st == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := r.noteHostErr(st.ClaimHost(ctx, r.cfg.RoomID))
		r.in.put(inClaimed{gen: gen, attempt: attempt, deadline: deadline, err: err})
	}()
}

// onClaimed handles claim_host's answer on the room's goroutine.
func (r *Room) onClaimed(m inClaimed) {
	s := &r.s
	if m.gen != s.gate.claimGen || !s.isHost() {
		return // superseded, or we no longer host
	}
	if m.err == nil || errors.Is(m.err, ErrNoStore) {
		r.disableStore(m.err)
		if m.err == nil {
			s.storedHost = r.cfg.UserID
		}
		if m.attempt > 0 {
			// Followers who gave up on our first claim hear it again, now
			// that the database agrees.
			r.post(TypeNewHost, NewHostPayload{UserID: r.cfg.UserID, Username: s.username})
		}
		return
	}
	if r.now().Before(m.deadline) {
		r.log.Debug("room: claim_host refused; trying again", "err", m.err)
		r.after(claimRetryEvery, &s.gate.claimGen, func() {
			if s.isHost() {
				r.claimUntilRecorded(s.gate.claimGen, m.attempt+1, m.deadline)
			}
		})
		// after bumped the generation: the retry carries the new one.
		return
	}
	r.log.Warn("room: the database did not record our claim to host", "err", m.err)
	r.notice("the room's record does not name you as host (%v); following whom it names", m.err)
	// Nobody follows a host the database does not name: yield to the one
	// it does.
	r.readHostRow("", 0)
}
