package trust

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/server/store"
)

func rpcAs(t *testing.T, base string, u user, fn string, args map[string]any, out any) error {
	t.Helper()
	rc, err := rest.New(base, "")
	if err != nil {
		t.Fatal(err)
	}
	return rc.WithAccessToken(func() string { return u.Token }).RPC(context.Background(), fn, args, out)
}

// A private room with real clients: an outsider with a valid anonymous
// token gets nothing over realtime (private or public join) or REST; the
// friend with the invite gets the host's playback and the chat; once
// kicked, the friend's channel is closed within a second and the host's
// pause no longer reaches its mpv.
func TestPrivateRoomWithRealClients(t *testing.T) {
	needMPV(t)
	base, _ := startServer(t)
	const roomID = "den"
	ana, bob, eve := signUp(t, base, "ana"), signUp(t, base, "bob"), signUp(t, base, "eve")
	var created struct {
		Invite string `json:"invite"`
	}
	if err := rpcAs(t, base, ana, "create_private_room", map[string]any{"p_room_id": roomID}, &created); err != nil || created.Invite == "" {
		t.Fatalf("create_private_room: %v", err)
	}
	host := joinPrivate(t, base, roomID, ana, "ana", true)
	eventually(t, 10*time.Second, "ana hosts", func() bool { return host.hostID(t) == ana.ID })

	// Eve: refused on both channels and by every function and table.
	for _, private := range []bool{true, false} {
		c, err := realtime.NewClient(base, realtime.Options{AccessToken: eve.Token})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		ch := c.Channel(room.ChannelName(roomID), realtime.ChannelConfig{Private: private})
		err = ch.Subscribe(ctx)
		cancel()
		_ = c.Close()
		if err == nil || !strings.Contains(err.Error(), "Unauthorized") {
			t.Errorf("eve's join (private %v): %v, want Unauthorized", private, err)
		}
	}
	if err := rpcAs(t, base, eve, "join_room", map[string]any{"p_room_id": roomID, "p_invite": nil}, nil); err == nil {
		t.Error("eve joined without an invite")
	}
	for _, table := range []string{"rooms", "room_members", "comments"} {
		if status, body := httpDo(t, "GET", base+"/rest/v1/"+table+"?room_id=eq."+roomID, eve.Token, ""); status != 200 || strings.TrimSpace(body) != "[]" {
			t.Errorf("eve reads %s: %d %s", table, status, body)
		}
	}

	// Bob redeems the invite and follows ana's playback on the private channel.
	if err := rpcAs(t, base, bob, "join_room", map[string]any{"p_room_id": roomID, "p_invite": created.Invite}, nil); err != nil {
		t.Fatalf("bob redeems: %v", err)
	}
	friend := joinPrivate(t, base, roomID, bob, "bob", false)
	eventually(t, 10*time.Second, "bob follows ana", func() bool { return friend.hostID(t) == ana.ID })
	ctx := context.Background()
	if err := host.room.Play(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "bob playing with ana", func() bool { return !friend.mpv.State().Paused })
	if err := friend.room.Say(ctx, "made it in"); err != nil {
		t.Fatalf("bob's chat: %v", err)
	}
	if status, body := httpDo(t, "GET", base+"/rest/v1/comments?room_id=eq."+roomID, bob.Token, ""); status != 200 || !strings.Contains(body, "made it in") {
		t.Errorf("bob reads the chat: %d %s", status, body)
	}

	eventually(t, 10*time.Second, "ana sees bob", func() bool {
		s, err := host.room.Snapshot(ctx)
		return err == nil && len(s.Members) == 2
	})

	// Kicked: cut off at once; ana's pause no longer reaches bob's mpv.
	kicked := time.Now()
	if err := host.room.Kick(ctx, bob.ID); err != nil {
		t.Fatalf("kick: %v", err)
	}
	eventually(t, time.Second, "bob's channel closed", func() bool { return friend.cutOff() })
	t.Logf("bob cut off %v after the kick", time.Since(kicked).Round(time.Millisecond))
	// The room is told who removed whom (member_removed), bob included.
	eventually(t, 5*time.Second, "ana sees bob removed", func() bool { return host.noticed("bob was removed by ana") })
	eventually(t, 5*time.Second, "bob told he was removed", func() bool { return friend.noticed("you were removed from this room by ana") })
	eventually(t, 5*time.Second, "bob off ana's list", func() bool {
		s, err := host.room.Snapshot(ctx)
		if err != nil {
			return false
		}
		for _, m := range s.Members {
			if m.UserID == bob.ID {
				return false
			}
		}
		return true
	})
	if err := host.room.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // proving an absence: the pause had time to arrive
	if friend.mpv.State().Paused {
		t.Error("ana's pause reached bob after the kick")
	}
	if status, body := httpDo(t, "GET", base+"/rest/v1/comments?room_id=eq."+roomID, bob.Token, ""); status != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("kicked bob reads the chat: %d %s", status, body)
	}
}

// A hand-over with real clients: the database is told (hand_over) as the
// room is (new_host), in either order, and the new host steers.
func TestHandOverWithRealClients(t *testing.T) {
	needMPV(t)
	base, st := startServer(t)
	ana, bob := signUp(t, base, "ana"), signUp(t, base, "bob")
	host := joinRoom(t, base, "pass", ana, "ana", true)
	eventually(t, 10*time.Second, "ana hosts", func() bool { return host.hostID(t) == ana.ID })
	other := joinRoom(t, base, "pass", bob, "bob", false)
	eventually(t, 10*time.Second, "bob follows ana", func() bool { return other.hostID(t) == ana.ID })
	eventually(t, 10*time.Second, "ana sees bob", func() bool {
		s, err := host.room.Snapshot(context.Background())
		return err == nil && len(s.Members) == 2
	})
	ctx := context.Background()
	for round, pair := range [][2]*peer{{host, other}, {other, host}, {host, other}} {
		from, to := pair[0], pair[1]
		toID := bob.ID
		if to == host {
			toID = ana.ID
		}
		if err := from.room.HandOver(ctx, toID); err != nil {
			t.Fatalf("round %d: hand over: %v", round, err)
		}
		eventually(t, 5*time.Second, "both agree on the new host", func() bool { return from.hostID(t) == toID && to.hostID(t) == toID })
		eventually(t, 5*time.Second, "the server holds the new host", func() bool {
			rows, err := st.Select(ctx, "rooms", store.Query{Filters: []store.Filter{{Column: "room_id", Op: "eq", Values: []any{"pass"}}}})
			return err == nil && len(rows) == 1 && rows[0]["host_user_id"] == toID
		})
		playing := !to.mpv.State().Paused
		var err error
		if playing {
			err = to.room.Pause(ctx)
		} else {
			err = to.room.Play(ctx)
		}
		if err != nil {
			t.Fatalf("round %d: the new host steers: %v", round, err)
		}
		eventually(t, 5*time.Second, fmt.Sprintf("round %d: the old host follows the new one (new host playing %v)", round, !playing), func() bool { return from.mpv.State().Paused == playing })
	}
}
