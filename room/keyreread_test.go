package room

import (
	"crypto/ed25519"
	"testing"
	"time"
)

func (k *keyStore) setKey(id string, pub ed25519.PublicKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[id] = EncodePublicKey(pub)
}

// The host joins again from another device (say, a second terminal before
// keys were per device): its row now holds another key. The follower,
// failing to verify, reads the key again and follows the host; a forgery
// right after is still dropped, without another read.
func TestFollowerRereadsTheHostKeyWhenItChanges(t *testing.T) {
	bus := newFakeBus()
	first, second, mallory := NewSigningKey(), NewSigningKey(), NewSigningKey()
	st := &keyStore{keys: map[string]string{}}
	hc := fastConfig("alice", true)
	hc.Store, hc.SigningKey = st, first
	h := addMember(t, bus, hc)
	waitCond(t, "alice hosts", hostIs(t, h, "alice"))
	fc := fastConfig("bob", false)
	fc.Store = st
	f := addMember(t, bus, fc)
	waitCond(t, "bob knows alice's key", func() bool { return f.hostKeyKnown(t) })
	epoch := h.room.sEpochForTest()
	seek := func(key ed25519.PrivateKey, seq uint64, pos float64) Envelope {
		e, _ := NewEnvelope(TypeSeek, "r", playback("alice", pos, epoch, seq), time.Now())
		e, _ = SignEnvelope(key, e)
		return e
	}

	st.setKey("alice", second.Public().(ed25519.PublicKey))
	bus.inject(TypeSeek, seek(second, 900, 120))
	waitCond(t, "bob follows alice's seek signed with her new key", func() bool { return f.player.State().Pos >= 119 })
	bus.inject(TypeSeek, seek(mallory, 901, 5))
	bus.inject(TypeSeek, seek(second, 902, 240))
	waitCond(t, "bob applied the marker", func() bool { return f.player.State().Pos >= 239 })
	if n := f.stats(t).Unverified; n != 1 {
		t.Errorf("Unverified = %d, want 1 (mallory's seek only)", n)
	}
}
