package room

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/watchium/watchium-tui/rest"
)

// Store is where a room's history lives, when the server keeps it.
type Store interface {
	// History is the room's last comments, oldest first.
	History(ctx context.Context, roomID string, limit int) ([]Comment, error)
	// AddComment stores c; once it returns nil the comment is durable.
	AddComment(ctx context.Context, c Comment) error
	// Control records a host's play, pause or seek (and the server
	// broadcasts it to the room).
	Control(ctx context.Context, roomID, action string, p PlaybackPayload) error
	// RoomState is the stored room row; ok is false when there is none.
	RoomState(ctx context.Context, roomID string) (st RoomState, ok bool, err error)
	// Enter and Leave keep the member's room_members row (on Supabase,
	// row-level security lets only members read a room).
	Enter(ctx context.Context, roomID string, m MemberPayload) error
	Leave(ctx context.Context, roomID, userID string) error
	// MemberKey is the public key on userID's room_members row ("" when
	// it has none).
	MemberKey(ctx context.Context, roomID, userID string) (string, error)
	// ClaimHost, HandOver and HostAlive record host changes in the
	// database (claim_host, hand_over, host_alive); nil where the server
	// has no such functions.
	ClaimHost(ctx context.Context, roomID string) error
	HandOver(ctx context.Context, roomID, userID string) error
	HostAlive(ctx context.Context, roomID string) error
	// SavePlaylist stores the room's playlist (host only; the room row's
	// rules apply).
	SavePlaylist(ctx context.Context, roomID string, p Playlist) error
}

// RoomState is the stored state of a room: what a late joiner sees while
// the host is away.
type RoomState struct {
	HostUserID  string  `json:"host_user_id"`
	CurrentTime float64 `json:"current_playback_time"`
	IsPlaying   bool    `json:"is_playing"`
	UpdatedAt   string  `json:"updated_at"`
	// Playlist is the stored playlist, as JSON text.
	Playlist string `json:"playlist,omitempty"`
}

// ErrNoStore means the server keeps no tables; chat goes by broadcast only.
var ErrNoStore = errors.New("the server keeps no room history")

// HistoryLimit is how many comments a joining member loads.
const HistoryLimit = 50

// RESTStore keeps history through the Supabase-shaped REST endpoints.
type RESTStore struct{ C *rest.Client }

// noStore maps "there are no tables here" and "these tables are not for
// you" (a Supabase project without our schema, or row-level security
// refusing an anonymous key) to ErrNoStore: chat then goes by broadcast.
func noStore(err error) error {
	var re *rest.Error
	if errors.As(err, &re) && (re.Status == http.StatusNotFound || re.Status == http.StatusUnauthorized ||
		re.Status == http.StatusForbidden || re.Code == "42P01" || re.Code == "PGRST205" || re.Code == "42501") {
		return fmt.Errorf("%w (%v)", ErrNoStore, err)
	}
	return err
}

// History reads the last comments of roomID.
func (s RESTStore) History(ctx context.Context, roomID string, limit int) ([]Comment, error) {
	q := url.Values{"room_id": {"eq." + roomID}, "order": {"created_at.desc"}, "limit": {strconv.Itoa(limit)}}
	var rows []Comment
	if err := s.C.Select(ctx, "comments", q, &rows); err != nil {
		return nil, noStore(err)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows, nil
}

// AddComment inserts c.
func (s RESTStore) AddComment(ctx context.Context, c Comment) error {
	var out []json.RawMessage
	return noStore(s.C.Insert(ctx, "comments", c, false, &out))
}

// Control calls POST /functions/v1/sync/control with the spec's body plus
// our ordering fields.
func (s RESTStore) Control(ctx context.Context, roomID, action string, p PlaybackPayload) error {
	body := map[string]any{
		"room_id": roomID, "user_id": p.UserID, "username": p.Username, "action": action,
		"current_time": p.CurrentTime, "seq": p.Seq, "epoch": p.Epoch, "speed": p.Speed, "at_ms": p.AtMS,
	}
	return noStore(s.C.Function(ctx, "sync/control", body, nil))
}

// RoomState reads the room row.
func (s RESTStore) RoomState(ctx context.Context, roomID string) (RoomState, bool, error) {
	var rows []RoomState
	if err := s.C.Select(ctx, "rooms", url.Values{"room_id": {"eq." + roomID}}, &rows); err != nil {
		return RoomState{}, false, noStore(err)
	}
	if len(rows) == 0 {
		return RoomState{}, false, nil
	}
	return rows[0], true, nil
}

// SavePlaylist updates the room row's playlist column.
func (s RESTStore) SavePlaylist(ctx context.Context, roomID string, p Playlist) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return noStore(s.C.Update(ctx, "rooms", url.Values{"room_id": {"eq." + roomID}}, map[string]any{"playlist": string(raw)}))
}

// Enter upserts the member's row.
func (s RESTStore) Enter(ctx context.Context, roomID string, m MemberPayload) error {
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
	return noStore(err)
}

// hostRPC calls a host function; a server without it (404), or a guest
// who cannot call it (401), leaves host changes to the channel, as before.
func (s RESTStore) hostRPC(ctx context.Context, fn string, args map[string]any) error {
	err := s.C.RPC(ctx, fn, args, nil)
	var re *rest.Error
	if errors.As(err, &re) && (re.Status == 404 || re.Status == 401) {
		return nil
	}
	return err
}

// ClaimHost implements Store.
func (s RESTStore) ClaimHost(ctx context.Context, roomID string) error {
	return s.hostRPC(ctx, "claim_host", map[string]any{"p_room_id": roomID})
}

// HandOver implements Store.
func (s RESTStore) HandOver(ctx context.Context, roomID, userID string) error {
	return s.hostRPC(ctx, "hand_over", map[string]any{"p_room_id": roomID, "p_user_id": userID})
}

// HostAlive implements Store.
func (s RESTStore) HostAlive(ctx context.Context, roomID string) error {
	return s.hostRPC(ctx, "host_alive", map[string]any{"p_room_id": roomID})
}

// MemberKey reads userID's public key off its room_members row.
func (s RESTStore) MemberKey(ctx context.Context, roomID, userID string) (string, error) {
	var rows []struct {
		PublicKey *string `json:"public_key"`
	}
	err := s.C.Select(ctx, "room_members", url.Values{"room_id": {"eq." + roomID}, "user_id": {"eq." + userID}}, &rows)
	if err != nil || len(rows) == 0 || rows[0].PublicKey == nil {
		return "", noStore(err)
	}
	return *rows[0].PublicKey, nil
}

// Leave deletes the member's row.
func (s RESTStore) Leave(ctx context.Context, roomID, userID string) error {
	return noStore(s.C.Delete(ctx, "room_members", url.Values{"room_id": {"eq." + roomID}, "user_id": {"eq." + userID}}))
}

// loadHistory shows the room's recent chat to a member who just joined.
func (r *Room) loadHistory() {
	st := r.cfg.Store
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	me := MemberPayload{UserID: r.cfg.UserID, Username: r.cfg.Username, AvatarURL: r.cfg.AvatarURL,
		PublicKey: EncodePublicKey(r.cfg.SigningKey.Public().(ed25519.PublicKey))}
	if err := st.Enter(ctx, r.cfg.RoomID, me); err != nil {
		r.disableStore(err)
		if errors.Is(err, ErrNoStore) {
			return
		}
		r.log.Warn("room: recording membership", "err", err)
	}
	if rs, ok, err := st.RoomState(ctx, r.cfg.RoomID); err == nil && ok {
		r.in.put(inRoomState{rs})
	}
	cs, err := st.History(ctx, r.cfg.RoomID, HistoryLimit)
	if err != nil {
		if !errors.Is(err, ErrNoStore) {
			r.log.Warn("room: loading chat history", "err", err)
		}
		r.disableStore(err)
		return
	}
	for _, c := range cs {
		r.deliverComment(c)
	}
}

// CommentsSince is what a store offers for catching up after a rejoin:
// the room's comments created at or after createdAt, oldest first.
type CommentsSince interface {
	CommentsSince(ctx context.Context, roomID, createdAt string, limit int) ([]Comment, error)
}

// CommentsSince reads comments created at or after createdAt, oldest first.
func (s RESTStore) CommentsSince(ctx context.Context, roomID, createdAt string, limit int) ([]Comment, error) {
	q := url.Values{"room_id": {"eq." + roomID}, "created_at": {"gte." + createdAt}, "order": {"created_at.asc"}, "limit": {strconv.Itoa(limit)}}
	var rows []Comment
	if err := s.C.Select(ctx, "comments", q, &rows); err != nil {
		return nil, noStore(err)
	}
	return rows, nil
}

// disableStore falls back to broadcast-only chat when the server has no
// tables.
func (r *Room) disableStore(err error) {
	if errors.Is(err, ErrNoStore) {
		r.storeMu.Lock()
		r.noStore = true
		r.storeMu.Unlock()
	}
}

func (r *Room) store() Store {
	r.storeMu.Lock()
	defer r.storeMu.Unlock()
	if r.noStore {
		return nil
	}
	return r.cfg.Store
}

// recordControl stores the host's action on the server, off the room's
// goroutine; the server's copy of the broadcast is dropped by followers as
// a duplicate of ours (same epoch and sequence).
func (r *Room) recordControl(action string, p PlaybackPayload) {
	if r.store() == nil {
		return
	}
	r.control.record(r, action, p)
}

// commentRow handles a comments INSERT from postgres_changes.
func (r *Room) commentRow(row map[string]json.RawMessage) {
	raw, err := json.Marshal(row)
	if err != nil {
		return
	}
	var c Comment
	if err := json.Unmarshal(raw, &c); err != nil || c.ID == "" || c.Content == "" || c.RoomID != r.cfg.RoomID {
		r.log.Warn("room: bad comment row", "err", err)
		return
	}
	r.deliverComment(c)
}

type inRoomState struct{ st RoomState }

// onRoomState uses the stored room while no host is here to say where the
// room is: a late joiner then waits on the right frame, paused.
func (r *Room) onRoomState(ctx context.Context, rs RoomState) {
	if p, ok := storedPlaylist(rs.Playlist); ok && len(r.s.playlist.Entries) == 0 {
		// The host's live playlist, when it comes, replaces this one.
		r.takePlaylist(p)
	}
	if r.s.storedHost != rs.HostUserID {
		r.s.storedHost = rs.HostUserID
		r.settleHost(false)
	}
	// Give presence and the host's own timeline HostGrace to arrive first.
	r.after(r.cfg.HostGrace, &r.s.roomStateGen, func() { r.applyRoomState(ctx, rs) })
}

func (r *Room) applyRoomState(ctx context.Context, rs RoomState) {
	s := &r.s
	if r.player == nil || s.anchor != nil || ValidTime(rs.CurrentTime) != nil {
		return
	}
	if mi := s.members[s.hostID]; !s.isHost() && mi != nil && mi.online {
		return // the host's own timeline is on its way
	}
	if st := r.player.State(); s.isHost() && (!st.Paused || st.Pos > 1) {
		return // a host who already started is not moved
	}
	r.restOn(rs.CurrentTime + 0.0001)
	r.notice("the room was left at %s; picking up from there", ClockString(rs.CurrentTime))
}

// leaveStore removes our membership row when we leave cleanly.
func (r *Room) leaveStore() {
	st := r.store()
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = st.Leave(ctx, r.cfg.RoomID, r.cfg.UserID)
}

// Admin runs a private room's membership commands on the server.
type Admin interface {
	// Invite returns the room's invite code; rotate replaces it first.
	Invite(ctx context.Context, roomID string, rotate bool) (string, error)
	// Kick ends userID's membership.
	Kick(ctx context.Context, roomID, userID string) error
}

// RESTAdmin calls the room functions (create_private_room, join_room,
// room_invite, rotate_invite, kick_member) over PostgREST's /rpc, as both
// the embedded server and the Supabase migration define them.
type RESTAdmin struct{ C *rest.Client }

// Invite implements Admin.
func (a RESTAdmin) Invite(ctx context.Context, roomID string, rotate bool) (string, error) {
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

// Kick implements Admin.
func (a RESTAdmin) Kick(ctx context.Context, roomID, userID string) error {
	return a.C.RPC(ctx, "kick_member", map[string]any{"p_room_id": roomID, "p_user_id": userID}, nil)
}

// ErrNotPrivate is returned by the private-room commands in a public room.
var ErrNotPrivate = errors.New("this room is public: anyone may join it (create a private one with join ROOM --private)")

// Invite returns the room's invite code (rotate: a new one, the owner only).
func (r *Room) Invite(ctx context.Context, rotate bool) (string, error) {
	if r.cfg.Admin == nil || !r.cfg.Private {
		return "", ErrNotPrivate
	}
	return r.cfg.Admin.Invite(ctx, r.cfg.RoomID, rotate)
}

// Kick removes userID from the private room (owner or host).
func (r *Room) Kick(ctx context.Context, userID string) error {
	if r.cfg.Admin == nil || !r.cfg.Private {
		return ErrNotPrivate
	}
	return r.cfg.Admin.Kick(ctx, r.cfg.RoomID, userID)
}

// recordHost tells the database about a host change, off the room's
// goroutine. It is best effort: the channel already carries the change, and
// a database that disagrees (a project where the role passed between
// clients without it) must not stop the room.
func (r *Room) recordHost(what string, call func(context.Context, Store) error) {
	st := r.store()
	if st == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := call(ctx, st); err != nil && !errors.Is(err, ErrNoStore) {
			r.log.Warn("room: the database did not record the host change", "what", what, "err", err)
		}
	}()
}

// hostAliveEvery is how many anchor ticks (2 s) pass between the host's
// host_alive calls: the database then refuses others' claim_host while the
// host is here (it waits 15 s of silence), at one call per 6 s.
const hostAliveEvery = 3

func (r *Room) hostAliveTick() {
	r.s.aliveTicks++
	if r.s.aliveTicks%hostAliveEvery == 0 {
		r.recordHost("alive", func(ctx context.Context, st Store) error { return st.HostAlive(ctx, r.cfg.RoomID) })
	}
}
