package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
)

func rpc(t *testing.T, ts *tserver, token, fn, args string) (int, map[string]any) {
	t.Helper()
	status, body := httpJSON(t, "POST", ts.URL+"/rest/v1/rpc/"+fn, "", token, args)
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	return status, out
}

// joinToken joins topic with token and config, returning the reply.
func joinToken(c *client, topic, token, config string) (string, json.RawMessage) {
	c.t.Helper()
	ref := c.nextRef()
	payload := `{"config":` + config
	if token != "" {
		payload += `,"access_token":"` + token + `"`
	}
	c.sendText(c.frame(ref, ref, topic, "phx_join", payload+"}"))
	st, resp := c.reply(ref)
	if st == "ok" {
		c.joins[topic] = ref
	}
	return st, resp
}

const privateCfg = `{"broadcast":{"self":false},"presence":{"key":""},"private":true,"postgres_changes":[{"event":"*","schema":"public"}]}`
const publicCfg = `{"broadcast":{"self":false},"presence":{"key":""},"private":false,"postgres_changes":[{"event":"*","schema":"public"}]}`

func TestPrivateRoomOutsidersGetNothingAndInvitedFriendsEverything(t *testing.T) {
	ts, _ := startAuthority(t, time.Second)
	ana, friend, outsider := signUp(t, ts, ""), signUp(t, ts, ""), signUp(t, ts, "")
	status, created := rpc(t, ts, ana.Access, "create_private_room", `{"p_room_id":"den"}`)
	code, _ := created["invite"].(string)
	if status != 200 || len(code) < 20 || created["is_private"] != true {
		t.Fatalf("create_private_room: %d %v", status, created)
	}
	if status, _ := rpc(t, ts, outsider.Access, "create_private_room", `{"p_room_id":"den"}`); status != 409 {
		t.Errorf("creating a taken room: %d", status)
	}
	topic := "realtime:room:den"
	host := dial(t, ts, "1.0.0")
	if st, resp := joinToken(host, topic, ana.Access, privateCfg); st != "ok" {
		t.Fatalf("owner's join: %s %s", st, resp)
	}
	// A watcher elsewhere with a changes feed for every table: it must not
	// see the private room's rows.
	watcher := dial(t, ts, "1.0.0")
	if st, resp := joinToken(watcher, "realtime:elsewhere", outsider.Access, publicCfg); st != "ok" {
		t.Fatalf("watcher: %s %s", st, resp)
	}
	// The outsider, with a valid token or none, is refused both channels.
	for _, tc := range []struct{ name, token, cfg string }{
		{"private join", outsider.Access, privateCfg}, {"public join", outsider.Access, publicCfg},
		{"anon private join", "", privateCfg}, {"anon public join", "", publicCfg},
	} {
		c := dial(t, ts, "2.0.0")
		st, resp := joinToken(c, topic, tc.token, tc.cfg)
		if st != "error" || !strings.Contains(string(resp), "Unauthorized") {
			t.Errorf("outsider %s: %s %s", tc.name, st, resp)
		}
	}
	// The outsider cannot redeem a wrong code, post, control or broadcast.
	if status, out := rpc(t, ts, outsider.Access, "join_room", `{"p_room_id":"den","p_invite":null}`); status != 403 || !strings.Contains(fmt.Sprint(out["message"]), "not a member") {
		t.Errorf("join_room without a code: %d %v", status, out)
	}
	if status, out := rpc(t, ts, outsider.Access, "join_room", `{"p_room_id":"den","p_invite":"aaaaaaaaaaaaaaaaaaaaaaaaaa"}`); status != 403 || !strings.Contains(fmt.Sprint(out["message"]), "does not open") {
		t.Errorf("join_room with a wrong code: %d %v", status, out)
	}
	if status, _ := rpc(t, ts, outsider.Access, "room_invite", `{"p_room_id":"den"}`); status != 403 {
		t.Errorf("room_invite by an outsider: %d", status)
	}
	if status, body := httpJSON(t, "POST", ts.URL+"/rest/v1/comments", "", outsider.Access, `{"room_id":"den","user_id":"`+outsider.User.ID+`","username":"o","content":"let me in"}`); status != 403 {
		t.Errorf("outsider's comment: %d %s", status, body)
	}
	if status, body := httpJSON(t, "POST", ts.URL+"/functions/v1/sync/control", "", outsider.Access, `{"room_id":"den","user_id":"`+outsider.User.ID+`","action":"play","current_time":1}`); status != 403 {
		t.Errorf("outsider's sync/control: %d %s", status, body)
	}
	if status, body := httpJSON(t, "POST", ts.URL+"/api/broadcast", "", outsider.Access, `{"messages":[{"topic":"room:den","event":"new_comment","payload":{"content":"hi"}}]}`); status != 403 {
		t.Errorf("outsider's HTTP broadcast: %d %s", status, body)
	}
	// The friend redeems the invite once, and is a member from then on.
	if status, out := rpc(t, ts, friend.Access, "join_room", `{"p_room_id":"den","p_invite":"`+strings.ToUpper(code)+`"}`); status != 200 || out["is_private"] != true {
		t.Fatalf("join_room with the invite: %d %v", status, out)
	}
	if status, out := rpc(t, ts, friend.Access, "join_room", `{"p_room_id":"den"}`); status != 200 {
		t.Fatalf("join_room again without a code: %d %v", status, out)
	}
	if status, out := rpc(t, ts, friend.Access, "room_invite", `{"p_room_id":"den"}`); status != 200 || out["invite"] != code {
		t.Errorf("room_invite by a member: %d %v, want the code", status, out)
	}
	fc := dial(t, ts, "1.0.0")
	if st, resp := joinToken(fc, topic, friend.Access, privateCfg); st != "ok" {
		t.Fatalf("friend's join: %s %s", st, resp)
	}
	// Everything flows to the friend: a broadcast, presence, stored chat and
	// its changes; the watcher sees none of it.
	host.push(topic, "presence", `{"type":"presence","event":"track","payload":{"user_id":"`+ana.ID()+`","username":"ana"}}`)
	fc.waitFor("the owner's presence", func(m msg) bool { return m.Event == "presence_diff" && strings.Contains(string(m.Payload), "ana") })
	host.push(topic, "broadcast", bcast("new_comment", `{"content":"welcome"}`))
	fc.expectBroadcast("new_comment")
	if status, body := httpJSON(t, "POST", ts.URL+"/rest/v1/comments", "", ana.Access, `{"room_id":"den","user_id":"`+ana.User.ID+`","username":"ana","content":"stored"}`); status != 201 {
		t.Fatalf("owner's comment: %d %s", status, body)
	}
	fc.waitFor("the comment's change", func(m msg) bool {
		return m.Event == "postgres_changes" && strings.Contains(string(m.Payload), "stored")
	})
	// A public room's change after it reaches the watcher, so the watcher
	// had its chance to see the private one first.
	if status, body := httpJSON(t, "POST", ts.URL+"/rest/v1/comments", "", outsider.Access, `{"room_id":"open","user_id":"`+outsider.User.ID+`","username":"o","content":"open-room-msg"}`); status != 201 {
		t.Fatalf("public comment: %d %s", status, body)
	}
	watcher.waitFor("the public change", func(m msg) bool {
		if strings.Contains(string(m.Payload), `"den"`) {
			t.Errorf("the watcher saw the private room: %s", m.Payload)
		}
		return m.Event == "postgres_changes" && strings.Contains(string(m.Payload), "open-room-msg")
	})
	for _, table := range []string{"comments", "rooms", "room_members"} {
		status, body := httpJSON(t, "GET", ts.URL+"/rest/v1/"+table+"?room_id=eq.den", "", outsider.Access, "")
		if status != 200 || strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("outsider GET %s: %d %s", table, status, body)
		}
		status, body = httpJSON(t, "GET", ts.URL+"/rest/v1/"+table+"?room_id=eq.den", "", "", "")
		if status != 200 || strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("anon GET %s: %d %s", table, status, body)
		}
	}
	status, body := httpJSON(t, "GET", ts.URL+"/rest/v1/comments?room_id=eq.den", "", friend.Access, "")
	if status != 200 || !strings.Contains(string(body), "stored") {
		t.Errorf("friend GET comments: %d %s", status, body)
	}
	// Nobody makes a room private, or takes its ownership, over REST.
	if status, body := httpJSON(t, "PATCH", ts.URL+"/rest/v1/rooms?room_id=eq.den", "", ana.Access, `{"is_private":false}`); status != 403 {
		t.Errorf("PATCH is_private: %d %s", status, body)
	}
}

func (tk tokens) ID() string { return tk.User.ID }

func TestInviteRotationAndKick(t *testing.T) {
	ts, _ := startAuthority(t, time.Second)
	ana, bob, cat := signUp(t, ts, ""), signUp(t, ts, ""), signUp(t, ts, "")
	_, created := rpc(t, ts, ana.Access, "create_private_room", `{"p_room_id":"den"}`)
	old, _ := created["invite"].(string)
	if status, _ := rpc(t, ts, bob.Access, "join_room", `{"p_room_id":"den","p_invite":"`+old+`"}`); status != 200 {
		t.Fatal("bob redeems")
	}
	if status, _ := rpc(t, ts, bob.Access, "rotate_invite", `{"p_room_id":"den"}`); status != 403 {
		t.Errorf("a member rotates: %d", status)
	}
	status, rotated := rpc(t, ts, ana.Access, "rotate_invite", `{"p_room_id":"den"}`)
	fresh, _ := rotated["invite"].(string)
	if status != 200 || fresh == "" || fresh == old {
		t.Fatalf("rotate: %d %v", status, rotated)
	}
	if status, _ := rpc(t, ts, cat.Access, "join_room", `{"p_room_id":"den","p_invite":"`+old+`"}`); status != 403 {
		t.Errorf("the old code still opens the room: %d", status)
	}
	if status, _ := rpc(t, ts, cat.Access, "join_room", `{"p_room_id":"den","p_invite":"`+fresh+`"}`); status != 200 {
		t.Errorf("the new code: %d", status)
	}
	topic := "realtime:room:den"
	host := dial(t, ts, "1.0.0")
	joinToken(host, topic, ana.Access, privateCfg)
	bc := dial(t, ts, "1.0.0")
	if st, resp := joinToken(bc, topic, bob.Access, privateCfg); st != "ok" {
		t.Fatalf("bob joins: %s %s", st, resp)
	}
	bc.push(topic, "presence", `{"type":"presence","event":"track","payload":{"user_id":"`+bob.ID()+`","username":"bob"}}`)
	host.waitFor("bob's presence", func(m msg) bool { return m.Event == "presence_diff" && strings.Contains(string(m.Payload), "bob") })
	if status, _ := rpc(t, ts, cat.Access, "kick_member", `{"p_room_id":"den","p_user_id":"`+bob.ID()+`"}`); status != 403 {
		t.Errorf("a member kicks: %d", status)
	}
	if status, _ := rpc(t, ts, bob.Access, "kick_member", `{"p_room_id":"den","p_user_id":"`+ana.ID()+`"}`); status != 403 {
		t.Errorf("kicking the owner: %d", status)
	}
	kicked := time.Now()
	if status, out := rpc(t, ts, ana.Access, "kick_member", `{"p_room_id":"den","p_user_id":"`+bob.ID()+`"}`); status != 200 || out["removed"] != true {
		t.Fatalf("the owner kicks bob: %d %v", status, out)
	}
	// Bob hears it too, before his channel closes.
	bc.waitFor("member_removed on bob's own channel", func(m msg) bool {
		return m.Event == "broadcast" && strings.Contains(string(m.Payload), `"event":"member_removed"`) && strings.Contains(string(m.Payload), `"by":"`+ana.ID()+`"`)
	})
	bc.waitFor("bob's channel closing", func(m msg) bool { return m.Event == "phx_close" && m.Topic == topic })
	cut := time.Since(kicked)
	t.Logf("kicked member's channel closed %v after the kick", cut.Round(time.Microsecond))
	if cut > time.Second {
		t.Errorf("kicked member cut off after %v, want within a second", cut)
	}
	for _, c := range []*client{host} {
		c.waitFor("member_removed naming bob and ana", func(m msg) bool {
			return m.Event == "broadcast" && strings.Contains(string(m.Payload), `"event":"member_removed"`) &&
				strings.Contains(string(m.Payload), `"user_id":"`+bob.ID()+`"`) && strings.Contains(string(m.Payload), `"by":"`+ana.ID()+`"`) &&
				strings.Contains(string(m.Payload), `"username":"bob"`)
		})
	}
	host.waitFor("member_left", func(m msg) bool {
		return m.Event == "broadcast" && strings.Contains(string(m.Payload), `"member_left"`) && strings.Contains(string(m.Payload), bob.ID())
	})
	host.waitFor("the system comment", func(m msg) bool {
		return m.Event == "broadcast" && strings.Contains(string(m.Payload), "was removed from the room")
	})
	if st, _ := joinToken(bc, topic, bob.Access, privateCfg); st != "error" {
		t.Errorf("a kicked member rejoins: %s", st)
	}
	if status, _ := rpc(t, ts, bob.Access, "join_room", `{"p_room_id":"den"}`); status != 403 {
		t.Errorf("a kicked member is still a member: %d", status)
	}
	status, body := httpJSON(t, "GET", ts.URL+"/rest/v1/comments?room_id=eq.den", "", bob.Access, "")
	if status != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("kicked member reads chat: %d %s", status, body)
	}
}

// The code a member is shown survives a restart of the server: it is
// derived from the JWT secret, not from a key of the process.
func TestInviteCodeSurvivesARestart(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	newServer := func() *tserver {
		svc := auth.New(auth.Config{Store: st, Secret: idSecret, TokenLifetime: time.Hour, SignUpsPerHour: -1})
		return start(t, server.Config{Store: st, Auth: svc})
	}
	first := newServer()
	ana := signUp(t, first, "")
	_, created := rpc(t, first, ana.Access, "create_private_room", `{"p_room_id":"den"}`)
	second := newServer()
	if _, out := rpc(t, second, ana.Access, "room_invite", `{"p_room_id":"den"}`); out["invite"] != created["invite"] || created["invite"] == nil {
		t.Fatalf("after a restart the invite is %v, was %v", out["invite"], created["invite"])
	}
	bob := signUp(t, second, "")
	if status, out := rpc(t, second, bob.Access, "join_room", fmt.Sprintf(`{"p_room_id":"den","p_invite":%q}`, created["invite"])); status != 200 {
		t.Fatalf("the old code after a restart: %d %v", status, out)
	}
}
