package trust

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
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

	// Kicked: cut off at once; ana's pause no longer reaches bob's mpv.
	kicked := time.Now()
	if err := host.room.Kick(ctx, bob.ID); err != nil {
		t.Fatalf("kick: %v", err)
	}
	eventually(t, time.Second, "bob's channel closed", func() bool { return friend.cutOff() })
	t.Logf("bob cut off %v after the kick", time.Since(kicked).Round(time.Millisecond))
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
