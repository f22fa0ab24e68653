package room

import (
	"context"
	"math"
	"net/http/httptest"
	"testing"

	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
)

// A member who arrives after everyone left picks up where the room was.
func TestStoredRoomStateForAnEmptyRoom(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := server.New(server.Config{Store: st})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	rs := restStore(hs.URL)
	ctx := context.Background()
	// The last host paused at 83.4 s and left.
	if err := rs.Control(ctx, "left", "pause", PlaybackPayload{CurrentTime: 83.4, UserID: "old-host"}); err != nil {
		t.Fatal(err)
	}

	cfg := fastConfig("newbie", false)
	cfg.RoomID = "left"
	cfg.Store = rs
	_, p := realMember(t, hs.URL, cfg)
	waitCond(t, "newbie at the stored position", func() bool { return math.Abs(p.State().Pos-83.4) < 1e-6 })
	// And the membership row exists while in the room.
	rows, err := st.Select(ctx, "room_members", store.Query{Filters: []store.Filter{{Column: "room_id", Op: "eq", Values: []any{"left"}}}})
	if err != nil || len(rows) != 1 || rows[0]["user_id"] != "newbie" {
		t.Fatalf("room_members: %v %v", rows, err)
	}
}
