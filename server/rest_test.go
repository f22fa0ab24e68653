package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
)

func restServer(t *testing.T) string {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{Store: st})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
		st.Close()
	})
	return hs.URL
}

func restDo(t *testing.T, method, url, body string, headers ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRESTCommentsRoundTrip(t *testing.T) {
	url := restServer(t)
	code, body := restDo(t, "POST", url+"/rest/v1/comments",
		`{"room_id":"r1","user_id":"u","username":"ana","content":"hello"}`, "Prefer", "return=representation")
	if code != 201 || !strings.Contains(body, `"content":"hello"`) || !strings.Contains(body, `"id":"`) {
		t.Fatalf("insert: %d %s", code, body)
	}
	for i := 0; i < 3; i++ {
		restDo(t, "POST", url+"/rest/v1/comments", `{"room_id":"r1","user_id":"u","username":"ana","content":"more"}`)
	}
	restDo(t, "POST", url+"/rest/v1/comments", `{"room_id":"r2","user_id":"u","username":"ana","content":"elsewhere"}`)
	code, body = restDo(t, "GET", url+"/rest/v1/comments?room_id=eq.r1&order=created_at.desc&limit=2", "")
	var rows []map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &rows) != nil || len(rows) != 2 {
		t.Fatalf("select: %d %s", code, body)
	}
	code, body = restDo(t, "GET", url+"/rest/v1/comments?room_id=eq.nobody", "")
	if code != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("empty select: %d %q", code, body)
	}
}

func TestRESTBadInput(t *testing.T) {
	url := restServer(t)
	big := strings.Repeat("x", store.MaxContent+1)
	cases := []struct {
		method, path, body string
		want               int
		mention            string
	}{
		{"GET", "/rest/v1/nope", "", 404, "does not exist"},
		{"GET", "/rest/v1/comments?bogus=eq.1", "", 400, "bogus"},
		{"GET", "/rest/v1/comments?room_id=like.x", "", 400, "failed to parse filter"},
		{"GET", "/rest/v1/comments?room_id=in.x", "", 400, "parentheses"},
		{"GET", "/rest/v1/comments?order=nope.sideways", "", 400, "order"},
		{"GET", "/rest/v1/comments?limit=-1", "", 400, "limit"},
		{"POST", "/rest/v1/comments", `{"room_id":"r","user_id":"u","username":"a","content":"` + big + `"}`, 400, "check constraint"},
		{"POST", "/rest/v1/comments", `{"room_id":"r","user_id":"u","username":"a","content":"x","color":"red"}`, 400, "color"},
		{"POST", "/rest/v1/comments", `not json`, 400, "JSON"},
		{"POST", "/rest/v1/rooms", `{"room_id":"r","current_playback_time":-4}`, 400, "non-negative"},
		{"DELETE", "/rest/v1/comments", "", 400, "filter"},
		{"PUT", "/rest/v1/comments", "{}", 405, "not supported"},
	}
	for _, c := range cases {
		code, body := restDo(t, c.method, url+c.path, c.body)
		if code != c.want || !strings.Contains(body, c.mention) {
			t.Errorf("%s %s: %d %s, want %d mentioning %q", c.method, c.path, code, body, c.want, c.mention)
		}
	}
}

func TestSyncControlHostOnlyAndBroadcasts(t *testing.T) {
	url := restServer(t)
	c, err := realtime.NewClient(url, realtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch := c.Channel("room:movie", realtime.ChannelConfig{})
	got := make(chan realtime.Broadcast, 10)
	changes := make(chan realtime.PostgresChange, 10)
	ch.OnBroadcast("*", func(b realtime.Broadcast) { got <- b })
	ch.OnPostgresChanges(realtime.PostgresChangesFilter{Event: "UPDATE", Schema: "public", Table: "rooms", Filter: "room_id=eq.movie"}, func(pc realtime.PostgresChange) { changes <- pc })
	if err := ch.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	control := func(user, action string, at float64) (int, string) {
		b, _ := json.Marshal(map[string]any{"room_id": "movie", "user_id": user, "action": action, "current_time": at})
		return restDo(t, "POST", url+"/functions/v1/sync/control", string(b))
	}
	if code, body := control("host", "play", 12.5); code != 200 {
		t.Fatalf("first control: %d %s", code, body)
	}
	type specEvent struct {
		Type    string `json:"type"`
		Payload struct {
			CurrentTime float64 `json:"current_time"`
			UserID      string  `json:"user_id"`
		} `json:"payload"`
		RoomID string `json:"room_id"`
		// The sample code's reading: the fields beside the envelope.
		CurrentTime *float64 `json:"current_time"`
		UserID      string   `json:"user_id"`
	}
	next := func(what string) (realtime.Broadcast, specEvent) {
		t.Helper()
		select {
		case b := <-got:
			var env specEvent
			if err := json.Unmarshal(b.Payload, &env); err != nil {
				t.Fatalf("%s: %v in %s", what, err, b.Payload)
			}
			return b, env
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s broadcast", what)
		}
		panic("unreachable")
	}
	// The first control of a room makes its caller the stored host: the
	// room is told before the event itself.
	if b, env := next("new_host"); b.Event != "new_host" || env.Type != "new_host" || env.Payload.UserID != "host" || env.UserID != "host" {
		t.Fatalf("broadcast %s %s", b.Event, b.Payload)
	}
	if b, env := next("play"); b.Event != "play" || env.Type != "play" || env.Payload.CurrentTime != 12.5 || env.RoomID != "movie" ||
		env.CurrentTime == nil || *env.CurrentTime != 12.5 || env.UserID != "host" {
		t.Fatalf("broadcast %s %s", b.Event, b.Payload)
	}
	// While the host is in the room (tracked in presence), nobody else may.
	hc, _ := realtime.NewClient(url, realtime.Options{})
	if err := hc.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	hostCh := hc.Channel("room:movie", realtime.ChannelConfig{Presence: realtime.PresenceConfig{Key: "host"}})
	if err := hostCh.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if err := hostCh.Track(ctx, map[string]any{"user_id": "host"}); err != nil {
		t.Fatal(err)
	}
	if code, body := control("intruder", "pause", 1); code != 403 || !strings.Contains(body, "host") {
		t.Fatalf("non-host: %d %s", code, body)
	}
	if code, _ := control("host", "pause", 20); code != 200 {
		t.Fatal("host pause refused")
	}
	// The same host again: no second new_host, only the event.
	if b, env := next("pause"); b.Event != "pause" || env.CurrentTime == nil || *env.CurrentTime != 20 {
		t.Fatalf("broadcast %s %s", b.Event, b.Payload)
	}
	// Once the host has left the room, the member the room elected takes over.
	hc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := control("successor", "seek", 30)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("successor still refused after the host left: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond) // the server notices the closed socket asynchronously
	}
	select {
	case pc := <-changes:
		if pc.EventType != "UPDATE" || string(pc.New["is_playing"]) != "false" || string(pc.Old["is_playing"]) != "true" {
			t.Fatalf("change %+v", pc)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no postgres_changes UPDATE for the room")
	}
	for _, bad := range []string{`{"room_id":"movie","user_id":"host","action":"rewind","current_time":1}`,
		`{"room_id":"movie","user_id":"host","action":"seek","current_time":-1}`,
		`{"room_id":"movie","user_id":"host","action":"seek"}`, `{]`} {
		if code, _ := restDo(t, "POST", url+"/functions/v1/sync/control", bad); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
}

func TestPostgresChangesFiltersAndShape(t *testing.T) {
	url := restServer(t)
	c, _ := realtime.NewClient(url, realtime.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch := c.Channel("room:a", realtime.ChannelConfig{})
	mine := make(chan realtime.PostgresChange, 10)
	all := make(chan realtime.PostgresChange, 10)
	system := make(chan realtime.SystemMessage, 10)
	ch.OnPostgresChanges(realtime.PostgresChangesFilter{Event: "INSERT", Schema: "public", Table: "comments", Filter: "room_id=eq.a"}, func(pc realtime.PostgresChange) { mine <- pc })
	ch.OnPostgresChanges(realtime.PostgresChangesFilter{Event: "*", Schema: "public"}, func(pc realtime.PostgresChange) { all <- pc })
	ch.OnSystem(func(m realtime.SystemMessage) { system <- m })
	if err := ch.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-system:
		if m.Status != "ok" {
			t.Fatalf("system: %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no system message")
	}
	restDo(t, "POST", url+"/rest/v1/comments", `{"room_id":"b","user_id":"u","username":"n","content":"other room"}`)
	restDo(t, "POST", url+"/rest/v1/comments", `{"room_id":"a","user_id":"u","username":"n","content":"mine"}`)
	pc := <-mine
	if pc.Table != "comments" || pc.Schema != "public" || !strings.Contains(string(pc.New["content"]), "mine") || string(pc.New["is_system_message"]) != "false" {
		t.Fatalf("%+v", pc)
	}
	// The catch-all binding saw both inserts, in order.
	first, second := <-all, <-all
	if !strings.Contains(string(first.New["content"]), "other room") || !strings.Contains(string(second.New["content"]), "mine") {
		t.Fatalf("catch-all: %s then %s", first.New["content"], second.New["content"])
	}
	select {
	case pc := <-mine:
		t.Fatalf("filtered binding fired for another room: %+v", pc)
	default:
	}

	// A malformed filter is reported, and the channel stays usable.
	bad := c.Channel("room:bad", realtime.ChannelConfig{})
	badSys := make(chan realtime.SystemMessage, 4)
	bad.OnPostgresChanges(realtime.PostgresChangesFilter{Event: "*", Schema: "public", Table: "comments", Filter: "room_id=foo.1"}, func(realtime.PostgresChange) {})
	bad.OnSystem(func(m realtime.SystemMessage) { badSys <- m })
	if err := bad.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if m := <-badSys; m.Status != "error" || !strings.Contains(m.Message, "filter") {
		t.Fatalf("bad filter: %+v", m)
	}
}
