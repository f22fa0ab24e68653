package room

import (
	"context"
	"math"

	"github.com/watchium/watchium-tui/internal/ids"
)

// Who hosts: the succession rules every client applies the same way, the
// claims and hand-overs recorded in the database, and taking the role.

// settleHost applies the succession rules every client evaluates the same
// way: the earliest claim among online members holds the role; if the
// holder vanishes for HostGrace, the earliest-joined online member succeeds.
func (r *Room) settleHost(first bool) {
	s := &r.s
	claimant, since := "", math.Inf(1)
	for id, mi := range s.members {
		claims := mi.meta.IsHost
		hostSince := mi.meta.HostSince
		if mi.specOnly && id == s.storedHost {
			// A web host holds the role on the server (sync/control), not in
			// its presence; the stored room names it.
			claims, hostSince = true, 0
		}
		if mi.here() && claims && (hostSince < since || hostSince == since && id < claimant) {
			claimant, since = id, hostSince
		}
	}
	if s.isHost() {
		// Someone claimed earlier than us (a race of two --host): yield.
		// A role handed to us on purpose is never yielded this way.
		if s.claimed && claimant != "" && claimant != r.cfg.UserID && since < s.hostSince {
			r.proposeHost(claimant, since, false)
		}
		return
	}
	hostOnline := s.hostID != "" && s.members[s.hostID].here()
	unconfirmed := false
	if claimant != "" && claimant != s.hostID && (s.hostID == "" || !hostOnline) && r.gated() {
		// A presence claim is anyone's to make on Supabase: the database
		// decides, and until it names a claimant the rules below go on
		// (the election still runs) as if nobody had claimed. Every
		// claim is read, not only the earliest: a forged early one must
		// not hide the real host.
		for id, mi := range s.members {
			if mi.here() && id != s.hostID && id != r.cfg.UserID && (mi.meta.IsHost || mi.specOnly && id == s.storedHost) {
				r.proposeHost(id, mi.meta.HostSince, false)
			}
		}
		claimant, unconfirmed = "", true
	}
	switch {
	case claimant != "" && (s.hostID == "" || !hostOnline || claimant == s.hostID):
		if claimant != s.hostID {
			r.setHost(claimant, since, false)
		}
		r.s.hostGoneGen++
	case hostOnline:
		r.s.hostGoneGen++
	case s.hostID == "" && r.cfg.WantHost && first && !unconfirmed:
		r.claimHost("")
	case s.hostID == "":
		// Nobody hosts: wait a little for a claim, then the earliest joined
		// member takes it.
		r.after(r.hostGrace(), &s.electGen, r.electIfNoHost)
	default:
		// The host vanished: give it HostGrace to come back (longer just
		// after a reconnect, while everyone else is still rejoining).
		r.after(r.hostGrace(), &s.hostGoneGen, r.electSuccessor)
	}
}

func (r *Room) electIfNoHost() {
	if r.s.hostID == "" {
		r.elect("nobody was hosting")
	}
}

// successor is the member every client elects when nobody hosts: the
// earliest-joined online member with a player (ties by user id); only when
// nobody has one, the earliest-joined member. Spec-only (web) members are
// never elected: their client cannot know it was, so the room would be left
// without a host; they host by claiming (sync/control) instead.
func (r *Room) successor() string {
	best, at, withPlayer := "", math.Inf(1), false
	for id, mi := range r.s.members {
		if !mi.here() || mi.specOnly || r.ignoredHost(id) {
			continue
		}
		wp := r.hasPlayer(id, mi)
		if wp && !withPlayer {
			best, at, withPlayer = "", math.Inf(1), true
		}
		if wp == withPlayer && (mi.meta.JoinedAt < at || mi.meta.JoinedAt == at && id < best) {
			best, at = id, mi.meta.JoinedAt
		}
	}
	return best
}

func (r *Room) electSuccessor() { r.elect("the host left") }

func (r *Room) elect(why string) {
	s := &r.s
	if s.hostID != "" && s.members[s.hostID].here() {
		return
	}
	next := r.successor()
	if next == "" {
		return
	}
	if next == r.cfg.UserID {
		r.claimHost(why)
		return
	}
	// Everyone computes the same successor; until its claim arrives we
	// already follow it (where the database records hosts, once it names
	// it).
	r.proposeHost(next, 0, false)
}

// claimHost makes us the host and tells the room.
func (r *Room) claimHost(why string) {
	s := &r.s
	r.setHost(r.cfg.UserID, wallMS(r.now()), true)
	s.claimed = true
	r.post(TypeNewHost, NewHostPayload{UserID: r.cfg.UserID, Username: s.username})
	if r.gated() {
		// Followers wait for the database to name us: keep claiming
		// until it does.
		s.gate.claimGen++
		r.claimUntilRecorded(s.gate.claimGen, 0, r.now().Add(r.cfg.HostClaimWindow))
	} else {
		r.recordHost("claim", func(ctx context.Context, st Store) error { return st.ClaimHost(ctx, r.cfg.RoomID) })
	}
	if why != "" {
		r.notice("you are now the host (%s)", why)
	} else {
		r.notice("you are the host")
	}
}

// setHost switches the role locally; announce is true when we take it.
func (r *Room) setHost(id string, since float64, announce bool) {
	s := &r.s
	was := s.hostID
	s.hostID, s.hostSince = id, since
	s.claimed = false
	if id == r.cfg.UserID {
		s.epoch = ids.New()
		s.seq = 0
		s.detached = false
		s.anchor = nil
		r.resetSpeed()
		if r.player != nil {
			r.publishAnchor("host")
		}
	} else {
		s.clock.Reset()
		s.anchor = nil
		s.lastEpoch, s.lastSeq = "", 0
		if id != was {
			s.hostKey = nil
			s.keyReread = keyReread{}
			s.keyPending, s.keyWait = r.store() != nil && id != "", nil
			r.fetchHostKey(id, 0)
		}
		if id != "" {
			r.requestState()
		}
	}
	if was != id && !announce && id != "" {
		if mi := s.members[id]; mi != nil {
			r.notice("%s is now the host", mi.meta.Username)
		}
	}
	r.trackSoon()
	r.publishSnapshot()
}
