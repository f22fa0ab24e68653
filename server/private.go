package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
)

// Private rooms: only members (the owner, and whoever redeemed the room's
// invite) may join its channel, public or private, read its rows or see its
// changes. The invite code has 128 random-looking bits: an HMAC, under the
// server's invite key, of a random salt kept with the code's SHA-256. The
// database holds only the hash and the salt, so a copy of it reveals no
// code; the server derives the code again when a member asks for it.

// inviteEncoding spells codes in lower-case base32 without padding.
var inviteEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// inviteBits is the strength of a code (the issue asks for at least 96).
const inviteBits = 128

func (s *Server) inviteCode(roomID, salt string) string {
	mac := hmac.New(sha256.New, s.inviteKey)
	mac.Write([]byte(roomID))
	mac.Write([]byte{0})
	mac.Write([]byte(salt))
	return inviteEncoding.EncodeToString(mac.Sum(nil)[:inviteBits/8])
}

func inviteHash(code string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(code))))
	return hex.EncodeToString(sum[:])
}

func newSalt() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// rpcError answers as PostgREST does for a function that raised.
func rpcError(status int, code, msg string) error {
	return &store.Error{Status: status, Code: code, Message: msg}
}

// Messages shared with the Supabase migration's functions, so the client
// explains both the same way.
const (
	msgSignIn    = "sign in first: private rooms need a user"
	msgNotMember = "room %s is private and you are not a member: ask a member for an invite (watchium-tui invite %s) and pass --invite CODE"
	msgBadInvite = "that invite code does not open room %s (the owner may have replaced it: ask for a new one)"
)

// canEnter reports whether the caller may see roomID: public rooms to
// everyone, private ones to their members.
func (s *Server) canEnter(ctx context.Context, uid, roomID string) (bool, error) {
	if s.cfg.Store == nil {
		return true, nil
	}
	private, _, err := s.cfg.Store.RoomAccess(ctx, roomID)
	if err != nil || !private {
		return err == nil, err
	}
	if uid == "" {
		return false, nil
	}
	return s.cfg.Store.HasAccess(ctx, roomID, uid)
}

// readable filters rows of rooms the caller may not see (rows without a
// room_id pass).
func (s *Server) readable(ctx context.Context, uid string, rows []store.Row) []store.Row {
	seen := map[string]bool{}
	out := rows[:0]
	for _, row := range rows {
		id, ok := row["room_id"].(string)
		if !ok {
			out = append(out, row)
			continue
		}
		allowed, known := seen[id]
		if !known {
			allowed, _ = s.canEnter(ctx, uid, id)
			seen[id] = allowed
		}
		if allowed {
			out = append(out, row)
		}
	}
	return out
}

// joinAllowed checks a realtime join of topic: the room's channels, public
// or private, are for its members only.
func (s *Server) joinAllowed(topic string, claims *auth.Claims) string {
	id, ok := roomIDOf(topic)
	if !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ok, err := s.canEnter(ctx, claims.UserID(), id); err != nil || !ok {
		// Supabase Realtime's refusal when RLS on realtime.messages says no.
		return "Unauthorized: You do not have permissions to read from this Channel topic: " + strings.TrimPrefix(topic, "realtime:")
	}
	return ""
}

// serveRPC is PostgREST's POST /rest/v1/rpc/{function} for the room
// functions the Supabase migration defines.
func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	if code, msg := s.authorize(r); code != 0 {
		writeJSONError(w, code, msg)
		return
	}
	claims, ok := s.restIdentity(w, r)
	if !ok {
		return
	}
	if s.cfg.Store == nil {
		restError(w, &store.Error{Status: 404, Code: "PGRST202", Message: "this server keeps no rooms"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		restError(w, rpcError(413, "PGRST413", "body over 64 KiB"))
		return
	}
	var args struct {
		RoomID string  `json:"p_room_id"`
		Invite *string `json:"p_invite"`
		UserID string  `json:"p_user_id"`
	}
	if len(body) > 0 && json.Unmarshal(body, &args) != nil {
		restError(w, rpcError(400, "PGRST102", "body must be a JSON object of the function's arguments"))
		return
	}
	if args.RoomID == "" {
		restError(w, rpcError(400, "22023", "p_room_id is required"))
		return
	}
	uid := claims.UserID()
	if uid == "" {
		restError(w, rpcError(401, "42501", msgSignIn))
		return
	}
	ctx := r.Context()
	var out any
	switch fn := r.PathValue("fn"); fn {
	case "create_private_room":
		out, err = s.createPrivateRoom(ctx, uid, args.RoomID)
	case "join_room":
		invite := ""
		if args.Invite != nil {
			invite = *args.Invite
		}
		out, err = s.joinRoom(ctx, uid, args.RoomID, invite)
	case "room_invite":
		out, err = s.roomInvite(ctx, uid, args.RoomID, false)
	case "rotate_invite":
		out, err = s.roomInvite(ctx, uid, args.RoomID, true)
	case "kick_member":
		out, err = s.kickMember(ctx, uid, args.RoomID, args.UserID)
	case "claim_host":
		out, err = s.claimHost(ctx, uid, args.RoomID)
	case "hand_over":
		out, err = s.handOver(ctx, uid, args.RoomID, args.UserID)
	case "host_alive":
		// The embedded server sees its host on the channel; nothing to do.
		out = nil
	default:
		err = rpcError(404, "PGRST202", "Could not find the function public."+fn+" in the schema cache")
	}
	if err != nil {
		restError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

type roomAnswer struct {
	RoomID  string `json:"room_id"`
	Private bool   `json:"is_private"`
	Invite  string `json:"invite,omitempty"`
}

func (s *Server) createPrivateRoom(ctx context.Context, uid, roomID string) (roomAnswer, error) {
	// A name already in use (people on its channel, or its chat kept) is a
	// public room: making it private would take it from them.
	inUse := false
	for _, r := range s.channelsOf("realtime:room:" + roomID) {
		r.mu.Lock()
		inUse = inUse || len(r.subs) > 0
		r.mu.Unlock()
	}
	if !inUse {
		kept, err := s.cfg.Store.Select(ctx, "comments", store.Query{Filters: []store.Filter{{Column: "room_id", Op: "eq", Values: []any{roomID}}}, Limit: 1})
		if err != nil {
			return roomAnswer{}, err
		}
		inUse = len(kept) > 0
	}
	if inUse {
		return roomAnswer{}, rpcError(409, "23505", fmt.Sprintf("room %s already exists", roomID))
	}
	salt := newSalt()
	code := s.inviteCode(roomID, salt)
	changes, err := s.cfg.Store.CreatePrivateRoom(ctx, roomID, uid, inviteHash(code), salt)
	if errors.Is(err, store.ErrRoomExists) {
		return roomAnswer{}, rpcError(409, "23505", fmt.Sprintf("room %s already exists", roomID))
	}
	if err != nil {
		return roomAnswer{}, err
	}
	s.publishChanges(changes)
	s.noteHost("realtime:room:"+roomID, uid, "")
	return roomAnswer{RoomID: roomID, Private: true, Invite: code}, nil
}

// joinRoom admits uid: a public room always; a private one when uid is a
// member already or redeems the room's invite (then for good).
func (s *Server) joinRoom(ctx context.Context, uid, roomID, invite string) (roomAnswer, error) {
	private, _, err := s.cfg.Store.RoomAccess(ctx, roomID)
	if err != nil || !private {
		return roomAnswer{RoomID: roomID}, err
	}
	if ok, err := s.cfg.Store.HasAccess(ctx, roomID, uid); err != nil || ok {
		return roomAnswer{RoomID: roomID, Private: true}, err
	}
	if strings.TrimSpace(invite) == "" {
		return roomAnswer{}, rpcError(403, "42501", fmt.Sprintf(msgNotMember, roomID, roomID))
	}
	hash, _, err := s.cfg.Store.Invite(ctx, roomID)
	if err != nil {
		return roomAnswer{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hash), []byte(inviteHash(invite))) != 1 {
		return roomAnswer{}, rpcError(403, "42501", fmt.Sprintf(msgBadInvite, roomID))
	}
	if err := s.cfg.Store.GrantAccess(ctx, roomID, uid); err != nil {
		return roomAnswer{}, err
	}
	return roomAnswer{RoomID: roomID, Private: true}, nil
}

// roomInvite tells a member the code; rotate (the owner only) replaces it.
func (s *Server) roomInvite(ctx context.Context, uid, roomID string, rotate bool) (roomAnswer, error) {
	private, owner, err := s.cfg.Store.RoomAccess(ctx, roomID)
	if err != nil {
		return roomAnswer{}, err
	}
	if !private {
		return roomAnswer{}, rpcError(400, "22023", fmt.Sprintf("room %s is public: anyone may join it, no invite needed (create a private one with join ROOM --private)", roomID))
	}
	if ok, err := s.cfg.Store.HasAccess(ctx, roomID, uid); err != nil || !ok {
		if err == nil {
			err = rpcError(403, "42501", fmt.Sprintf(msgNotMember, roomID, roomID))
		}
		return roomAnswer{}, err
	}
	if rotate {
		if uid != owner {
			return roomAnswer{}, rpcError(403, "42501", "only the room's owner can replace its invite")
		}
		salt := newSalt()
		code := s.inviteCode(roomID, salt)
		if err := s.cfg.Store.SetInvite(ctx, roomID, inviteHash(code), salt); err != nil {
			return roomAnswer{}, err
		}
		return roomAnswer{RoomID: roomID, Private: true, Invite: code}, nil
	}
	_, salt, err := s.cfg.Store.Invite(ctx, roomID)
	if err != nil {
		return roomAnswer{}, err
	}
	return roomAnswer{RoomID: roomID, Private: true, Invite: s.inviteCode(roomID, salt)}, nil
}

// kickMember ends target's membership (the owner or the host may): its
// access, its room_members row and, at once, its channels; the room is told.
func (s *Server) kickMember(ctx context.Context, uid, roomID, target string) (any, error) {
	private, owner, err := s.cfg.Store.RoomAccess(ctx, roomID)
	if err != nil {
		return nil, err
	}
	if !private {
		return nil, rpcError(400, "22023", fmt.Sprintf("room %s is public: anyone may join it again, so there is nobody to remove", roomID))
	}
	topic := "realtime:room:" + roomID
	if uid != owner && uid != s.CurrentHost(roomID) {
		return nil, rpcError(403, "42501", "only the room's owner or host can remove a member")
	}
	if target == "" || target == owner {
		return nil, rpcError(403, "42501", "the room's owner cannot be removed")
	}
	removed, changes, err := s.cfg.Store.RevokeAccess(ctx, roomID, target)
	if err != nil {
		return nil, err
	}
	s.publishChanges(changes)
	// The room hears who removed whom first (member_removed, additive:
	// spec clients ignore it), the removed member included, before its
	// channels close.
	name, byName := s.presenceName(topic, target), s.presenceName(topic, uid)
	if name == "" {
		name = target
	}
	s.publishRoom("room:"+roomID, "member_removed", specEvent("member_removed", roomID, map[string]any{
		"user_id": target, "username": name, "by": uid, "by_username": byName,
	}))
	if cut := s.cutOff(topic, target); cut != "" {
		name = cut
	}
	s.publishRoom("room:"+roomID, "member_left", specEvent("member_left", roomID, map[string]any{"user_id": target, "username": name, "reason": "removed"}))
	rows, changes, err := s.cfg.Store.Insert(ctx, "comments", []store.Row{{
		"room_id": roomID, "user_id": uid, "username": "watchium", "is_system_message": true,
		"content": name + " was removed from the room",
	}}, false)
	if err == nil {
		s.publishChanges(changes)
		s.publishRoom("room:"+roomID, "new_comment", specEvent("new_comment", roomID, rows[0]))
	}
	if s.CurrentHost(roomID) == target {
		s.memberLeft(topic, target)
	}
	return map[string]any{"room_id": roomID, "user_id": target, "removed": removed}, nil
}

// presenceName is the name uid's presence on topic gives ("" if none).
func (s *Server) presenceName(topic, uid string) string {
	for _, r := range s.channelsOf(topic) {
		r.mu.Lock()
		for _, metas := range r.presence {
			for _, pm := range metas {
				var m electedMeta
				if pm.owner.UserID() == uid && json.Unmarshal(pm.obj, &m) == nil && m.Username != "" {
					r.mu.Unlock()
					return m.Username
				}
			}
		}
		r.mu.Unlock()
	}
	return ""
}

// cutOff closes every channel target has on topic (public and private),
// each with a system message saying why, and returns its presence name.
func (s *Server) cutOff(topic, target string) (name string) {
	var subs []*subscription
	for _, r := range s.channelsOf(topic) {
		r.mu.Lock()
		for sub := range r.subs {
			if sub.UserID() == target {
				subs = append(subs, sub)
			}
		}
		for _, metas := range r.presence {
			for _, pm := range metas {
				if pm.owner.UserID() == target && name == "" {
					var m electedMeta
					if json.Unmarshal(pm.obj, &m) == nil {
						name = m.Username
					}
				}
			}
		}
		r.mu.Unlock()
	}
	for _, sub := range subs {
		c := sub.c
		c.hmu.Lock()
		if c.subs[sub.topic] == sub {
			c.shutdownChannel(sub, "You were removed from this room")
		}
		c.hmu.Unlock()
	}
	return name
}

// mayPost refuses writes into a private room from non-members.
func (s *Server) mayPost(ctx context.Context, uid, table string, rows []store.Row) error {
	if table != "comments" && table != "room_members" {
		return nil
	}
	for _, row := range rows {
		id, _ := row["room_id"].(string)
		if ok, err := s.canEnter(ctx, uid, id); err != nil || !ok {
			if err == nil {
				err = rlsError(table, fmt.Sprintf(msgNotMember, id, id))
			}
			return err
		}
	}
	return nil
}

// changeAudience returns, for a change, who may see it: nil means
// everyone (a public room's row); otherwise a check by user id.
func (s *Server) changeAudience(ch store.Change) func(uid string) bool {
	row := ch.Record
	if row == nil {
		row = ch.Old
	}
	id, ok := row["room_id"].(string)
	if !ok || s.cfg.Store == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	private, _, err := s.cfg.Store.RoomAccess(ctx, id)
	if err == nil && !private {
		return nil
	}
	seen := map[string]bool{}
	return func(uid string) bool {
		if uid == "" {
			return false
		}
		ok, known := seen[uid]
		if !known {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ok, _ = s.cfg.Store.HasAccess(ctx, id, uid)
			cancel()
			seen[uid] = ok
		}
		return ok
	}
}

// roomRow is the stored room, as the SQL functions return it.
func (s *Server) roomRow(ctx context.Context, roomID string) (any, error) {
	rows, err := s.cfg.Store.Select(ctx, "rooms", store.Query{Filters: []store.Filter{{Column: "room_id", Op: "eq", Values: []any{roomID}}}})
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

// claimHost is the SQL claim_host on the embedded server: the caller takes
// the role when nobody online hosts (while the server waits for a vanished
// host, only the member it would elect).
func (s *Server) claimHost(ctx context.Context, uid, roomID string) (any, error) {
	if ok, err := s.canEnter(ctx, uid, roomID); err != nil || !ok {
		if err == nil {
			err = rpcError(403, "42501", fmt.Sprintf(msgNotMember, roomID, roomID))
		}
		return nil, err
	}
	if ok, why := s.authorizeHostEvent("realtime:room:"+roomID, uid, "new_host", uid); !ok {
		if strings.HasPrefix(why, "only the room's host") {
			why = "the room's host is still here; ask them to hand over (/host NAME)"
		}
		return nil, rpcError(403, "42501", why)
	}
	return s.roomRow(ctx, roomID)
}

// handOver is the SQL hand_over: the host names its successor, a member.
func (s *Server) handOver(ctx context.Context, uid, roomID, target string) (any, error) {
	topic := "realtime:room:" + roomID
	host := s.CurrentHost(roomID)
	if host == target && target != "" {
		return s.roomRow(ctx, roomID) // done already (the new_host broadcast came first)
	}
	if host != uid {
		return nil, rpcError(403, "42501", "only the room's host can hand the role over")
	}
	if ok, err := s.canEnter(ctx, target, roomID); err != nil || !ok || !s.online(topic, target) {
		if err == nil {
			err = rpcError(403, "42501", fmt.Sprintf("%s is not a member of room %s", target, roomID))
		}
		return nil, err
	}
	s.setHost(topic, target, "", false)
	return s.roomRow(ctx, roomID)
}
