package room

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/watchium/watchium-tui/realtime"
)

// Signed host events. A server such as Supabase checks who may join a
// channel but not who sends each broadcast on it, so any member could send
// a pause in the host's name. The host therefore signs its playback and
// new_host events with an Ed25519 key whose public half is on its own
// room_members row (which only it may write), and followers drop what does
// not verify against the key of the host they follow. The signature is one
// additive field, "sig", in the payload; spec clients ignore it.

// signedTypes are the events a host signs and a follower verifies.
// The host's clock-probe replies too: on Supabase anyone could answer a
// follower's probe in the host's name with a quick, false clock and shift
// where that follower plays.
var signedTypes = map[string]bool{TypePlay: true, TypePause: true, TypeSeek: true, typeAnchor: true, TypeNewHost: true, typeProbeReply: true}

// sigField carries the signature (base64) in the event's payload.
const sigField = "sig"

// sigContext separates these signatures from any other use of the key.
const sigContext = "watchium-host-event-v1"

// ErrBadSignature means an event failed verification.
var ErrBadSignature = errors.New("signature does not verify against the host's key")

// NewSigningKey makes a member's key pair.
func NewSigningKey() ed25519.PrivateKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("room: no randomness for a signing key: " + err.Error())
	}
	return priv
}

// EncodePublicKey is how a key is kept on room_members.public_key.
func EncodePublicKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// DecodePublicKey reads room_members.public_key.
func DecodePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("not an Ed25519 public key: %q", s)
	}
	return ed25519.PublicKey(b), nil
}

// signedMessage is what is signed: the event's type, room and time and its
// payload without the signature, canonically (keys sorted, numbers as Go
// prints float64s), so a server that re-encodes JSON (Supabase does) does
// not break it.
func signedMessage(env Envelope) ([]byte, string, error) {
	var fields map[string]any
	if err := json.Unmarshal(env.Payload, &fields); err != nil || fields == nil {
		return nil, "", errors.New("payload is not a JSON object")
	}
	sig, _ := fields[sigField].(string)
	delete(fields, sigField)
	canon, err := json.Marshal(fields)
	if err != nil {
		return nil, "", err
	}
	msg := make([]byte, 0, len(canon)+len(env.Type)+len(env.RoomID)+64)
	msg = append(msg, sigContext...)
	msg = append(msg, 0)
	msg = append(msg, env.Type...)
	msg = append(msg, 0)
	msg = append(msg, env.RoomID...)
	msg = append(msg, 0)
	msg = strconv.AppendInt(msg, env.Timestamp, 10)
	msg = append(msg, 0)
	msg = append(msg, canon...)
	return msg, sig, nil
}

// SignEnvelope returns env with its payload signed by key.
func SignEnvelope(key ed25519.PrivateKey, env Envelope) (Envelope, error) {
	msg, _, err := signedMessage(env)
	if err != nil {
		return env, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(env.Payload, &fields); err != nil {
		return env, err
	}
	sig, _ := json.Marshal(base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg)))
	fields[sigField] = sig
	if env.Payload, err = json.Marshal(fields); err != nil {
		return env, err
	}
	return env, nil
}

// VerifyEnvelope checks env's signature against pub.
func VerifyEnvelope(pub ed25519.PublicKey, env Envelope) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("no usable public key")
	}
	msg, sig, err := signedMessage(env)
	if err != nil {
		return err
	}
	if sig == "" {
		return fmt.Errorf("%w: the event is not signed", ErrBadSignature)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return fmt.Errorf("%w: malformed signature", ErrBadSignature)
	}
	if !ed25519.Verify(pub, msg, raw) {
		return ErrBadSignature
	}
	return nil
}

// hostKeyRetry is how long a follower waits before asking again for a host
// key the database did not have yet (the host's row is written as it joins).
const hostKeyRetry = 2 * time.Second

type inHostKey struct {
	userID string
	key    ed25519.PublicKey
	known  bool // the database answered (a key, or none: an unsigned host)
	// reread: the answer to a re-read after a signature failed; the
	// events held for it are decided now.
	reread bool
	// first: the first read after the host changed; events held for it
	// (keyWait) are decided now.
	first bool
}

// keyRereadEvery bounds how often a follower re-reads the host's key
// because an event signed by someone did not verify: the host may have
// joined again from another device, whose key is now on its row.
const keyRereadEvery = 5 * time.Second

// maxHeldForKey bounds the events held while the key is re-read.
const maxHeldForKey = 16

// keyReread is a follower's re-read of the host's key in progress.
type keyReread struct {
	last    time.Time
	pending bool
	held    []realtime.Broadcast
}

// badSignature handles a signed host event that did not verify: unless the
// host's key was re-read in the last keyRereadEvery, it is held while the
// key is read again, then decided against the fresh key; otherwise it is
// dropped and counted.
func (r *Room) badSignature(b realtime.Broadcast, env Envelope, p PlaybackPayload, err error) {
	s := &r.s
	kr := &s.keyReread
	if !isUnsigned(env) && s.hostKey != nil && r.store() != nil {
		if kr.pending {
			if len(kr.held) < maxHeldForKey {
				kr.held = append(kr.held, b)
				return
			}
		} else if kr.last.IsZero() || r.now().Sub(kr.last) >= keyRereadEvery {
			kr.last, kr.pending, kr.held = r.now(), true, append(kr.held[:0], b)
			r.rereadHostKey(s.hostID)
			return
		}
	}
	r.unverified(env, p, err)
}

// rereadHostKey reads id's key again, off the room's goroutine; the
// answer always comes back, so held events are always decided.
func (r *Room) rereadHostKey(id string) {
	st := r.store()
	go func() {
		m := inHostKey{userID: id, reread: true}
		if st != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			enc, err := st.MemberKey(ctx, r.cfg.RoomID, id)
			cancel()
			if err == nil && enc != "" {
				if key, derr := DecodePublicKey(enc); derr == nil {
					m.key, m.known = key, true
				}
			}
		}
		r.in.put(m)
	}()
}

// onHostKey takes a key the database gave for a host.
func (r *Room) onHostKey(ctx context.Context, m inHostKey) {
	s := &r.s
	if !m.reread {
		if m.userID != s.hostID {
			return
		}
		// A re-read that answered first is the fresher.
		if s.hostKey == nil {
			s.hostKey = m.key
		}
		if m.first && s.keyPending {
			held := s.keyWait
			s.keyPending, s.keyWait = false, nil
			for _, b := range held {
				r.onBroadcast(ctx, b)
			}
		}
		return
	}
	held := s.keyReread.held
	s.keyReread.pending, s.keyReread.held = false, nil
	if m.userID != s.hostID {
		return // the host changed meanwhile: its events are not ours to apply
	}
	if m.known && !m.key.Equal(s.hostKey) {
		r.log.Info("room: the host's key on record changed (another of its devices)", "host", m.userID)
		s.hostKey = m.key
	}
	// Decided against the fresh key; a failure now is counted (the next
	// re-read is keyRereadEvery away).
	for _, b := range held {
		r.onBroadcast(ctx, b)
	}
}

// fetchHostKey asks the database for id's public key, off the room's
// goroutine, and hands the answer back to it.
func (r *Room) fetchHostKey(id string, attempt int) {
	st := r.store()
	if st == nil || id == "" || id == r.cfg.UserID {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The first answer always comes back: the host's events wait for
		// it (keyWait).
		m := inHostKey{userID: id, first: attempt == 0}
		defer func() {
			if m.first || m.key != nil {
				r.in.put(m)
			}
		}()
		enc, err := st.MemberKey(ctx, r.cfg.RoomID, id)
		if err != nil {
			r.log.Debug("room: reading the host's key", "host", id, "err", err)
			return
		}
		if enc == "" {
			if attempt < 2 {
				r.later(hostKeyRetry, func() {
					if r.s.hostID == id && r.s.hostKey == nil {
						r.fetchHostKey(id, attempt+1)
					}
				})
			}
			return
		}
		key, err := DecodePublicKey(enc)
		if err != nil {
			r.log.Warn("room: the host's key is unusable; its events are taken unsigned", "host", id, "err", err)
			return
		}
		m.key, m.known = key, true
	}()
}

// maxKeyWait bounds the host events held until its key is first read;
// anchors are re-sent every few seconds, so the oldest may go.
const maxKeyWait = 32

// awaitingKey holds b when the host's key is being read for the first
// time: until the database answers, an event in the host's name could be
// anyone's.
func (r *Room) awaitingKey(b realtime.Broadcast) bool {
	s := &r.s
	if !s.keyPending || s.hostKey != nil {
		return false
	}
	if len(s.keyWait) >= maxKeyWait {
		s.keyWait = s.keyWait[1:]
	}
	s.keyWait = append(s.keyWait, b)
	return true
}

// acceptFromHost decides whether a host-only event may be applied: when the
// host has a key on record, only what it signed. Without one (a host that
// signs nothing: a web client, a server without the column), the event is
// taken as before, from the host's user id alone.
func acceptFromHost(hostKey ed25519.PublicKey, env Envelope) error {
	if hostKey == nil {
		return nil
	}
	return VerifyEnvelope(hostKey, env)
}

// unsignedCopyKeep bounds the unsigned events remembered for uncounting.
const unsignedCopyKeep = 64

// unverified drops a host event that failed verification and counts it,
// unless it is the server's unsigned copy of one already applied (the
// embedded server's and the sync/control edge function's broadcast of a
// recorded control carries the host's epoch and seq, not its signature).
func (r *Room) unverified(env Envelope, p PlaybackPayload, err error) {
	s := &r.s
	unsigned := isUnsigned(env)
	if unsigned && p.Epoch != "" && p.Epoch == s.lastEpoch && p.Seq <= s.lastSeq {
		r.log.Debug("room: the server's unsigned copy of a host event", "type", env.Type, "seq", p.Seq)
		return
	}
	s.stats.Unverified++
	if unsigned && p.Epoch != "" {
		// The copy may overtake the signed original: remember it, so
		// verified can take it back.
		if len(s.unsignedSeen) >= unsignedCopyKeep {
			clear(s.unsignedSeen)
		}
		if s.unsignedSeen == nil {
			s.unsignedSeen = map[string]bool{}
		}
		s.unsignedSeen[copyKey(p)] = true
	}
	r.log.Debug("room: dropping a host event that does not verify", "type", env.Type, "err", err)
}

// verified notes a host event that verified: an unsigned copy of it that
// came first was the server's, not a forgery.
func (r *Room) verified(p PlaybackPayload) {
	s := &r.s
	if p.Epoch == "" || !s.unsignedSeen[copyKey(p)] {
		return
	}
	delete(s.unsignedSeen, copyKey(p))
	s.stats.Unverified--
}

func copyKey(p PlaybackPayload) string { return p.Epoch + "/" + strconv.FormatUint(p.Seq, 10) }

// isUnsigned reports whether env carries no signature at all.
func isUnsigned(env Envelope) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(env.Payload, &fields) != nil {
		return true
	}
	_, has := fields[sigField]
	return !has
}
