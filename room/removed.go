package room

import (
	"context"
	"time"
)

// Kick notices. When the owner or host removes a member (/kick), the
// server tells the room with member_removed; every client shows who removed
// whom and drops the member, and the removed member is told plainly. On
// Supabase any member could broadcast a member_removed, so where the
// database can say (MemberCheck), the notice is acted on only once the
// member's row is gone (kick_member deletes it before it sends).

// MemberCheck is a Store that can say whether userID still has a
// room_members row in roomID.
type MemberCheck interface {
	IsMember(ctx context.Context, roomID, userID string) (bool, error)
}

// inRemoved is a member_removed, confirmed (or not) by the database.
type inRemoved struct {
	p         MemberRemovedPayload
	confirmed bool
	err       error
}

func (r *Room) onMemberRemoved(p MemberRemovedPayload) {
	mc, ok := r.store().(MemberCheck)
	if !ok || !r.gated() || p.UserID == r.cfg.UserID {
		// Nothing to ask (a removed member cannot read the rows any more,
		// so it takes the notice as it comes).
		r.memberRemoved(p)
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		still, err := mc.IsMember(ctx, r.cfg.RoomID, p.UserID)
		r.in.put(inRemoved{p: p, confirmed: err == nil && !still, err: err})
	}()
}

func (r *Room) onRemovedChecked(m inRemoved) {
	if !m.confirmed {
		r.log.Warn("room: ignoring a member_removed the database does not bear out", "user", m.p.UserID, "by", m.p.By, "err", m.err)
		return
	}
	r.memberRemoved(m.p)
}

// memberRemoved shows the removal and drops the member from the room.
func (r *Room) memberRemoved(p MemberRemovedPayload) {
	s := &r.s
	by := p.ByUsername
	if by == "" {
		by = r.nameOf(p.By)
	}
	if p.UserID == r.cfg.UserID {
		if !s.removed {
			s.removed = true
			r.notice("you were removed from this room by %s; you need a new invite to come back", by)
		}
		return
	}
	name := p.Username
	mi := s.members[p.UserID]
	if mi != nil {
		if mi.removed {
			return
		}
		mi.removed = true
		name = mi.meta.Username
	}
	if name == "" {
		name = p.UserID
	}
	r.notice("%s was removed by %s", name, by)
	if p.UserID == s.hostID && !s.isHost() {
		// A removed host hosts no more; the usual succession follows.
		r.settleHost(false)
	}
	r.publishSnapshot()
}
