package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/server"
)

var vsns = []string{"1.0.0", "2.0.0"}

func TestHeartbeatReply(t *testing.T) {
	ts := start(t, server.Config{})
	for _, vsn := range vsns {
		t.Run(vsn, func(t *testing.T) {
			c := dial(t, ts, vsn)
			c.sendText(c.frame("", "10", "phoenix", "heartbeat", "{}"))
			m := c.next()
			if m.Topic != "phoenix" || m.Event != "phx_reply" || sp(m.Ref) != "10" || m.JoinRef != nil {
				t.Fatalf("heartbeat reply = %s", m)
			}
			if got := mustJSON(t, m.Payload); !reflect.DeepEqual(got, map[string]any{"status": "ok", "response": map[string]any{}}) {
				t.Fatalf("heartbeat payload = %s", m.Payload)
			}
		})
	}
}

func TestJoinReplyEchoesPostgresChanges(t *testing.T) {
	ts := start(t, server.Config{})
	const cfg = `{"broadcast":{"self":true,"ack":true},"presence":{"key":"user-1","enabled":true},` +
		`"postgres_changes":[{"event":"INSERT","schema":"public","table":"todos","filter":"id=eq.5"},{"event":"*","schema":"public"}],"private":false}`
	var ids [][]any
	for _, vsn := range vsns {
		t.Run(vsn, func(t *testing.T) {
			c := dial(t, ts, vsn)
			c.sendText(c.frame("6", "6", "realtime:room:abc", "phx_join", `{"config":`+cfg+`,"access_token":"x"}`))
			m := c.next()
			if m.Event != "phx_reply" || sp(m.Ref) != "6" || m.Topic != "realtime:room:abc" {
				t.Fatalf("first frame = %s, want the join reply", m)
			}
			if vsn == "2.0.0" && sp(m.JoinRef) != "6" {
				t.Fatalf("v2 join reply join_ref = %s", sp(m.JoinRef))
			}
			var p struct {
				Status   string `json:"status"`
				Response struct {
					PG []map[string]any `json:"postgres_changes"`
				} `json:"response"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || p.Status != "ok" {
				t.Fatalf("join reply %s (%v)", m.Payload, err)
			}
			want := []map[string]any{
				{"event": "INSERT", "schema": "public", "table": "todos", "filter": "id=eq.5"},
				{"event": "*", "schema": "public"},
			}
			if len(p.Response.PG) != 2 {
				t.Fatalf("postgres_changes = %v", p.Response.PG)
			}
			var got []any
			for i, b := range p.Response.PG {
				id, ok := b["id"].(float64)
				if !ok || id < 0 || id >= 1<<27 {
					t.Fatalf("binding %d id = %v", i, b["id"])
				}
				got = append(got, b["id"])
				delete(b, "id")
				if !reflect.DeepEqual(b, want[i]) {
					t.Fatalf("binding %d echoed as %v, want %v", i, b, want[i])
				}
			}
			ids = append(ids, got)
			ps := c.next()
			if ps.Event != "presence_state" || ps.Ref != nil || string(ps.Payload) != "{}" {
				t.Fatalf("second frame = %s, want empty presence_state", ps)
			}
			if vsn == "2.0.0" && sp(ps.JoinRef) != "6" {
				t.Fatalf("presence_state join_ref = %s", sp(ps.JoinRef))
			}
			// Then a system message on the subscription's outcome (ok, or an
			// error when the server keeps no tables); the channel stays joined.
			sys := c.next()
			var sm map[string]string
			_ = json.Unmarshal(sys.Payload, &sm)
			if sys.Event != "system" || sm["channel"] != "room:abc" || (sm["status"] != "ok" && sm["status"] != "error") {
				t.Fatalf("third frame = %s, want a postgres_changes system message", sys)
			}
		})
	}
	// Identical bindings get identical ids (Supabase's phash2 behaves so).
	if len(ids) == 2 && !reflect.DeepEqual(ids[0], ids[1]) {
		t.Fatalf("ids differ between identical joins: %v vs %v", ids[0], ids[1])
	}

	t.Run("no bindings → empty list", func(t *testing.T) {
		c := dial(t, ts, "2.0.0")
		resp := c.join("realtime:room:empty", cfgPlain)
		if string(resp) != `{"postgres_changes":[]}` {
			t.Fatalf("response = %s", resp)
		}
	})
}

func TestJoinErrors(t *testing.T) {
	ts := start(t, server.Config{})
	for _, vsn := range vsns {
		for _, tc := range []struct{ topic, reason string }{
			{"room:abc", "unmatched topic"},
			{"phoenix:x", "unmatched topic"},
			{"realtime:", "TopicNameRequired: You must provide a topic name"},
		} {
			t.Run(vsn+"/"+tc.topic, func(t *testing.T) {
				c := dial(t, ts, vsn)
				c.sendText(c.frame("3", "3", tc.topic, "phx_join", `{"config":`+cfgPlain+`}`))
				st, resp := c.reply("3")
				var r map[string]string
				_ = json.Unmarshal(resp, &r)
				if st != "error" || r["reason"] != tc.reason {
					t.Fatalf("reply %s %s, want error %q", st, resp, tc.reason)
				}
				// No presence_state, no membership; the socket stays usable.
				if ms := c.sync(); len(ms) != 0 {
					t.Fatalf("unexpected frames after a failed join: %v", ms)
				}
			})
		}
	}
}

func TestDuplicateJoinReplacesOld(t *testing.T) {
	ts := start(t, server.Config{})
	const topic = "realtime:room:dup"
	a, b := dial(t, ts, "2.0.0"), dial(t, ts, "2.0.0")
	b.join(topic, cfgPlain)
	a.join(topic, cfgWith(false, false, "a")) // join_ref "1"
	a.push(topic, "presence", `{"type":"presence","event":"track","payload":{"n":1}}`)
	b.waitFor("a's join diff", func(m msg) bool { return m.Event == "presence_diff" })

	a.sendText(a.frame("9", "9", topic, "phx_join", `{"config":`+cfgPlain+`}`))
	m := a.next()
	for m.Event == "phx_reply" || m.Event == "presence_diff" { // the track reply and own diff
		if m.Event == "phx_reply" && sp(m.Ref) == "9" {
			t.Fatalf("join reply before phx_close of the old join")
		}
		m = a.next()
	}
	if m.Event != "phx_close" || sp(m.JoinRef) != "1" || sp(m.Ref) != "1" {
		t.Fatalf("got %s, want phx_close for old join_ref 1", m)
	}
	if st, _ := a.reply("9"); st != "ok" {
		t.Fatalf("second join: %s", st)
	}
	ps := a.next()
	if ps.Event != "presence_state" || sp(ps.JoinRef) != "9" {
		t.Fatalf("got %s, want presence_state for join 9", ps)
	}
	// The old join's presence left.
	d := b.waitFor("leave diff", func(m msg) bool {
		return m.Event == "presence_diff" && strings.Contains(string(m.Payload), `"leaves":{"a"`)
	})
	_ = d
	// a is in the room exactly once.
	b.push(topic, "broadcast", bcast("once", "{}"))
	b.sync() // b's fan-out is queued to a before b's heartbeat reply
	if got := broadcasts(a.sync()); !reflect.DeepEqual(got, []string{"once"}) {
		t.Fatalf("a received %v, want one broadcast", got)
	}
}

func TestMaxChannels(t *testing.T) {
	ts := start(t, server.Config{MaxChannels: 2})
	c := dial(t, ts, "2.0.0")
	c.join("realtime:a", cfgPlain)
	c.join("realtime:b", cfgPlain)
	ref := c.nextRef()
	c.sendText(c.frame(ref, ref, "realtime:c", "phx_join", `{"config":`+cfgPlain+`}`))
	st, resp := c.reply(ref)
	if st != "error" || !strings.Contains(string(resp), "ChannelRateLimitReached: Too many channels") {
		t.Fatalf("third join: %s %s", st, resp)
	}
	// Re-joining an existing topic is not a new channel.
	c.join("realtime:a", cfgPlain)
	// Leaving frees a slot.
	if st, _ := c.reply(c.push("realtime:b", "phx_leave", "{}")); st != "ok" {
		t.Fatalf("leave: %s", st)
	}
	c.join("realtime:c", cfgPlain)
}

func TestAPIKey(t *testing.T) {
	ts := start(t, server.Config{AnonKey: "s3cret"})
	for _, tc := range []struct {
		name string
		q    url.Values
		code int
	}{
		{"missing", nil, http.StatusUnauthorized},
		{"wrong", url.Values{"apikey": {"nope"}}, http.StatusUnauthorized},
		{"right", url.Values{"apikey": {"s3cret"}}, http.StatusSwitchingProtocols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, resp, err := dialErr(ts.wsURL("2.0.0", tc.q))
			if tc.code == http.StatusSwitchingProtocols {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c := newClient(t, ws, "2.0.0")
				c.join("realtime:k", cfgPlain)
				return
			}
			if err == nil {
				ws.Close()
				t.Fatalf("dial succeeded without the right key")
			}
			if resp == nil || resp.StatusCode != tc.code {
				t.Fatalf("resp %v, want %d", resp, tc.code)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e map[string]string
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || json.Unmarshal(body, &e) != nil || e["error"] == "" {
				t.Fatalf("body %q (%s), want JSON {\"error\":…}", body, ct)
			}
		})
	}
	t.Run("header", func(t *testing.T) {
		h := http.Header{"Apikey": {"s3cret"}}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		ws, _, err := websocket.DefaultDialer.DialContext(ctx, ts.wsURL("2.0.0", nil), h)
		if err != nil {
			t.Fatalf("dial with apikey header: %v", err)
		}
		ws.Close()
	})
	t.Run("http", func(t *testing.T) {
		resp, err := http.Post(ts.URL+"/realtime/v1/api/broadcast", "application/json",
			strings.NewReader(`{"messages":[{"topic":"k","event":"e","payload":{}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("REST without key: %d", resp.StatusCode)
		}
	})
}

func TestUnsupportedVSN(t *testing.T) {
	ts := start(t, server.Config{})
	_, resp, err := dialErr(ts.wsURL("3.0.0", nil))
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("vsn 3.0.0: err %v resp %v", err, resp)
	}
	resp.Body.Close()
}

func TestHealthz(t *testing.T) {
	ts := start(t, server.Config{})
	a, b := dial(t, ts, "2.0.0"), dial(t, ts, "1.0.0")
	a.join("realtime:h1", cfgPlain)
	b.join("realtime:h2", cfgPlain)
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Status      string `json:"status"`
		Connections int    `json:"connections"`
		Rooms       int    `json:"rooms"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&h) != nil || h.Status != "ok" || h.Connections != 2 || h.Rooms != 2 {
		t.Fatalf("healthz %d %+v", resp.StatusCode, h)
	}
	if st := ts.srv.Stats(); st.Connections != 2 || st.Rooms != 2 {
		t.Fatalf("Stats %+v", st)
	}
}

func TestShutdownCloses1012(t *testing.T) {
	ts := start(t, server.Config{})
	a, b := dial(t, ts, "2.0.0"), dial(t, ts, "1.0.0")
	a.join("realtime:s", cfgPlain)
	b.join("realtime:s", cfgPlain)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range []*client{a, b} {
		if code := c.closedWith(); code != websocket.CloseServiceRestart {
			t.Fatalf("close code %d (%v), want 1012", code, c.err)
		}
	}
	_, resp, err := dialErr(ts.wsURL("2.0.0", nil))
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v %v", err, resp)
	}
	resp.Body.Close()
	if st := ts.srv.Stats(); st.Connections != 0 || st.Rooms != 0 {
		t.Fatalf("after shutdown: %+v", st)
	}
}

func TestIdleTimeoutDropsSilentConnection(t *testing.T) {
	const idle = 600 * time.Millisecond
	ts := start(t, server.Config{IdleTimeout: idle})
	const topic = "realtime:room:idle"
	obs, silent := dial(t, ts, "2.0.0"), dial(t, ts, "2.0.0")
	obs.join(topic, cfgWith(false, false, "obs"))
	silent.join(topic, cfgWith(false, false, "silent"))
	if st, _ := silent.reply(silent.push(topic, "presence", `{"type":"presence","event":"track","payload":{"x":1}}`)); st != "ok" {
		t.Fatal("track failed")
	}
	obs.waitFor("silent's join", func(m msg) bool {
		return m.Event == "presence_diff" && strings.Contains(string(m.Payload), `"joins":{"silent"`)
	})
	// The observer keeps its socket alive with heartbeats, as clients do;
	// the silent one sends nothing and must be dropped with its presence.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tk := time.NewTicker(idle / 4)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tk.C:
				_ = obs.ws.WriteMessage(websocket.TextMessage, []byte(`[null,"hb`+string(rune('a'+i%26))+`","phoenix","heartbeat",{}]`))
			}
		}
	}()
	silent.closedWith()
	obs.waitFor("silent's leave", func(m msg) bool {
		return m.Event == "presence_diff" && strings.Contains(string(m.Payload), `"leaves":{"silent"`)
	})
	select {
	case <-obs.done:
		t.Fatalf("observer that heartbeats was dropped: %v", obs.err)
	default:
	}
}
