// Package roomrest keeps a room's history, membership and host record
// through the Supabase-shaped REST API (PostgREST tables, /rpc functions
// and the sync/control edge function). It is the HTTP side of the
// room.Store and room.Admin ports: the room decides, this package knows
// which URL, which PostgreSQL error code, and which status means what.
package roomrest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
)

// Store implements room.Store (and room.CommentsSince) over REST.
type Store struct{ C *rest.Client }

// Admin implements room.Admin: the room functions (create_private_room,
// join_room, room_invite, rotate_invite, kick_member) over PostgREST's
// /rpc, as both the embedded server and the Supabase migration define them.
type Admin struct{ C *rest.Client }

var (
	_ room.HostRecords   = Store{}
	_ room.MemberCheck   = Store{}
	_ room.Store         = Store{}
	_ room.CommentsSince = Store{}
	_ room.Admin         = Admin{}
)

// answered is a server's refusal in the room's terms. Its text stays the
// server's own, and errors.As still finds the *rest.Error beneath.
type answered struct {
	kind error
	err  error
}

func (e *answered) Error() string   { return e.err.Error() }
func (e *answered) Unwrap() []error { return []error{e.kind, e.err} }

// classify maps "there are no tables here" and "these tables are not for
// you" (a Supabase project without our schema, or row-level security
// refusing an anonymous key) to room.ErrNoStore, so chat goes by
// broadcast; any other 4xx to room.ErrRefused, so nothing retries what
// the server will refuse again. Network errors and 5xx stay as they are:
// the room retries those.
func classify(err error) error {
	var re *rest.Error
	if err == nil || !errors.As(err, &re) {
		return err
	}
	switch {
	case re.Status == http.StatusNotFound || re.Status == http.StatusUnauthorized ||
		re.Status == http.StatusForbidden || re.Code == "42P01" || re.Code == "PGRST205" || re.Code == "42501":
		return &answered{room.ErrNoStore, err}
	case re.Status >= 400 && re.Status < 500:
		return &answered{room.ErrRefused, err}
	}
	return err
}

func roomIs(roomID string) url.Values { return url.Values{"room_id": {"eq." + roomID}} }

// History reads the last comments of roomID, oldest first.
func (s Store) History(ctx context.Context, roomID string, limit int) ([]room.Comment, error) {
	q := roomIs(roomID)
	q.Set("order", "created_at.desc")
	q.Set("limit", strconv.Itoa(limit))
	var rows []room.Comment
	if err := s.C.Select(ctx, "comments", q, &rows); err != nil {
		return nil, classify(err)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows, nil
}

// CommentsSince reads comments created at or after createdAt, oldest first.
func (s Store) CommentsSince(ctx context.Context, roomID, createdAt string, limit int) ([]room.Comment, error) {
	q := roomIs(roomID)
	q.Set("created_at", "gte."+createdAt)
	q.Set("order", "created_at.asc")
	q.Set("limit", strconv.Itoa(limit))
	var rows []room.Comment
	if err := s.C.Select(ctx, "comments", q, &rows); err != nil {
		return nil, classify(err)
	}
	return rows, nil
}

// AddComment inserts c.
func (s Store) AddComment(ctx context.Context, c room.Comment) error {
	var out []json.RawMessage
	return classify(s.C.Insert(ctx, "comments", c, false, &out))
}

// Control calls POST /functions/v1/sync/control with the spec's body plus
// our ordering fields.
func (s Store) Control(ctx context.Context, roomID, action string, p room.PlaybackPayload) error {
	body := map[string]any{
		"room_id": roomID, "user_id": p.UserID, "username": p.Username, "action": action,
		"current_time": p.CurrentTime, "seq": p.Seq, "epoch": p.Epoch, "speed": p.Speed, "at_ms": p.AtMS,
	}
	return classify(s.C.Function(ctx, "sync/control", body, nil))
}

// RoomState reads the room row.
func (s Store) RoomState(ctx context.Context, roomID string) (room.RoomState, bool, error) {
	var rows []room.RoomState
	if err := s.C.Select(ctx, "rooms", roomIs(roomID), &rows); err != nil {
		return room.RoomState{}, false, classify(err)
	}
	if len(rows) == 0 {
		return room.RoomState{}, false, nil
	}
	return rows[0], true, nil
}

// SavePlaylist updates the room row's playlist column.
func (s Store) SavePlaylist(ctx context.Context, roomID string, p room.Playlist) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return classify(s.C.Update(ctx, "rooms", roomIs(roomID), map[string]any{"playlist": string(raw)}))
}

// Enter upserts the member's row.
func (s Store) Enter(ctx context.Context, roomID string, m room.MemberPayload) error {
	row := map[string]any{"room_id": roomID, "user_id": m.UserID, "username": m.Username}
	if m.AvatarURL != "" {
		row["avatar_url"] = m.AvatarURL
	}
	if m.PublicKey != "" {
		row["public_key"] = m.PublicKey
	}
	var out []json.RawMessage
	err := s.C.Insert(ctx, "room_members", row, true, &out)
	var re *rest.Error
	if errors.As(err, &re) && re.Code == "PGRST204" && row["public_key"] != nil {
		// A project without the trust migration has no public_key column:
		// join unsigned rather than not at all.
		delete(row, "public_key")
		err = s.C.Insert(ctx, "room_members", row, true, &out)
	}
	return classify(err)
}

// Leave deletes the member's row.
func (s Store) Leave(ctx context.Context, roomID, userID string) error {
	q := roomIs(roomID)
	q.Set("user_id", "eq."+userID)
	return classify(s.C.Delete(ctx, "room_members", q))
}

// MemberKey reads userID's public key off its room_members row.
func (s Store) MemberKey(ctx context.Context, roomID, userID string) (string, error) {
	var rows []struct {
		PublicKey *string `json:"public_key"`
	}
	q := roomIs(roomID)
	q.Set("user_id", "eq."+userID)
	if err := s.C.Select(ctx, "room_members", q, &rows); err != nil {
		return "", classify(err)
	}
	if len(rows) == 0 || rows[0].PublicKey == nil {
		return "", nil
	}
	return *rows[0].PublicKey, nil
}

// IsMember implements room.MemberCheck: whether userID still has a
// room_members row (kick_member deletes it before it tells the room).
func (s Store) IsMember(ctx context.Context, roomID, userID string) (bool, error) {
	var rows []json.RawMessage
	q := roomIs(roomID)
	q.Set("user_id", "eq."+userID)
	if err := s.C.Select(ctx, "room_members", q, &rows); err != nil {
		return false, classify(err)
	}
	return len(rows) > 0, nil
}

// hostRPC calls a host function. A server without it (404) answers
// room.ErrNoHostFunctions, and the room leaves host changes to the channel,
// as before; a guest who cannot call it (401) gets nil.
func (s Store) hostRPC(ctx context.Context, fn string, args map[string]any) error {
	err := s.C.RPC(ctx, fn, args, nil)
	var re *rest.Error
	if errors.As(err, &re) && re.Status == http.StatusNotFound {
		return &answered{room.ErrNoHostFunctions, err}
	}
	if errors.As(err, &re) && re.Status == http.StatusUnauthorized {
		return nil
	}
	return classify(err)
}

// RecordsHosts implements room.HostRecords: claim_host and hand_over record
// host changes under the caller's id only for a signed-in user (the anon
// role may not call them, and the embedded server cannot tell one guest
// from another).
func (s Store) RecordsHosts() bool { return s.C != nil && s.C.SignedIn() }

// ClaimHost implements room.Store.
func (s Store) ClaimHost(ctx context.Context, roomID string) error {
	return s.hostRPC(ctx, "claim_host", map[string]any{"p_room_id": roomID})
}

// HandOver implements room.Store.
func (s Store) HandOver(ctx context.Context, roomID, userID string) error {
	return s.hostRPC(ctx, "hand_over", map[string]any{"p_room_id": roomID, "p_user_id": userID})
}

// HostAlive implements room.Store.
func (s Store) HostAlive(ctx context.Context, roomID string) error {
	return s.hostRPC(ctx, "host_alive", map[string]any{"p_room_id": roomID})
}

// Invite implements room.Admin.
func (a Admin) Invite(ctx context.Context, roomID string, rotate bool) (string, error) {
	fn := "room_invite"
	if rotate {
		fn = "rotate_invite"
	}
	var out struct {
		Invite string `json:"invite"`
	}
	if err := a.C.RPC(ctx, fn, map[string]any{"p_room_id": roomID}, &out); err != nil {
		return "", err
	}
	return out.Invite, nil
}

// Kick implements room.Admin.
func (a Admin) Kick(ctx context.Context, roomID, userID string) error {
	return a.C.RPC(ctx, "kick_member", map[string]any{"p_room_id": roomID, "p_user_id": userID}, nil)
}
