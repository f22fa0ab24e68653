// Package room is the watch party itself: the spec's room events, host
// authority, membership and the sync engine that keeps every follower's mpv
// on the host's timeline. It sits between the transport (realtime) and the
// player (player) and knows nothing of terminals.
package room

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Event types from the spec (shared/spec/websocket-events.md). They double as
// broadcast event names on the room channel.
const (
	TypePlay         = "play"
	TypePause        = "pause"
	TypeSeek         = "seek"
	TypeMemberJoined = "member_joined"
	TypeMemberLeft   = "member_left"
	TypeNewHost      = "new_host"
	TypeNewComment   = "new_comment"
	TypeHeartbeat    = "heartbeat"
)

// Envelope is the spec's event wrapper: {type, payload, room_id, timestamp}
// with timestamp in milliseconds since the epoch.
type Envelope struct {
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
	RoomID    string          `json:"room_id"`
	Timestamp int64           `json:"timestamp"`
}

// PlaybackPayload is the payload of play, pause and seek. The spec's three
// fields come first; the rest are our additions, which other clients ignore:
// they let followers order events and compensate for latency.
type PlaybackPayload struct {
	CurrentTime float64 `json:"current_time"`
	UserID      string  `json:"user_id"`
	Username    string  `json:"username"`

	// Seq increases with every playback event a host sends; followers drop
	// anything not newer than what they applied.
	Seq uint64 `json:"seq,omitempty"`
	// Epoch identifies one host's tenure, so a new host's Seq restarts safely.
	Epoch string `json:"epoch,omitempty"`
	// Speed is the host's playback rate.
	Speed float64 `json:"speed,omitempty"`
	// AtMS is the host's clock (ms since epoch, fractional) at which the
	// host's mpv was at CurrentTime.
	AtMS float64 `json:"at_ms,omitempty"`
}

// MemberPayload is the payload of member_joined and member_left.
type MemberPayload struct {
	UserID    string `json:"user_id"`
	Username  string `json:"username"`
	AvatarURL string `json:"avatar_url,omitempty"`
	// PublicKey is the member's signing key (room_members.public_key).
	PublicKey string `json:"public_key,omitempty"`
}

// NewHostPayload is the payload of new_host.
type NewHostPayload struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
}

// TypeMemberRemoved is our additive event (spec clients ignore it): the
// server (embedded: kick_member; Supabase: kick_member through
// realtime.send) tells the room that a member was removed, and by whom.
const TypeMemberRemoved = "member_removed"

// MemberRemovedPayload is the payload of member_removed, in the spec's
// naming: the removed member's user_id and username, and who removed it.
type MemberRemovedPayload struct {
	UserID     string `json:"user_id"`
	Username   string `json:"username,omitempty"`
	By         string `json:"by"`
	ByUsername string `json:"by_username,omitempty"`
}

// HeartbeatPayload is the payload of heartbeat.
type HeartbeatPayload struct {
	UserID      string  `json:"user_id"`
	CurrentTime float64 `json:"current_time"`
	IsSynced    bool    `json:"is_synced"`
}

// Comment is the spec's chat message object, carried by new_comment.
type Comment struct {
	ID              string `json:"id"`
	RoomID          string `json:"room_id"`
	UserID          string `json:"user_id"`
	Username        string `json:"username"`
	Content         string `json:"content"`
	CreatedAt       string `json:"created_at"`
	IsSystemMessage bool   `json:"is_system_message"`
}

// MaxCommentLength bounds a chat message in bytes, so one paste cannot
// exceed a frame limit.
const MaxCommentLength = 4000

// ErrBadTime is returned for playback times that must never reach a player.
var ErrBadTime = errors.New("invalid playback time")

// ValidTime reports whether t can be applied to a player: finite and not
// negative.
func ValidTime(t float64) error {
	if math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
		return fmt.Errorf("%w: %v", ErrBadTime, t)
	}
	return nil
}

// IsSpecType reports whether typ is one of the spec's event types.
func IsSpecType(typ string) bool {
	switch typ {
	case TypePlay, TypePause, TypeSeek, TypeMemberJoined, TypeMemberLeft, TypeNewHost, TypeNewComment, TypeHeartbeat:
		return true
	}
	return false
}

// Wire is the broadcast payload a spec event goes out as. The spec reads two
// ways: its interfaces put the event's fields inside the envelope
// (msg.payload.payload.current_time), while its sample VideoSyncManager reads
// them from the broadcast payload itself (msg.payload.current_time). Wire
// serves both: the envelope, with the inner payload's fields repeated beside
// type/payload/room_id/timestamp. The envelope's own keys win a clash, and a
// payload that is not an object is carried inside the envelope only.
func (e Envelope) Wire() (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(e.Payload, &fields); err != nil || fields == nil {
		fields = map[string]json.RawMessage{}
	}
	for k, v := range map[string]any{"type": e.Type, "payload": e.Payload, "room_id": e.RoomID, "timestamp": e.Timestamp} {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		fields[k] = raw
	}
	return json.Marshal(fields)
}

// NewEnvelope wraps payload in the spec's envelope stamped with now.
func NewEnvelope(typ, roomID string, payload any, now time.Time) (Envelope, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{Type: typ, Payload: raw, RoomID: roomID, Timestamp: now.UnixMilli()}, nil
}
