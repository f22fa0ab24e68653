package room

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"testing"
	"time"
)

// hostDB is a database that records hosts as the trust migration does:
// claim_host succeeds when nobody hosts, the caller hosts, or the host has
// gone silent (here: when the test says so); hand_over only from the host.
type hostDB struct {
	mu     sync.Mutex
	host   string
	silent bool // the host's last sign of life is older than the timeout
	keys   map[string]string
	reads  int
	claims map[string]int
	// noFuncs: a project without the trust migration (no claim_host,
	// hand_over, host_alive).
	noFuncs bool
}

func newHostDB() *hostDB { return &hostDB{keys: map[string]string{}, claims: map[string]int{}} }

func (d *hostDB) setSilent(v bool) {
	d.mu.Lock()
	d.silent = v
	d.mu.Unlock()
}

func (d *hostDB) stored() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.host
}

func (d *hostDB) claimsBy(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.claims[id]
}

// as is the database as one signed-in member reaches it.
func (d *hostDB) as(id string) *hostStore { return &hostStore{db: d, me: id} }

type hostStore struct {
	db *hostDB
	me string
}

var _ HostRecords = (*hostStore)(nil)

func (s *hostStore) RecordsHosts() bool { return true }
func (s *hostStore) History(context.Context, string, int) ([]Comment, error) {
	return nil, nil
}
func (s *hostStore) AddComment(context.Context, Comment) error { return nil }
func (s *hostStore) Control(context.Context, string, string, PlaybackPayload) error {
	return nil
}
func (s *hostStore) RoomState(context.Context, string) (RoomState, bool, error) {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	s.db.reads++
	return RoomState{HostUserID: s.db.host}, true, nil
}
func (s *hostStore) Enter(_ context.Context, _ string, m MemberPayload) error {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	s.db.keys[s.me] = m.PublicKey
	return nil
}
func (s *hostStore) Leave(context.Context, string, string) error { return nil }
func (s *hostStore) MemberKey(_ context.Context, _ string, id string) (string, error) {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	return s.db.keys[id], nil
}
func (s *hostStore) ClaimHost(context.Context, string) error {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	s.db.claims[s.me]++
	if s.db.noFuncs {
		return fmt.Errorf("%w: HTTP 404", ErrNoHostFunctions)
	}
	if s.db.host != "" && s.db.host != s.me && !s.db.silent {
		return fmt.Errorf("%w: the room's host is still here", ErrRefused)
	}
	s.db.host, s.db.silent = s.me, false
	return nil
}
func (s *hostStore) HandOver(_ context.Context, _ string, to string) error {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	if s.db.host != s.me {
		return fmt.Errorf("%w: only the room's host can hand the role over", ErrRefused)
	}
	s.db.host = to
	return nil
}
func (s *hostStore) HostAlive(context.Context, string) error {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	if s.db.noFuncs {
		return fmt.Errorf("%w: HTTP 404", ErrNoHostFunctions)
	}
	return nil
}
func (s *hostStore) SavePlaylist(context.Context, string, Playlist) error { return nil }

// gatedConfig: window is HostClaimWindow (4 s when 0).
func gatedConfig(db *hostDB, id string, host bool, window ...time.Duration) Config {
	c := fastConfig(id, host)
	c.Store = db.as(id)
	c.HostClaimWindow = 4 * time.Second
	if len(window) > 0 {
		c.HostClaimWindow = window[0]
	}
	return c
}

func (m *member) stats(t *testing.T) SyncStats { return m.snap(t).Sync }

// gatedTrio is a gated room of three: alice hosting (and, where the
// database records hosts, named by it), then carol and bob, who joined in
// that order, following her.
func gatedTrio(t *testing.T, bus *fakeBus, db *hostDB) (alice, carol, bob *member) {
	t.Helper()
	alice = addMember(t, bus, gatedConfig(db, "alice", true))
	if !db.noFuncs {
		waitCond(t, "the database names alice", func() bool { return db.stored() == "alice" })
	}
	waitCond(t, "alice hosts", hostIs(t, alice, "alice"))
	carol = addMember(t, bus, gatedConfig(db, "carol", false))
	waitCond(t, "carol follows alice", hostIs(t, carol, "alice"))
	bob = addMember(t, bus, gatedConfig(db, "bob", false))
	waitCond(t, "bob follows alice", hostIs(t, bob, "alice"))
	return alice, carol, bob
}

// A hostile member (on Supabase, nothing stops its broadcast) sends a
// signed new_host naming itself once the host has left; the followers
// wait for the database, which names the real successor only when the
// old host has been silent long enough, and then follow it.
func TestGateFollowsOnlyTheHostTheDatabaseNames(t *testing.T) {
	bus, db := newFakeBus(), newHostDB()
	alice, carol, bob := gatedTrio(t, bus, db)

	// Alice goes; the database still names her (not yet silent long
	// enough), so carol's claims are refused for now.
	alice.stop()
	bus.leave("alice")
	mallory := NewSigningKey()
	claim, _ := NewEnvelope(TypeNewHost, "r", NewHostPayload{UserID: "mallory", Username: "mallory"}, time.Now())
	claim, _ = SignEnvelope(mallory, claim)
	bus.inject(TypeNewHost, claim)
	waitCond(t, "carol claims", func() bool { return db.claimsBy("carol") >= 1 })
	for _, m := range []*member{bob, carol} {
		if h := m.snap(t).HostID; h == "mallory" {
			t.Fatalf("%s follows mallory's new_host", m.id)
		}
	}
	if h := bob.snap(t).HostID; h != "alice" {
		t.Fatalf("bob follows %q before the database names anyone new", h)
	}

	// The old host has been silent long enough: carol's next try (2 s
	// later) succeeds and everyone follows her; mallory never.
	db.setSilent(true)
	waitCond(t, "the database names carol", func() bool { return db.stored() == "carol" })
	waitCond(t, "bob follows carol", hostIs(t, bob, "carol"))
	waitCond(t, "carol hosts", hostIs(t, carol, "carol"))
	waitCond(t, "bob refuses mallory", func() bool { return bob.stats(t).RefusedHosts >= 1 })
	if h := bob.snap(t).HostID; h != "carol" {
		t.Fatalf("bob follows %q", h)
	}
	if n := bob.stats(t).Unverified; n != 0 {
		t.Errorf("bob counted %d unverified events; the refused claim is counted as refused", n)
	}
}

// A presence that claims the role (anyone may track one on Supabase) is
// followed only once the database names its member, and a forged early
// claim does not hide the real host from a newcomer.
func TestGatePresenceClaimsWaitForTheDatabase(t *testing.T) {
	bus, db := newFakeBus(), newHostDB()
	alice := addMember(t, bus, gatedConfig(db, "alice", true))
	waitCond(t, "alice hosts", hostIs(t, alice, "alice"))
	waitCond(t, "the database names alice", func() bool { return db.stored() == "alice" })
	// Eve's forged presence: hosting since the epoch, joined first.
	bus.setPresence("eve", []byte(`{"user_id":"eve","username":"eve","is_host":true,"host_since":1,"joined_at":1,"media":{"filename":"movie.mkv"}}`))
	bob := addMember(t, bus, gatedConfig(db, "bob", false, time.Second))
	waitCond(t, "bob follows alice", hostIs(t, bob, "alice"))
	waitCond(t, "bob refuses eve", func() bool { return bob.stats(t).RefusedHosts >= 1 })
	if h := bob.snap(t).HostID; h != "alice" {
		t.Fatalf("bob follows %q", h)
	}
	if h := alice.snap(t).HostID; h != "alice" {
		t.Fatalf("alice yielded to %q", h)
	}
}

// A hand-over the host signs is followed at once; the database recorded it
// first.
func TestGateFollowsASignedHandOver(t *testing.T) {
	bus, db := newFakeBus(), newHostDB()
	alice := addMember(t, bus, gatedConfig(db, "alice", true))
	waitCond(t, "alice hosts", hostIs(t, alice, "alice"))
	bob := addMember(t, bus, gatedConfig(db, "bob", false))
	carol := addMember(t, bus, gatedConfig(db, "carol", false))
	for _, m := range []*member{bob, carol} {
		waitCond(t, m.id+" follows alice", hostIs(t, m, "alice"))
		waitCond(t, m.id+" knows alice's key", func() bool { return m.hostKeyKnown(t) })
	}
	waitCond(t, "alice sees carol", func() bool { return len(alice.snap(t).Members) == 3 })
	if err := alice.room.HandOver(context.Background(), "carol"); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "bob follows carol", hostIs(t, bob, "carol"))
	waitCond(t, "carol hosts", hostIs(t, carol, "carol"))
	if s := bob.stats(t); s.Unverified != 0 || s.RefusedHosts != 0 {
		t.Errorf("bob's stats after a signed hand-over: %+v", s)
	}
}

// The server's unsigned copy of a recorded control (sync/control) carries
// the host's epoch and seq: it is no forgery, whichever comes first.
func TestServerCopiesAreNotCountedUnverified(t *testing.T) {
	aliceKey := NewSigningKey()
	st := &keyStore{keys: map[string]string{"alice": EncodePublicKey(aliceKey.Public().(ed25519.PublicKey))}}
	bus, h, f := signedPair(t, st, aliceKey)
	epoch := h.room.sEpochForTest()
	event := func(seq uint64, pos float64, signed bool) Envelope {
		e, _ := NewEnvelope(TypeSeek, "r", playback("alice", pos, epoch, seq), time.Now())
		if signed {
			e, _ = SignEnvelope(aliceKey, e)
		}
		return e
	}
	// The signed event, then the server's copy.
	bus.inject(TypeSeek, event(500, 100, true))
	bus.inject(TypeSeek, event(500, 100, false))
	// The copy first, then the signed event.
	bus.inject(TypeSeek, event(501, 150, false))
	bus.inject(TypeSeek, event(501, 150, true))
	// A forgery still counts.
	bus.inject(TypeSeek, event(502, 5, false))
	bus.inject(TypeSeek, event(503, 200, true))
	waitCond(t, "bob applied the marker", func() bool { return f.player.State().Pos >= 199 })
	if n := f.stats(t).Unverified; n != 1 {
		t.Errorf("Unverified = %d, want 1 (the forgery only)", n)
	}
}

func (s *hostStore) IsMember(_ context.Context, _ string, id string) (bool, error) {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	_, ok := s.db.keys[id]
	return ok, nil
}

// kick deletes id's row, as kick_member does before it tells the room.
func (d *hostDB) kick(id string) {
	d.mu.Lock()
	delete(d.keys, id)
	d.mu.Unlock()
}

// A database without the host functions records no hosts: the room learns
// it (claim_host and host_alive answer 404) and follows host changes on
// the channel, as before.
func TestNoHostFunctionsMeansNoGate(t *testing.T) {
	bus, db := newFakeBus(), newHostDB()
	db.noFuncs = true
	alice, _, bob := gatedTrio(t, bus, db)
	alice.stop()
	bus.leave("alice")
	waitCond(t, "bob follows carol", hostIs(t, bob, "carol"))
	if got := db.stored(); got != "" {
		t.Fatalf("the database names %q", got)
	}
}
