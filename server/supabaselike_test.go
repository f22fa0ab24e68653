package server_test

import (
	"testing"
	"time"

	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
)

// SupabaseLike: the server checks nothing a member sends on a channel it
// may join (as Supabase Realtime), and elects nobody; claim_host still
// records hosts.
func TestSupabaseLikeServerChecksNoBroadcast(t *testing.T) {
	st, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := auth.New(auth.Config{Store: st, Secret: idSecret, TokenLifetime: time.Hour, SignUpsPerHour: -1})
	ts := start(t, server.Config{Store: st, Auth: svc, HostGrace: 100 * time.Millisecond, SupabaseLike: true})
	topic := "realtime:room:loose"
	ana := joinAs(t, ts, topic, "ana", 1, "movie.mkv")
	bob := joinAs(t, ts, topic, "bob", 2, "movie.mkv")
	eve := joinAs(t, ts, topic, "eve", 3, "movie.mkv")
	if status, _ := rpc(t, ts, ana.token, "claim_host", `{"p_room_id":"loose"}`); status != 200 {
		t.Fatalf("ana's claim_host: %d", status)
	}
	// Eve pauses in ana's name and names herself host: both delivered as
	// sent, ana's id unstamped.
	eve.send("pause", map[string]any{"current_time": 5.0, "user_id": ana.id, "seq": 1000, "epoch": "e"})
	if ev, p := bob.nextEvent(); ev != "pause" || p["user_id"] != ana.id {
		t.Fatalf("eve's forged pause: %s %v", ev, p)
	}
	eve.send("new_host", map[string]any{"user_id": eve.id, "username": "eve"})
	if ev, p := bob.nextEvent(); ev != "new_host" || p["user_id"] != eve.id {
		t.Fatalf("eve's new_host: %s %v", ev, p)
	}
	if got := ts.srv.CurrentHost("loose"); got != ana.id {
		t.Fatalf("a broadcast moved the host to %q", got)
	}
	// Ana leaves: no election, no announcement; bob's claim_host records him.
	ana.ws.Close()
	bob.waitFor("ana's presence leave", func(x msg) bool { return x.Event == "presence_diff" })
	// An absence cannot be waited for: three graces pass, then a marker.
	time.Sleep(300 * time.Millisecond)
	if got := ts.srv.CurrentHost("loose"); got != ana.id {
		t.Fatalf("the server elected %q", got)
	}
	eve.send("heartbeat", map[string]any{"user_id": eve.id, "current_time": 1.0})
	if ev, _ := bob.nextEvent(); ev != "heartbeat" {
		t.Fatalf("after the host left, bob got %s before eve's heartbeat (an election announced?)", ev)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _ := rpc(t, ts, bob.token, "claim_host", `{"p_room_id":"loose"}`)
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's claim_host after the host left: %d", status)
		}
		time.Sleep(50 * time.Millisecond) // the server's grace for ana, polled with a deadline
	}
	if got := ts.srv.CurrentHost("loose"); got != bob.id {
		t.Fatalf("claim_host recorded %q, want bob", got)
	}
}
