package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
)

// startAuthority runs a server with a store and auth whose hosts get grace
// before the server elects a successor.
func startAuthority(t *testing.T, grace time.Duration) (*tserver, *store.Store) {
	t.Helper()
	st, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := auth.New(auth.Config{Store: st, Secret: idSecret, TokenLifetime: time.Hour, SignUpsPerHour: -1})
	return start(t, server.Config{Store: st, Auth: svc, HostGrace: grace}), st
}

type member struct {
	*client
	id    string
	token string
	topic string
}

// joinAs signs a user up and joins topic as it, tracking the presence our
// clients track (joined_at orders the succession, media marks a player).
func joinAs(t *testing.T, ts *tserver, topic, name string, joinedAt float64, media string) *member {
	t.Helper()
	tk := signUp(t, ts, "")
	c := dial(t, ts, "1.0.0")
	ref := c.nextRef()
	c.sendText(c.frame(ref, ref, topic, "phx_join", fmt.Sprintf(
		`{"config":{"broadcast":{"self":false,"ack":false},"presence":{"key":%q}},"access_token":%q}`, tk.User.ID, tk.Access)))
	if st, resp := c.reply(ref); st != "ok" {
		t.Fatalf("join %s as %s: %s %s", topic, name, st, resp)
	}
	c.joins[topic] = ref
	meta := fmt.Sprintf(`{"user_id":%q,"username":%q,"joined_at":%v,"media":{"filename":%q}}`, tk.User.ID, name, joinedAt, media)
	tref := c.push(topic, "presence", `{"type":"presence","event":"track","payload":`+meta+`}`)
	if st, resp := c.reply(tref); st != "ok" {
		t.Fatalf("track as %s: %s %s", name, st, resp)
	}
	return &member{client: c, id: tk.User.ID, token: tk.Access, topic: topic}
}

// send broadcasts a spec event in our wire shape (envelope with the payload
// repeated beside it) and returns the push's ref.
func (m *member) send(event string, payload map[string]any) string {
	m.t.Helper()
	inner, _ := json.Marshal(payload)
	flat := map[string]any{}
	for k, v := range payload {
		flat[k] = v
	}
	flat["type"], flat["payload"], flat["room_id"], flat["timestamp"] = event, json.RawMessage(inner), "r", time.Now().UnixMilli()
	raw, _ := json.Marshal(flat)
	return m.push(m.topic, "broadcast", bcast(event, string(raw)))
}

// refused waits for the error reply to ref and returns its reason.
func (m *member) refused(ref string) string {
	m.t.Helper()
	st, resp := m.reply(ref)
	if st != "error" {
		m.t.Fatalf("want an error reply, got %s %s", st, resp)
	}
	return string(resp)
}

// nextEvent returns the next broadcast's event and payload, skipping
// presence traffic.
func (m *member) nextEvent() (string, map[string]any) {
	m.t.Helper()
	b := m.waitFor("a broadcast", func(x msg) bool { return x.Event == "broadcast" })
	var p struct {
		Event   string         `json:"event"`
		Payload map[string]any `json:"payload"`
	}
	if err := json.Unmarshal(b.Payload, &p); err != nil {
		m.t.Fatalf("broadcast: %v", err)
	}
	return p.Event, p.Payload
}

func inner(p map[string]any) map[string]any {
	in, _ := p["payload"].(map[string]any)
	return in
}

func TestSpecEventsCarryTheVerifiedSender(t *testing.T) {
	ts, _ := startAuthority(t, time.Second)
	topic := "realtime:room:stamp"
	ana := joinAs(t, ts, topic, "ana", 1, "movie.mkv")
	eve := joinAs(t, ts, topic, "eve", 2, "movie.mkv")
	for _, ev := range []string{"new_comment", "heartbeat", "member_joined"} {
		eve.send(ev, map[string]any{"user_id": ana.id, "username": "ana", "content": "i am ana", "current_time": 1.0})
		got, p := ana.nextEvent()
		if got != ev {
			t.Fatalf("got %s, want %s", got, ev)
		}
		if p["user_id"] != eve.id || inner(p)["user_id"] != eve.id {
			t.Errorf("%s speaking as ana arrived with user_id %v / payload.user_id %v, want eve's id %s", ev, p["user_id"], inner(p)["user_id"], eve.id)
		}
	}
	// A bare payload (a web client's) gets the sender's id too.
	eve.push(topic, "broadcast", bcast("new_comment", `{"content":"bare"}`))
	if _, p := ana.nextEvent(); p["user_id"] != eve.id {
		t.Errorf("bare new_comment user_id %v, want %s", p["user_id"], eve.id)
	}
	// A probe's sender is its from.
	eve.push(topic, "broadcast", bcast("sync_probe", fmt.Sprintf(`{"from":%q,"to":%q,"t0":1}`, ana.id, ana.id)))
	if ev, p := ana.nextEvent(); ev != "sync_probe" || p["from"] != eve.id || p["to"] != ana.id {
		t.Errorf("probe: %s %v", ev, p)
	}
}

func TestOnlyTheHostMovesPlayback(t *testing.T) {
	ts, _ := startAuthority(t, time.Second)
	topic := "realtime:room:authority"
	ana := joinAs(t, ts, topic, "ana", 1, "movie.mkv")
	eve := joinAs(t, ts, topic, "eve", 2, "movie.mkv")
	// Nobody hosts: ana's claim (new_host naming herself) is accepted.
	ana.send("new_host", map[string]any{"user_id": ana.id, "username": "ana"})
	if ev, p := eve.nextEvent(); ev != "new_host" || p["user_id"] != ana.id {
		t.Fatalf("claim: %s %v", ev, p)
	}
	if got := ts.srv.CurrentHost("authority"); got != ana.id {
		t.Fatalf("server holds host %q, want ana %s", got, ana.id)
	}
	// The host's playback flows.
	ana.send("play", map[string]any{"current_time": 1.0, "user_id": ana.id, "seq": 1, "epoch": "e"})
	if ev, _ := eve.nextEvent(); ev != "play" {
		t.Fatalf("host's play: got %s", ev)
	}
	// Every host-only event from eve is refused and never delivered.
	for _, ev := range []string{"pause", "play", "seek", "sync", "sync_reply"} {
		ref := eve.send(ev, map[string]any{"current_time": 99.0, "user_id": ana.id, "seq": 1000, "epoch": "e"})
		if why := eve.refused(ref); !strings.Contains(why, "only the room's host") {
			t.Errorf("%s from eve: reason %s", ev, why)
		}
	}
	ref := eve.send("new_host", map[string]any{"user_id": eve.id, "username": "eve"})
	if why := eve.refused(ref); !strings.Contains(why, "only the room's host") {
		t.Errorf("new_host from eve: %s", why)
	}
	// eve's follower events still flow, and are the first thing ana sees:
	// none of the refused events reached her.
	for _, ev := range []string{"state_request", "sync_ready", "heartbeat"} {
		eve.send(ev, map[string]any{"user_id": eve.id, "round": "x", "current_time": 1.0})
		if got, _ := ana.nextEvent(); got != ev {
			t.Fatalf("ana got %s, want eve's %s (a refused event leaked?)", got, ev)
		}
	}
	if got := ts.srv.CurrentHost("authority"); got != ana.id {
		t.Fatalf("host moved to %q", got)
	}
	// The HTTP broadcast endpoint holds eve to the same rule.
	status, body := httpJSON(t, "POST", ts.URL+"/api/broadcast", "", eve.token,
		`{"messages":[{"topic":"room:authority","event":"pause","payload":{"current_time":5,"user_id":"`+ana.id+`"}}]}`)
	if status != 403 {
		t.Errorf("HTTP pause from eve: %d %s", status, body)
	}
	status, body = httpJSON(t, "POST", ts.URL+"/api/broadcast", "", ana.token,
		`{"messages":[{"topic":"room:authority","event":"pause","payload":{"current_time":5,"user_id":"`+ana.id+`"}}]}`)
	if status != 202 {
		t.Errorf("HTTP pause from the host: %d %s", status, body)
	}
	if ev, _ := eve.nextEvent(); ev != "pause" {
		t.Errorf("host's HTTP pause: got %s", ev)
	}
}

func TestAnonCannotSpeakAsASignedInUser(t *testing.T) {
	ts, _ := startAuthority(t, time.Second)
	topic := "realtime:room:anon"
	ana := joinAs(t, ts, topic, "ana", 1, "movie.mkv")
	ana.send("new_host", map[string]any{"user_id": ana.id})
	anon := &member{client: dial(t, ts, "1.0.0"), topic: topic}
	anon.join(topic, cfgPlain)
	ref := anon.send("new_comment", map[string]any{"user_id": ana.id, "content": "i am ana"})
	if why := anon.refused(ref); !strings.Contains(why, "signed-in user") {
		t.Errorf("anon as ana: %s", why)
	}
	ref = anon.send("pause", map[string]any{"current_time": 3.0, "user_id": "web-1"})
	if why := anon.refused(ref); !strings.Contains(why, "only the room's host") {
		t.Errorf("anon pause over a signed-in host: %s", why)
	}
	// A made-up id (a spec web client) still speaks.
	anon.send("new_comment", map[string]any{"user_id": "web-1", "content": "hello"})
	if ev, p := ana.nextEvent(); ev != "new_comment" || p["user_id"] != "web-1" {
		t.Errorf("web comment: %s %v", ev, p)
	}
}

func TestHostHandsOverAndTheServerFollows(t *testing.T) {
	ts, _ := startAuthority(t, time.Second)
	topic := "realtime:room:handover"
	ana := joinAs(t, ts, topic, "ana", 1, "movie.mkv")
	bob := joinAs(t, ts, topic, "bob", 2, "movie.mkv")
	ana.send("new_host", map[string]any{"user_id": ana.id})
	bob.nextEvent()
	ana.send("new_host", map[string]any{"user_id": bob.id, "username": "bob"})
	if ev, p := bob.nextEvent(); ev != "new_host" || p["user_id"] != bob.id {
		t.Fatalf("hand-over: %s %v", ev, p)
	}
	bob.send("play", map[string]any{"current_time": 2.0, "user_id": bob.id})
	if ev, _ := ana.nextEvent(); ev != "play" {
		t.Fatalf("new host's play: %s", ev)
	}
	ref := ana.send("pause", map[string]any{"current_time": 2.0, "user_id": ana.id})
	ana.refused(ref)
}

func TestServerElectsTheSuccessorWhenTheHostLeaves(t *testing.T) {
	ts, st := startAuthority(t, 300*time.Millisecond)
	topic := "realtime:room:succession"
	ana := joinAs(t, ts, topic, "ana", 1, "movie.mkv")
	chat := joinAs(t, ts, topic, "chat", 2, "") // earlier than bob, but no player
	bob := joinAs(t, ts, topic, "bob", 3, "movie.mkv")
	eve := joinAs(t, ts, topic, "eve", 4, "movie.mkv")
	ana.send("new_host", map[string]any{"user_id": ana.id})
	for _, m := range []*member{chat, bob, eve} {
		m.nextEvent()
	}
	left := time.Now()
	ana.ws.Close()
	// While the server waits for ana, eve cannot grab the role.
	eve.waitFor("ana's presence leave", func(x msg) bool { return x.Event == "presence_diff" && strings.Contains(string(x.Payload), ana.id) })
	ref := eve.send("new_host", map[string]any{"user_id": eve.id})
	if why := eve.refused(ref); !strings.Contains(why, "elects its successor") {
		t.Errorf("eve's grab during grace: %s", why)
	}
	for _, m := range []*member{chat, bob, eve} {
		ev, p := m.nextEvent()
		if ev != "new_host" || p["user_id"] != bob.id || inner(p)["user_id"] != bob.id || p["username"] != "bob" {
			t.Fatalf("after the host left: %s %v, want new_host naming bob %s", ev, p, bob.id)
		}
	}
	t.Logf("new_host %v after the host's socket closed (grace 300 ms)", time.Since(left).Round(time.Millisecond))
	if got := ts.srv.CurrentHost("succession"); got != bob.id {
		t.Errorf("server host %q, want bob", got)
	}
	rows, err := st.Select(context.Background(), "rooms", store.Query{Filters: []store.Filter{{Column: "room_id", Op: "eq", Values: []any{"succession"}}}})
	if err != nil || len(rows) != 1 || rows[0]["host_user_id"] != bob.id {
		t.Errorf("stored room: %v %v", rows, err)
	}
	bob.send("pause", map[string]any{"current_time": 5.0, "user_id": bob.id})
	if ev, _ := eve.nextEvent(); ev != "pause" {
		t.Errorf("elected host's pause: %s", ev)
	}
}

func TestAHostThatComesBackInTimeKeepsTheRole(t *testing.T) {
	ts, _ := startAuthority(t, time.Second)
	topic := "realtime:room:blip"
	ana := joinAs(t, ts, topic, "ana", 1, "movie.mkv")
	bob := joinAs(t, ts, topic, "bob", 2, "movie.mkv")
	ana.send("new_host", map[string]any{"user_id": ana.id})
	bob.nextEvent()
	leave := ana.push(topic, "phx_leave", "{}")
	ana.reply(leave)
	ref := ana.nextRef()
	ana.sendText(ana.frame(ref, ref, topic, "phx_join", fmt.Sprintf(`{"config":{},"access_token":%q}`, ana.token)))
	if st, _ := ana.reply(ref); st != "ok" {
		t.Fatal("rejoin")
	}
	ana.joins[topic] = ref
	time.Sleep(1500 * time.Millisecond) // past the grace: no election may happen
	ana.send("pause", map[string]any{"current_time": 1.0, "user_id": ana.id})
	if ev, _ := bob.nextEvent(); ev != "pause" {
		t.Fatalf("bob got %s, want ana's pause (the server elected while she was back?)", ev)
	}
	if got := ts.srv.CurrentHost("blip"); got != ana.id {
		t.Errorf("host %q", got)
	}
}

func TestRESTHoldsEveryoneToTheirOwnRows(t *testing.T) {
	ts, _ := startAuthority(t, time.Second)
	ana, eve := signUp(t, ts, ""), signUp(t, ts, "")
	rest := ts.URL + "/rest/v1/"
	status, body := httpJSON(t, "POST", ts.URL+"/functions/v1/sync/control", "", ana.Access,
		`{"room_id":"r","user_id":"`+ana.User.ID+`","action":"pause","current_time":3}`)
	if status != 200 {
		t.Fatalf("host's sync/control: %d %s", status, body)
	}
	cases := []struct {
		name, method, path, bearer, body string
		want                             int
	}{
		{"eve posts as ana", "POST", "comments", eve.Access, `{"id":"c1","room_id":"r","user_id":"` + ana.User.ID + `","username":"ana","content":"x"}`, 403},
		{"eve posts as herself", "POST", "comments", eve.Access, `{"id":"c2","room_id":"r","user_id":"` + eve.User.ID + `","username":"eve","content":"x"}`, 201},
		{"ana posts as herself", "POST", "comments", ana.Access, `{"id":"c3","room_id":"r","user_id":"` + ana.User.ID + `","username":"ana","content":"x"}`, 201},
		{"anon posts as ana", "POST", "comments", "", `{"id":"c4","room_id":"r","user_id":"` + ana.User.ID + `","username":"ana","content":"x"}`, 403},
		{"anon posts as a web id", "POST", "comments", "", `{"id":"c5","room_id":"r","user_id":"web-1","username":"web","content":"x"}`, 201},
		{"eve rewrites ana's comment", "PATCH", "comments?id=eq.c3", eve.Access, `{"content":"gotcha"}`, 403},
		{"eve moves her comment to ana", "PATCH", "comments?id=eq.c2", eve.Access, `{"user_id":"` + ana.User.ID + `"}`, 403},
		{"eve edits her comment", "PATCH", "comments?id=eq.c2", eve.Access, `{"content":"edited"}`, 204},
		{"eve deletes ana's comment", "DELETE", "comments?id=eq.c3", eve.Access, ``, 403},
		{"eve patches the room", "PATCH", "rooms?room_id=eq.r", eve.Access, `{"current_playback_time":99,"host_user_id":"` + eve.User.ID + `"}`, 403},
		{"eve upserts the room", "POST", "rooms", eve.Access, `{"room_id":"r","host_user_id":"` + eve.User.ID + `"}`, 403},
		{"anon patches the room", "PATCH", "rooms?room_id=eq.r", "", `{"is_playing":true}`, 403},
		{"the host patches the room", "PATCH", "rooms?room_id=eq.r", ana.Access, `{"media_filename":"movie.mkv"}`, 204},
		{"eve creates a room as ana", "POST", "rooms", eve.Access, `{"room_id":"r2","host_user_id":"` + ana.User.ID + `"}`, 403},
		{"eve creates her room", "POST", "rooms", eve.Access, `{"room_id":"r2","host_user_id":"` + eve.User.ID + `"}`, 201},
		{"eve joins as ana", "POST", "room_members", eve.Access, `{"room_id":"r","user_id":"` + ana.User.ID + `","username":"ana"}`, 403},
		{"ana joins", "POST", "room_members", ana.Access, `{"room_id":"r","user_id":"` + ana.User.ID + `","username":"ana"}`, 201},
		{"eve joins", "POST", "room_members", eve.Access, `{"room_id":"r","user_id":"` + eve.User.ID + `","username":"eve"}`, 201},
		{"eve removes ana", "DELETE", "room_members?room_id=eq.r", eve.Access, ``, 403},
		{"eve leaves", "DELETE", "room_members?room_id=eq.r&user_id=eq." + eve.User.ID, eve.Access, ``, 204},
		{"eve controls playback", "POST", "../../functions/v1/sync/control", eve.Access, `{"room_id":"r","user_id":"` + eve.User.ID + `","action":"play","current_time":1}`, 200},
	}
	for _, c := range cases {
		status, body := httpJSON(t, c.method, rest+c.path, "", c.bearer, c.body)
		if status != c.want {
			t.Errorf("%s: HTTP %d %s, want %d", c.name, status, body, c.want)
		}
	}
	// Nothing is stored under ana's name but what she wrote.
	status, body = httpJSON(t, "GET", rest+"comments?user_id=eq."+ana.User.ID, "", ana.Access, "")
	var rows []map[string]any
	if status != 200 || json.Unmarshal(body, &rows) != nil || len(rows) != 1 || rows[0]["id"] != "c3" || rows[0]["content"] != "x" {
		t.Errorf("ana's comments: %d %s", status, body)
	}
}

func TestPresenceInARoomIsTheSendersOwn(t *testing.T) {
	ts, _ := startAuthority(t, time.Second)
	topic := "realtime:room:presence"
	ana := joinAs(t, ts, topic, "ana", 1, "movie.mkv")
	ana.send("new_host", map[string]any{"user_id": ana.id})
	eve := dial(t, ts, "1.0.0")
	evetk := signUp(t, ts, "")
	// eve asks for ana's id as her presence key and tracks herself as ana,
	// hosting since the epoch.
	ref := eve.nextRef()
	eve.sendText(eve.frame(ref, ref, topic, "phx_join", fmt.Sprintf(`{"config":{"presence":{"key":%q}},"access_token":%q}`, ana.id, evetk.Access)))
	if st, resp := eve.reply(ref); st != "ok" {
		t.Fatalf("eve's join: %s %s", st, resp)
	}
	eve.joins[topic] = ref
	eve.push(topic, "presence", `{"type":"presence","event":"track","payload":{"user_id":"`+ana.id+`","username":"ana","is_host":true,"host_since":0,"joined_at":0}}`)
	diff := ana.waitFor("eve's presence", func(m msg) bool {
		return m.Event == "presence_diff" && strings.Contains(string(m.Payload), evetk.User.ID)
	})
	var d struct {
		Joins map[string]struct {
			Metas []map[string]any `json:"metas"`
		} `json:"joins"`
	}
	if err := json.Unmarshal(diff.Payload, &d); err != nil {
		t.Fatal(err)
	}
	if _, under := d.Joins[ana.id]; under {
		t.Fatalf("eve's presence went under ana's key: %s", diff.Payload)
	}
	metas := d.Joins[evetk.User.ID].Metas
	if len(metas) != 1 || metas[0]["user_id"] != evetk.User.ID || metas[0]["is_host"] != false || metas[0]["host_since"] != nil {
		t.Fatalf("eve's presence: %s", diff.Payload)
	}
	// The host's own claim stands.
	ana.push(topic, "presence", `{"type":"presence","event":"track","payload":{"user_id":"`+ana.id+`","username":"ana","is_host":true,"host_since":5,"joined_at":1}}`)
	own := ana.waitFor("ana's presence", func(m msg) bool {
		return m.Event == "presence_diff" && strings.Contains(string(m.Payload), `"host_since":5`)
	})
	if !strings.Contains(string(own.Payload), `"is_host":true`) {
		t.Errorf("the host's claim was stripped: %s", own.Payload)
	}
}

func TestIdleRoomsHoldNoHost(t *testing.T) {
	ts, _ := startAuthority(t, 100*time.Millisecond)
	for i := range 5 {
		topic := fmt.Sprintf("realtime:room:idle%d", i)
		m := joinAs(t, ts, topic, "ana", 1, "movie.mkv")
		m.send("new_host", map[string]any{"user_id": m.id})
		for ts.srv.CurrentHost(fmt.Sprintf("idle%d", i)) != m.id {
			time.Sleep(time.Millisecond) // polling until the claim is held; the test's deadline bounds it
		}
		m.ws.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.HostsHeld() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the server still holds %d hosts for empty rooms", ts.srv.HostsHeld())
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
	}
	if got := ts.srv.CurrentHost("idle3"); got == "" {
		t.Error("the stored host was lost with the memory")
	}
}

func TestClaimHostAndHandOverFunctions(t *testing.T) {
	ts, _ := startAuthority(t, time.Second)
	topic := "realtime:room:fn"
	ana := joinAs(t, ts, topic, "ana", 1, "movie.mkv")
	eve := joinAs(t, ts, topic, "eve", 2, "movie.mkv")
	if status, out := rpc(t, ts, ana.token, "claim_host", `{"p_room_id":"fn"}`); status != 200 || out["host_user_id"] != ana.id {
		t.Fatalf("claim of a room nobody hosts: %d %v", status, out)
	}
	if status, out := rpc(t, ts, eve.token, "claim_host", `{"p_room_id":"fn"}`); status != 403 || !strings.Contains(fmt.Sprint(out["message"]), "still here") {
		t.Errorf("claim over a present host: %d %v", status, out)
	}
	if status, out := rpc(t, ts, eve.token, "hand_over", `{"p_room_id":"fn","p_user_id":"`+eve.id+`"}`); status != 403 {
		t.Errorf("a member hands over: %d %v", status, out)
	}
	if status, out := rpc(t, ts, ana.token, "hand_over", `{"p_room_id":"fn","p_user_id":"00000000-0000-4000-8000-000000000000"}`); status != 403 {
		t.Errorf("hand over to nobody here: %d %v", status, out)
	}
	if status, out := rpc(t, ts, ana.token, "hand_over", `{"p_room_id":"fn","p_user_id":"`+eve.id+`"}`); status != 200 || out["host_user_id"] != eve.id {
		t.Fatalf("hand over: %d %v", status, out)
	}
	// ana's new_host naming eve, arriving after the function, is an echo.
	ana.send("new_host", map[string]any{"user_id": eve.id})
	if ev, p := eve.nextEvent(); ev != "new_host" || p["user_id"] != eve.id {
		t.Fatalf("the echo: %s %v", ev, p)
	}
	ref := ana.send("pause", map[string]any{"current_time": 1.0})
	ana.refused(ref)
	eve.send("pause", map[string]any{"current_time": 1.0})
	if ev, _ := ana.nextEvent(); ev != "pause" {
		t.Errorf("the new host's pause: %s", ev)
	}
	if status, _ := rpc(t, ts, eve.token, "host_alive", `{"p_room_id":"fn"}`); status != 200 {
		t.Errorf("host_alive: %d", status)
	}
}

// BenchmarkAuthority: what the room authority adds to one broadcast, for
// the host's 2-second anchor (decoded, checked), a forged anchor (decoded,
// refused) and an event the server does not look into.
func BenchmarkAuthority(b *testing.B) {
	st, err := store.Open(":memory:")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv := server.New(server.Config{Store: st, Auth: auth.New(auth.Config{Store: st, Secret: idSecret})})
	anchor := func(uid string) []byte {
		p := fmt.Sprintf(`{"current_time":61.25,"user_id":%q,"username":"ana","seq":7,"epoch":"e1","speed":1,"at_ms":1764000000123.4,"is_playing":true,"reason":"tick","sig":"AAAA"}`, uid)
		// Our wire shape: the envelope with the payload's fields beside it.
		flat := strings.TrimSuffix(p, "}") + `,"type":"sync","payload":` + p + `,"room_id":"bench","timestamp":1764000000123}`
		return []byte(`{"type":"broadcast","event":"sync","payload":` + flat + `}`)
	}
	topic := "realtime:room:bench"
	if r := srv.CheckBroadcastForBench(topic, "host", anchor("host")); r != "" {
		b.Fatal(r) // the first claim makes "host" the host
	}
	for _, c := range []struct {
		name, uid string
		payload   []byte
	}{
		{"host anchor", "host", anchor("host")},
		{"anchor in another's name", "eve", anchor("host")},
		{"unchecked event", "eve", []byte(`{"type":"broadcast","event":"cursor","payload":{"x":1,"y":2}}`)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				_ = srv.CheckBroadcastForBench(topic, c.uid, c.payload)
			}
		})
	}
}
