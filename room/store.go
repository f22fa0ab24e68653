package room

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"time"
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

// ErrNoHostFunctions means the database has no claim_host, hand_over or
// host_alive (a Supabase project without the trust migration): host
// changes then go by the channel alone, as before, and the room does not
// wait for the database to name a new host.
var ErrNoHostFunctions = errors.New("the database has no host functions (claim_host, hand_over, host_alive)")

// ErrRefused marks a Store error where the server answered and refused
// (such as "not the host"): retrying would not help. A Store wraps it
// around its own error; anything else (the server unreachable, or failing
// for a moment) is worth retrying.
var ErrRefused = errors.New("the server refused")

// HistoryLimit is how many comments a joining member loads.
const HistoryLimit = 50

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
	if hr, ok := st.(HostRecords); ok && hr.RecordsHosts() {
		// host_alive changes nothing unless we host: it asks whether the
		// database records hosts at all.
		r.noteHostErr(st.HostAlive(ctx, r.cfg.RoomID))
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

// disableStore falls back to broadcast-only chat when the server has no
// tables.
func (r *Room) disableStore(err error) {
	if errors.Is(err, ErrNoStore) {
		r.storeMu.Lock()
		r.noStore = true
		r.storeMu.Unlock()
	}
}

// noteHostErr turns ErrNoHostFunctions into nil, remembering that the
// database records no hosts.
func (r *Room) noteHostErr(err error) error {
	if !errors.Is(err, ErrNoHostFunctions) {
		return err
	}
	r.storeMu.Lock()
	r.noHostRecords = true
	r.storeMu.Unlock()
	return nil
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
		r.log.Warn("room: undecodable comment row", "err", err)
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
		if err := r.noteHostErr(call(ctx, st)); err != nil && !errors.Is(err, ErrNoStore) {
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
		r.keepOwnKey()
	}
}

// keepOwnKey puts our public key back on our room_members row if another
// device of ours replaced it (the row holds one key per member): followers
// verify the running host against the row, and re-read it when our events
// stop verifying.
func (r *Room) keepOwnKey() {
	st := r.store()
	if st == nil {
		return
	}
	me := MemberPayload{UserID: r.cfg.UserID, Username: r.s.username, AvatarURL: r.cfg.AvatarURL,
		PublicKey: EncodePublicKey(r.cfg.SigningKey.Public().(ed25519.PublicKey))}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		enc, err := st.MemberKey(ctx, r.cfg.RoomID, me.UserID)
		if err != nil || enc == "" || enc == me.PublicKey {
			return
		}
		r.log.Info("room: our key on the room's row was replaced (another device?); putting ours back while we host")
		if err := st.Enter(ctx, r.cfg.RoomID, me); err != nil && !errors.Is(err, ErrNoStore) {
			r.log.Warn("room: restoring our key on the room's row", "err", err)
		}
	}()
}
