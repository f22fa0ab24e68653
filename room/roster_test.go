package room

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/realtime"
)

// presenceOf is a presence state; track names the round of tracks (each
// track gets its own phx_ref).
func presenceOf(track string, metas map[string]string) map[string][]realtime.Presence {
	st := map[string][]realtime.Presence{}
	for k, v := range metas {
		st[k] = []realtime.Presence{{Ref: k + track, Data: json.RawMessage(v)}}
	}
	return st
}

func TestRosterWorksOutAWebMembersSync(t *testing.T) {
	t0 := time.Now()
	r := NewRoster()
	r.Presence(presenceOf("1", map[string]string{
		"ana": `{"user_id":"ana","username":"ana","joined_at":1,"is_host":true,"current_time":10,"is_playing":true,"in_sync":true}`,
		"web": `{"user_id":"web","current_time":3,"is_playing":true}`,
	}), t0)
	if !r.HasSpecOnly() || r.Reported() {
		t.Fatal("the presence found on arrival is not a fresh report")
	}
	// The host's heartbeat and the web member's next track arrive.
	hb, _ := json.Marshal(map[string]any{"type": "heartbeat", "room_id": "r", "timestamp": 1,
		"payload": map[string]any{"user_id": "ana", "current_time": 40.0, "is_synced": true, "is_playing": true}})
	r.Broadcast(realtime.Broadcast{Event: TypeHeartbeat, Payload: hb, At: t0.Add(time.Second)})
	r.Presence(presenceOf("2", map[string]string{
		"ana": `{"user_id":"ana","username":"ana","joined_at":1,"is_host":true,"current_time":40.5,"is_playing":true,"in_sync":true}`,
		"web": `{"user_id":"web","current_time":40.5,"is_playing":true}`,
	}), t0.Add(1500*time.Millisecond))
	if !r.Reported() {
		t.Fatal("everyone reported")
	}
	rows := r.Members(t0.Add(2 * time.Second))
	if len(rows) != 2 || rows[0].UserID != "ana" || !rows[0].IsHost || rows[0].CurrentTime != 41 {
		t.Fatalf("host row: %+v", rows)
	}
	w := rows[1]
	// web: 40.5 at 1.5 s → 41.0 at 2 s; the host's heartbeat said 40 at
	// 1 s and its track 40.5 at 1.5 s → 41 at 2 s.
	if w.Client != "web" || w.CurrentTime != 41 || !w.InSync || w.OffsetMS != 0 || w.Username != "web" {
		t.Fatalf("web row: %+v", w)
	}
	r.Presence(presenceOf("3", map[string]string{
		"ana": `{"user_id":"ana","username":"ana","joined_at":1,"is_host":true,"current_time":41,"is_playing":true,"in_sync":true}`,
		"web": `{"user_id":"web","current_time":30,"is_playing":false}`,
	}), t0.Add(2*time.Second))
	w = r.Members(t0.Add(3 * time.Second))[1]
	if w.InSync || w.OffsetMS != -12000 || w.IsPlaying {
		t.Fatalf("web fell behind: %+v", w)
	}
}

func TestRosterNamesAWebHostFromTheStoredRoom(t *testing.T) {
	r := NewRoster()
	r.StoredHost = "web"
	now := time.Now()
	metas := map[string]string{
		"bob": `{"user_id":"bob","username":"bob","joined_at":1,"current_time":20,"in_sync":true}`,
		"web": `{"user_id":"web","current_time":20.5}`,
	}
	r.Presence(presenceOf("1", metas), now)
	// Nobody has reported since we looked: not responding, so not in sync.
	if rows := r.Members(now); rows[0].UserID != "web" || !rows[0].IsHost || rows[1].Responding || rows[1].InSync {
		t.Fatalf("before any report: %+v", rows)
	}
	r.Presence(presenceOf("2", metas), now.Add(time.Second)) // everyone tracks again
	rows := r.Members(now.Add(time.Second))
	if !r.Reported() || rows[0].UserID != "web" || !rows[0].IsHost || !rows[1].InSync || !rows[1].Responding {
		t.Fatalf("rows: %+v", rows)
	}
}

func TestRosterDeadPlayerIsNeverInSync(t *testing.T) {
	r := NewRoster()
	now := time.Now()
	r.Presence(presenceOf("1", map[string]string{
		"ana": `{"user_id":"ana","username":"ana","joined_at":1,"is_host":true}`,
		"bob": `{"user_id":"bob","username":"bob","joined_at":2,"current_time":20,"in_sync":true,"is_playing":true}`,
	}), now)
	hb, _ := json.Marshal(map[string]any{"type": "heartbeat", "room_id": "r", "timestamp": 1,
		"payload": map[string]any{"user_id": "bob", "current_time": 20.0, "is_synced": true, "is_playing": true, "player_state": "gone"}})
	r.Broadcast(realtime.Broadcast{Event: TypeHeartbeat, Payload: hb, At: now})
	for _, m := range r.Members(now) {
		if m.UserID == "bob" && (m.InSync || m.IsPlaying || m.PlayerState != "gone" || !m.Responding) {
			t.Fatalf("bob with a dead mpv: %+v", m)
		}
	}
}

// An onlooker that finds nobody keeps listening: the member may be about
// to track (the command-line private-room test caught members printing []
// while the owner's join was still starting).
func TestRosterEmptyIsNotReported(t *testing.T) {
	r := NewRoster()
	r.Presence(presenceOf("1", map[string]string{}), time.Now())
	if r.Reported() {
		t.Fatal("an empty presence state counted as everyone having reported")
	}
}
