package room

import (
	"context"
	"testing"
)

func removal(id, name, by, byName string) map[string]any {
	p := map[string]any{"user_id": id, "username": name, "by": by, "by_username": byName}
	return map[string]any{"type": TypeMemberRemoved, "payload": p, "room_id": "r", "timestamp": 1, "user_id": id, "username": name, "by": by, "by_username": byName}
}

func shows(t *testing.T, r *Room, id string) bool {
	t.Helper()
	_, ok := memberOf(t, r, id)
	return ok
}

// The server says a member was removed: everyone shows who removed whom and
// drops the member (its presence may outlive the kick on Supabase), and the
// removed member is told plainly.
func TestMemberRemovedIsShownAndDropped(t *testing.T) {
	bus := newFakeBus()
	alice, arec, _ := recordedMember(t, bus, fastConfig("alice", true), newFakePlayer())
	bob, brec, _ := recordedMember(t, bus, fastConfig("bob", false), newFakePlayer())
	waitCond(t, "alice sees bob", func() bool { return shows(t, alice, "bob") })
	waitCond(t, "bob sees alice", func() bool { return shows(t, bob, "alice") })

	bus.inject(TypeMemberRemoved, removal("bob", "bob", "alice", "alice"))
	waitCond(t, "alice is told", func() bool { return contains(arec.notices(), "bob was removed by alice") })
	waitCond(t, "bob is told", func() bool { return contains(brec.notices(), "you were removed from this room by alice") })
	if shows(t, alice, "bob") {
		t.Error("alice still shows bob while his presence lingers")
	}
	// His channel closes: no second notice that he left.
	bus.leave("bob")
	waitCond(t, "alice sees bob's presence go", func() bool {
		var online bool
		_ = alice.do(context.Background(), func() error { online = alice.s.members["bob"].here() || alice.s.members["bob"].online; return nil })
		return !online
	})
	for _, n := range arec.notices() {
		if n == "bob left" {
			t.Errorf("a removed member was also reported as leaving: %q", arec.notices())
		}
	}
}

// Where the database can say, a member_removed that it does not bear out
// (any member could broadcast one on Supabase) is ignored; the real one,
// sent after the row is deleted, is acted on.
func TestForgedMemberRemovedIsIgnored(t *testing.T) {
	bus, db := newFakeBus(), newHostDB()
	alice, arec, _ := recordedMember(t, bus, gatedConfig(db, "alice", true), newFakePlayer())
	_, _, _ = recordedMember(t, bus, gatedConfig(db, "bob", false), newFakePlayer())
	carol, crec, _ := recordedMember(t, bus, gatedConfig(db, "carol", false), newFakePlayer())
	waitCond(t, "carol sees bob", func() bool { return shows(t, carol, "bob") })
	waitCond(t, "alice sees bob", func() bool { return shows(t, alice, "bob") })

	bus.inject(TypeMemberRemoved, removal("bob", "bob", "alice", "alice"))
	// A marker after it: the removal of someone with no row.
	bus.inject(TypeMemberRemoved, removal("ghost", "ghost", "alice", "alice"))
	waitCond(t, "the marker shown", func() bool { return contains(crec.notices(), "ghost was removed by alice") })
	if !shows(t, carol, "bob") || contains(crec.notices(), "bob was removed") {
		t.Fatalf("carol acted on a forged removal: %q", crec.notices())
	}
	db.kick("bob")
	bus.inject(TypeMemberRemoved, removal("bob", "bob", "alice", "alice"))
	waitCond(t, "carol is told", func() bool { return contains(crec.notices(), "bob was removed by alice") })
	waitCond(t, "alice is told", func() bool { return contains(arec.notices(), "bob was removed by alice") })
	if shows(t, carol, "bob") {
		t.Error("carol still shows bob")
	}
}
