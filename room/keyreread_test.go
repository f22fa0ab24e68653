package room

import (
	"context"
	"crypto/ed25519"
	"math"
	"testing"
	"time"
)

func (k *keyStore) setKey(id string, pub ed25519.PublicKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[id] = EncodePublicKey(pub)
}

// useSigningKey makes m sign with key from now on, on its own goroutine.
func useSigningKey(t *testing.T, m *member, key ed25519.PrivateKey) {
	t.Helper()
	if err := m.room.do(context.Background(), func() error { m.room.cfg.SigningKey = key; return nil }); err != nil {
		t.Fatal(err)
	}
}

// The host joins again from another device (say, a second terminal before
// keys were per device): its row now holds another key. The follower,
// failing to verify, reads the key again and follows the host; a forgery
// right after is still dropped, without another read.
func TestFollowerRereadsTheHostKeyWhenItChanges(t *testing.T) {
	first, second, mallory := NewSigningKey(), NewSigningKey(), NewSigningKey()
	st := &keyStore{keys: map[string]string{}}
	bus, h, f := signedPair(t, st, first)
	epoch := h.room.sEpochForTest()
	seek := func(key ed25519.PrivateKey, seq uint64, pos float64) Envelope {
		e, _ := NewEnvelope(TypeSeek, "r", playback("alice", pos, epoch, seq), time.Now())
		e, _ = SignEnvelope(key, e)
		return e
	}

	// Alice now signs from the other device, and her row says so. What she
	// sends (anchors, clock-probe replies) reaches bob in order, so the
	// first event signed with the new key has him re-read it, and what
	// follows waits for that read; what she signed with the old key is
	// delivered before the seek below, which bypasses her outbox.
	st.setKey("alice", second.Public().(ed25519.PublicKey))
	useSigningKey(t, h, second)
	waitCond(t, "alice's outbox delivered", bus.channelOf("alice").idle)
	bus.inject(TypeSeek, seek(second, 900, 120))
	waitCond(t, "bob follows alice's seek signed with her new key", func() bool { return f.player.State().Pos >= 119 })
	bus.inject(TypeSeek, seek(mallory, 901, 5))
	bus.inject(TypeSeek, seek(second, 902, 240))
	waitCond(t, "bob applied the marker", func() bool { return f.player.State().Pos >= 239 })
	if n := f.stats(t).Unverified; n != 1 {
		t.Errorf("Unverified = %d, want 1 (mallory's seek only)", n)
	}
}

// A clock-probe reply in the host's name that the host did not sign (on
// Supabase anyone may send one, fast and false) never reaches the clock
// estimate; the host's own signed replies do.
func TestForgedProbeRepliesAreDropped(t *testing.T) {
	aliceKey := NewSigningKey()
	st := &keyStore{keys: map[string]string{}}
	bus, _, f := signedPair(t, st, aliceKey)
	clockSamples := func() int {
		var n int
		_ = f.room.do(context.Background(), func() error { n = f.room.s.clock.Len(); return nil })
		return n
	}
	waitCond(t, "bob's probes answered by alice", func() bool { return clockSamples() > 0 })
	before := f.stats(t).Unverified
	now := wallMS(time.Now())
	forged, _ := NewEnvelope(typeProbeReply, "r", probePayload{From: "bob", To: "alice", T0: now, T1: now + 60000, T2: now + 60000}, time.Now())
	bus.inject(typeProbeReply, forged)
	waitCond(t, "the forged reply counted", func() bool { return f.stats(t).Unverified == before+1 })
	var off float64
	_ = f.room.do(context.Background(), func() error { off, _, _ = f.room.s.clock.Offset(); return nil })
	if math.Abs(off) > 1000 {
		t.Fatalf("bob's clock offset %v ms after a forged reply", off)
	}
}

// slowKeyStore answers MemberKey only once released.
type slowKeyStore struct {
	*keyStore
	release chan struct{}
}

func (s *slowKeyStore) MemberKey(ctx context.Context, room, id string) (string, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return s.keyStore.MemberKey(ctx, room, id)
}

// Until the host's key is first read, an event in the host's name could be
// anyone's: the follower holds it and decides once the database answers.
func TestHostEventsWaitForTheFirstKeyRead(t *testing.T) {
	bus := newFakeBus()
	aliceKey := NewSigningKey()
	ks := &keyStore{keys: map[string]string{}}
	hc := fastConfig("alice", true)
	hc.Store, hc.SigningKey = ks, aliceKey
	h := addMember(t, bus, hc)
	waitCond(t, "alice hosts", hostIs(t, h, "alice"))
	slow := &slowKeyStore{keyStore: ks, release: make(chan struct{})}
	fc := fastConfig("bob", false)
	fc.Store = slow
	f := addMember(t, bus, fc)
	waitCond(t, "bob follows alice", hostIs(t, f, "alice"))
	epoch := h.room.sEpochForTest()
	forged, _ := NewEnvelope(TypeSeek, "r", playback("alice", 5, epoch, 700), time.Now())
	bus.inject(TypeSeek, forged)
	genuine, _ := NewEnvelope(TypeSeek, "r", playback("alice", 300, epoch, 701), time.Now())
	genuine, _ = SignEnvelope(aliceKey, genuine)
	bus.inject(TypeSeek, genuine)
	waitCond(t, "both held", func() bool {
		var n int
		_ = f.room.do(context.Background(), func() error { n = len(f.room.s.keyWait); return nil })
		return n >= 2
	})
	if calls := f.player.Calls(); len(calls) != 0 {
		t.Fatalf("bob's player moved before alice's key was known: %v", calls)
	}
	close(slow.release)
	waitCond(t, "the genuine seek applied", func() bool { return f.player.State().Pos >= 299 })
	waitCond(t, "the forged one counted", func() bool { return f.stats(t).Unverified >= 1 })
	for _, c := range f.player.Calls() {
		if c == "pause" {
			t.Fatalf("bob paused: %v", f.player.Calls())
		}
	}
}
