package room

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func signedPause(t testing.TB, key ed25519.PrivateKey) Envelope {
	t.Helper()
	env, err := NewEnvelope(TypePause, "movie", anchorPayload{PlaybackPayload: PlaybackPayload{CurrentTime: 61.5, UserID: "ana", Username: "ana", Seq: 7, Epoch: "e1", Speed: 1, AtMS: 1764000000123.456}, Reason: "pause"}, time.UnixMilli(1764000000200))
	if err != nil {
		t.Fatal(err)
	}
	if env, err = SignEnvelope(key, env); err != nil {
		t.Fatal(err)
	}
	return env
}

func TestSignaturesVerifyAndTamperingFails(t *testing.T) {
	key, other := NewSigningKey(), NewSigningKey()
	pub := key.Public().(ed25519.PublicKey)
	env := signedPause(t, key)
	if err := VerifyEnvelope(pub, env); err != nil {
		t.Fatalf("a signed event: %v", err)
	}
	// Re-encoded by a server (keys reordered, spacing, the sig moved) it
	// still verifies.
	var m map[string]any
	_ = json.Unmarshal(env.Payload, &m)
	reencoded, _ := json.MarshalIndent(m, "", "  ")
	if err := VerifyEnvelope(pub, Envelope{Type: env.Type, Payload: reencoded, RoomID: env.RoomID, Timestamp: env.Timestamp}); err != nil {
		t.Errorf("re-encoded: %v", err)
	}
	tamper := map[string]func(Envelope) Envelope{
		"type":      func(e Envelope) Envelope { e.Type = TypePlay; return e },
		"room":      func(e Envelope) Envelope { e.RoomID = "other"; return e },
		"timestamp": func(e Envelope) Envelope { e.Timestamp++; return e },
		"seq": func(e Envelope) Envelope {
			e.Payload = json.RawMessage(strings.Replace(string(e.Payload), `"seq":7`, `"seq":1007`, 1))
			return e
		},
		"time": func(e Envelope) Envelope {
			e.Payload = json.RawMessage(strings.Replace(string(e.Payload), `"current_time":61.5`, `"current_time":5`, 1))
			return e
		},
		"added field": func(e Envelope) Envelope {
			e.Payload = json.RawMessage(strings.Replace(string(e.Payload), `{`, `{"speed_hint":2,`, 1))
			return e
		},
		"unsigned": func(e Envelope) Envelope {
			var m map[string]any
			_ = json.Unmarshal(e.Payload, &m)
			delete(m, sigField)
			e.Payload, _ = json.Marshal(m)
			return e
		},
		"other key": func(e Envelope) Envelope { s := signedPause(t, other); return s },
	}
	for name, fn := range tamper {
		if err := VerifyEnvelope(pub, fn(env)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
	if err := VerifyEnvelope(pub, Envelope{Type: TypePause, Payload: json.RawMessage(`"x"`)}); err == nil {
		t.Error("a payload that is not an object verified")
	}
	if _, err := DecodePublicKey("not base64!"); err == nil {
		t.Error("a bad key decoded")
	}
	if k, err := DecodePublicKey(EncodePublicKey(pub)); err != nil || !k.Equal(pub) {
		t.Errorf("key round trip: %v", err)
	}
}

// FuzzVerifyEnvelope: whatever arrives, verification never panics, and it
// accepts nothing but what the key signed.
func FuzzVerifyEnvelope(f *testing.F) {
	key := NewSigningKey()
	pub := key.Public().(ed25519.PublicKey)
	good := signedPause(f, key)
	f.Add(string(good.Payload), good.Type, good.RoomID, good.Timestamp)
	f.Add(`{"sig":"AAAA"}`, "pause", "movie", int64(0))
	f.Add(`{"sig":12,"current_time":1}`, "sync", "", int64(-1))
	f.Add(`[]`, "play", "r", int64(1))
	f.Add(`{"current_time":1e400}`, "seek", "r", int64(1))
	f.Fuzz(func(t *testing.T, payload, typ, roomID string, ts int64) {
		env := Envelope{Type: typ, Payload: json.RawMessage(payload), RoomID: roomID, Timestamp: ts}
		err := VerifyEnvelope(pub, env)
		if err == nil {
			// Only the one event we signed (in any encoding) may verify.
			msg, _, merr := signedMessage(env)
			want, _, _ := signedMessage(good)
			if merr != nil || string(msg) != string(want) {
				t.Fatalf("a forged event verified: %q %q %q %d", payload, typ, roomID, ts)
			}
		}
		// Signing anything that is an object makes it verify.
		if signed, serr := SignEnvelope(key, env); serr == nil {
			if err := VerifyEnvelope(pub, signed); err != nil {
				t.Fatalf("our own signature failed: %v (%q)", err, payload)
			}
		}
	})
}

// keyStore is a Store whose members' keys are known; the rest is empty.
type keyStore struct {
	mu   sync.Mutex
	keys map[string]string
}

func (k *keyStore) History(context.Context, string, int) ([]Comment, error) { return nil, nil }
func (k *keyStore) AddComment(context.Context, Comment) error               { return nil }
func (k *keyStore) Control(context.Context, string, string, PlaybackPayload) error {
	return nil
}
func (k *keyStore) RoomState(context.Context, string) (RoomState, bool, error) {
	return RoomState{}, false, nil
}
func (k *keyStore) Enter(_ context.Context, _ string, m MemberPayload) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[m.UserID] = m.PublicKey
	return nil
}
func (k *keyStore) Leave(context.Context, string, string) error    { return nil }
func (k *keyStore) ClaimHost(context.Context, string) error        { return nil }
func (k *keyStore) HandOver(context.Context, string, string) error { return nil }
func (k *keyStore) HostAlive(context.Context, string) error        { return nil }
func (k *keyStore) MemberKey(_ context.Context, _ string, id string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys[id], nil
}

func (m *member) hostKeyKnown(t *testing.T) bool {
	var known bool
	if err := m.room.do(context.Background(), func() error { known = m.room.s.hostKey != nil; return nil }); err != nil {
		t.Fatal(err)
	}
	return known
}

// On a server that lets any member broadcast anything (Supabase), forged
// host events reach the follower; it drops every one the host did not
// sign, and still follows what the host did.
func TestFollowerDropsHostEventsTheHostDidNotSign(t *testing.T) {
	aliceKey, mallory := NewSigningKey(), NewSigningKey()
	st := &keyStore{keys: map[string]string{"alice": EncodePublicKey(aliceKey.Public().(ed25519.PublicKey))}}
	bus, h, f := signedPair(t, st, aliceKey)
	waitCond(t, "bob sees alice", hostIs(t, f, "alice"))
	// Alice records a pause, so the database names her host.
	h.player.set(func(s *playerState) { s.Pos = 1 })
	h.player.events <- playerEvent(eventPaused, 1)
	waitCond(t, "the database names alice", func() bool {
		var stored string
		_ = h.room.do(context.Background(), func() error { stored = h.room.s.storedHost; return nil })
		return stored == "alice"
	})

	epoch := h.room.sEpochForTest()
	forge := func(typ string, key ed25519.PrivateKey, p PlaybackPayload) Envelope {
		e, _ := NewEnvelope(typ, "r", p, time.Now())
		if key != nil {
			e, _ = SignEnvelope(key, e)
		}
		return e
	}
	bus.inject(TypeSeek, forge(TypeSeek, aliceKey, playback("alice", 100, epoch, 50)))
	waitCond(t, "bob follows alice's signed seek", func() bool { return f.player.State().Pos >= 99 })
	before := len(f.player.Calls())
	bus.inject(TypePause, forge(TypePause, nil, playback("alice", 5, epoch, 1000)))
	bus.inject(TypeSeek, forge(TypeSeek, mallory, playback("alice", 5, epoch, 1001)))
	bus.inject(typeAnchor, forge(typeAnchor, nil, playback("alice", 5, epoch, 1002)))
	claim, _ := NewEnvelope(TypeNewHost, "r", NewHostPayload{UserID: "mallory", Username: "mallory"}, time.Now())
	bus.inject(TypeNewHost, claim)
	// A signed marker proves the forgeries were processed before it.
	bus.inject(TypeSeek, forge(TypeSeek, aliceKey, playback("alice", 200, epoch, 1003)))
	waitCond(t, "the signed marker applied", func() bool { return f.player.State().Pos >= 199 })
	if calls := f.player.Calls()[before:]; strings.Count(strings.Join(calls, ","), "seek") != 1 || strings.Contains(strings.Join(calls, ","), "pause") {
		t.Fatalf("bob's player after the forgeries: %v; only the marker should have moved it", calls)
	}
	if got := f.snap(t).HostID; got != "alice" {
		t.Fatalf("bob follows %q after an unsigned new_host", got)
	}
	// The seek signed with another key is held while bob reads alice's
	// key again (she may have joined from another device), then counted.
	waitCond(t, "the 4 forgeries counted", func() bool { return f.snap(t).Sync.Unverified >= 4 })
	// A hand-over the host signs is followed.
	if err := h.room.HandOver(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "bob hosts after alice's signed hand-over", hostIs(t, f, "bob"))
}

func (s *keyStore) SavePlaylist(context.Context, string, Playlist) error { return nil }

// signedPair is alice hosting with key, her store st, and bob following
// her, once bob has read her key.
func signedPair(t *testing.T, st *keyStore, key ed25519.PrivateKey) (*fakeBus, *member, *member) {
	t.Helper()
	bus := newFakeBus()
	hc := fastConfig("alice", true)
	hc.Store, hc.SigningKey = st, key
	h := addMember(t, bus, hc)
	waitCond(t, "alice hosts", hostIs(t, h, "alice"))
	fc := fastConfig("bob", false)
	fc.Store = st
	f := addMember(t, bus, fc)
	waitCond(t, "bob knows alice's key", func() bool { return f.hostKeyKnown(t) })
	return bus, h, f
}
