package room

import (
	"context"
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
	var out []json.RawMessage
	return noStore(s.C.Insert(ctx, "room_members", row, true, &out))
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
	me := MemberPayload{UserID: r.cfg.UserID, Username: r.cfg.Username, AvatarURL: r.cfg.AvatarURL}
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
	st := r.store()
	if st == nil {
		return
	}
	// The room row may not exist before the host's first control (the
	// server creates it then), so the playlist is stored again once it does.
	pl, savePl := r.s.playlist.clone(), !r.s.playlistStored && len(r.s.playlist.Entries) > 0
	r.s.playlistStored = r.s.playlistStored || savePl
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := st.Control(ctx, r.cfg.RoomID, action, p); err != nil {
			r.disableStore(err)
			if !errors.Is(err, ErrNoStore) {
				r.log.Warn("room: recording playback state", "action", action, "err", err)
			}
			return
		}
		if savePl {
			if err := st.SavePlaylist(ctx, r.cfg.RoomID, pl); err != nil && !errors.Is(noStore(err), ErrNoStore) {
				r.log.Warn("room: storing the playlist", "err", err)
			}
		}
	}()
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
