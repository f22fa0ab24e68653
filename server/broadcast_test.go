package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/watchium/watchium-tui/server"
)

func TestBroadcastSelf(t *testing.T) {
	ts := start(t, server.Config{})
	for _, self := range []bool{true, false} {
		for _, vsn := range vsns {
			name := vsn + map[bool]string{true: "/self", false: "/noself"}[self]
			t.Run(name, func(t *testing.T) {
				topic := "realtime:room:" + name
				a, b := dial(t, ts, vsn), dial(t, ts, "2.0.0")
				a.join(topic, cfgWith(self, false, ""))
				b.join(topic, cfgPlain)
				a.push(topic, "broadcast", bcast("hello", `{"n":1}`))
				got := broadcasts(a.sync())
				if want := map[bool][]string{true: {"hello"}, false: nil}[self]; !reflect.DeepEqual(got, want) {
					t.Fatalf("sender got %v, want %v", got, want)
				}
				m := b.expectBroadcast("hello")
				want := `[null,null,"` + topic + `","broadcast",{"type":"broadcast","event":"hello","payload":{"n":1}}]`
				if string(m.Raw) != want {
					t.Fatalf("receiver got %s, want %s", m.Raw, want)
				}
			})
		}
	}
}

func TestBroadcastAck(t *testing.T) {
	ts := start(t, server.Config{})
	const topic = "realtime:room:ack"
	for _, vsn := range vsns {
		c := dial(t, ts, vsn)
		c.join(topic, cfgWith(false, true, ""))
		if st, resp := c.reply(c.push(topic, "broadcast", bcast("x", "{}"))); st != "ok" || string(resp) != "{}" {
			t.Fatalf("%s ack: %s %s", vsn, st, resp)
		}
		// Malformed broadcast payloads are refused with an error reply.
		for _, p := range []string{`"str"`, `{"type":"broadcast"}`, `[]`, `{"event":5}`} {
			if st, _ := c.reply(c.push(topic, "broadcast", p)); st != "error" {
				t.Fatalf("%s broadcast payload %s: %s, want error", vsn, p, st)
			}
		}
	}
}

func TestOversizedBroadcast(t *testing.T) {
	ts := start(t, server.Config{MaxPayloadBytes: 1000})
	const topic = "realtime:room:big"
	a, b := dial(t, ts, "2.0.0"), dial(t, ts, "2.0.0")
	a.join(topic, cfgWith(false, true, ""))
	b.join(topic, cfgPlain)
	big := `"` + strings.Repeat("x", 1200) + `"`

	st, resp := a.reply(a.push(topic, "broadcast", bcast("big", big)))
	var r map[string]string
	_ = json.Unmarshal(resp, &r)
	if st != "error" || r["error"] != "payload_size_exceeded" {
		t.Fatalf("oversized text broadcast: %s %s", st, resp)
	}
	// Binary kind 3 is bounded too.
	a.sendBinary(kind3("1", "77", topic, "bigbin", nil, 1, []byte(big)))
	if st, _ := a.reply("77"); st != "error" {
		t.Fatalf("oversized binary broadcast: %s", st)
	}
	// Nothing reached b: the next broadcast it sees is the small one.
	a.push(topic, "broadcast", bcast("small", "{}"))
	a.sync()
	if got := broadcasts(b.sync()); !reflect.DeepEqual(got, []string{"small"}) {
		t.Fatalf("b got %v, want only [small]", got)
	}

	// Without ack the oversized message is dropped silently.
	c := dial(t, ts, "1.0.0")
	c.join(topic, cfgPlain)
	c.push(topic, "broadcast", bcast("big2", big))
	if ms := c.sync(); len(ms) != 0 {
		t.Fatalf("no-ack oversized broadcast produced %v", ms)
	}
}

// The captured frames of the protocol doc, §1.3.
var (
	docKind3 = append([]byte{0x03, 0x01, 0x01, 0x11, 0x03, 0x00, 0x01, '6', '8'}, []byte("realtime:room:abcmsg{\"hello\":\"wörld\"}")...)
	docKind4 = append([]byte{0x04, 0x11, 0x03, 0x00, 0x01}, []byte("realtime:room:abcmsg{\"hello\":\"wörld\"}")...)
)

func TestBinaryBroadcast(t *testing.T) {
	ts := start(t, server.Config{})
	const topic = "realtime:room:abc"
	sender := dial(t, ts, "2.0.0")
	v2, v1 := dial(t, ts, "2.0.0"), dial(t, ts, "1.0.0")
	// The sender's first join gets ref 1; rejoin so its join_ref is "6" as
	// in the captured frame.
	sender.sendText(sender.frame("6", "6", topic, "phx_join", `{"config":{"broadcast":{"ack":true,"self":false}}}`))
	if st, _ := sender.reply("6"); st != "ok" {
		t.Fatal("join")
	}
	v2.join(topic, cfgPlain)
	v1.join(topic, cfgPlain)

	t.Run("json", func(t *testing.T) {
		sender.sendBinary(docKind3)
		if st, _ := sender.reply("8"); st != "ok" {
			t.Fatalf("ack of kind 3: %s", st)
		}
		m := v2.expectBroadcast("msg")
		if !m.Binary || !bytes.Equal(m.Raw, docKind4) {
			t.Fatalf("v2 receiver got %s, want kind-4 %x", m, docKind4)
		}
		m = v1.expectBroadcast("msg")
		want := map[string]any{"topic": topic, "event": "broadcast", "ref": nil,
			"payload": map[string]any{"type": "broadcast", "event": "msg", "payload": map[string]any{"hello": "wörld"}}}
		got := mustJSON(t, m.Raw).(map[string]any)
		delete(got, "join_ref")
		if m.Binary || !reflect.DeepEqual(got, want) {
			t.Fatalf("v1 receiver got %s", m)
		}
	})

	t.Run("raw bytes", func(t *testing.T) {
		raw := []byte{0, 1, 2, 0xff, 'x'}
		sender.sendBinary(kind3("6", "9", topic, "bin", nil, 0, raw))
		if st, _ := sender.reply("9"); st != "ok" {
			t.Fatalf("ack: %s", st)
		}
		m := v2.expectBroadcast("bin")
		if !m.Binary || m.Enc != 0 || !bytes.Equal(m.UserPayload, raw) || m.Topic != topic || len(m.Meta) != 0 {
			t.Fatalf("v2 got %s", m)
		}
		// Raw bytes cannot travel as v1 JSON; the v1 client gets nothing.
		sender.sendBinary(kind3("6", "10", topic, "after", nil, 1, []byte(`1`)))
		sender.reply("10")
		if got := broadcasts(v1.sync()); !reflect.DeepEqual(got, []string{"after"}) {
			t.Fatalf("v1 got %v, want only [after]", got)
		}
	})

	t.Run("meta", func(t *testing.T) {
		sender.sendBinary(kind3("6", "11", topic, "m", []byte(`{"persist":true}`), 1, []byte(`{"a":1}`)))
		if st, _ := sender.reply("11"); st != "ok" {
			t.Fatalf("ack: %s", st)
		}
		if m := v2.expectBroadcast("m"); string(m.UserPayload) != `{"a":1}` {
			t.Fatalf("v2 got %s", m)
		}
	})

	t.Run("text to v2 stays text", func(t *testing.T) {
		v1.push(topic, "broadcast", bcast("fromv1", `{"b":2}`))
		m := v2.expectBroadcast("fromv1")
		if m.Binary || string(m.Raw) != `[null,null,"`+topic+`","broadcast",{"type":"broadcast","event":"fromv1","payload":{"b":2}}]` {
			t.Fatalf("v2 got %s", m)
		}
	})
}

func TestRateLimitClosesChannel(t *testing.T) {
	ts := start(t, server.Config{EventsPerSecond: 2})
	const topic = "realtime:room:rl"
	a, b, c := dial(t, ts, "2.0.0"), dial(t, ts, "2.0.0"), dial(t, ts, "2.0.0")
	a.join(topic, cfgPlain)
	b.join(topic, cfgPlain)
	c.join(topic, cfgPlain)
	for range 30 {
		a.push(topic, "broadcast", bcast("flood", "{}"))
	}
	sys := a.waitFor("system error", func(m msg) bool { return m.Event == "system" })
	var p map[string]string
	_ = json.Unmarshal(sys.Payload, &p)
	if p["extension"] != "system" || p["status"] != "error" || p["message"] != "Too many messages per second" || p["channel"] != "room:rl" || sp(sys.JoinRef) != "1" {
		t.Fatalf("system = %s", sys)
	}
	cl := a.next()
	if cl.Event != "phx_close" || sp(cl.JoinRef) != "1" || sp(cl.Ref) != "1" {
		t.Fatalf("after system error: %s, want phx_close", cl)
	}
	// The channel is gone for a; further pushes are refused.
	if st, _ := a.reply(a.push(topic, "broadcast", bcast("late", "{}"))); st != "error" {
		t.Fatalf("push after close: %s", st)
	}
	// Others keep working.
	c.push(topic, "broadcast", bcast("fine", "{}"))
	b.expectBroadcast("fine")
}

func post(t *testing.T, url, ctype, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPBroadcast(t *testing.T) {
	ts := start(t, server.Config{MaxPayloadBytes: 100})
	v2, v1 := dial(t, ts, "2.0.0"), dial(t, ts, "1.0.0")
	v2.join("realtime:room:h", cfgPlain)
	v1.join("realtime:room:h", cfgPlain)
	batch := ts.URL + "/realtime/v1/api/broadcast"

	t.Run("batch", func(t *testing.T) {
		code, body := post(t, batch, "application/json",
			`{"messages":[{"topic":"room:h","event":"e1","payload":{"x":1}},{"topic":"realtime:room:h","event":"e2","payload":{"x":2}},{"topic":"room:h","event":"priv","payload":{},"private":true}]}`)
		if code != http.StatusAccepted {
			t.Fatalf("batch: %d %s", code, body)
		}
		for _, c := range []*client{v2, v1} {
			got := broadcasts(c.sync())
			if !reflect.DeepEqual(got, []string{"e1", "e2"}) {
				t.Fatalf("%s got %v, want [e1 e2] (private one stays private)", c.vsn, got)
			}
		}
		// Same call without the /realtime/v1 prefix (Realtime container direct).
		if code, body := post(t, ts.URL+"/api/broadcast", "application/json", `{"messages":[{"topic":"room:h","event":"e3","payload":1}]}`); code != http.StatusAccepted {
			t.Fatalf("/api/broadcast: %d %s", code, body)
		}
		v2.expectBroadcast("e3")
	})

	t.Run("batch 422", func(t *testing.T) {
		for _, body := range []string{
			``, `not json`, `[]`, `{}`, `{"messages":[]}`, `{"messages":{}}`,
			`{"messages":[{"event":"e","payload":{}}]}`,
			`{"messages":[{"topic":"t","payload":{}}]}`,
			`{"messages":[{"topic":"t","event":"e"}]}`,
			`{"messages":[{"topic":"t","event":"e","payload":"` + strings.Repeat("y", 200) + `"}]}`,
		} {
			code, resp := post(t, batch, "application/json", body)
			var e map[string]string
			if code != http.StatusUnprocessableEntity || json.Unmarshal([]byte(resp), &e) != nil || e["error"] == "" {
				t.Errorf("body %.40q: %d %s, want 422 with JSON error", body, code, resp)
			}
		}
		if got := broadcasts(v2.sync()); len(got) != 0 {
			t.Fatalf("rejected batches delivered %v", got)
		}
	})

	t.Run("single", func(t *testing.T) {
		// realtime-js httpSend URL-encodes the sub-topic.
		u := ts.URL + "/realtime/v1/api/broadcast/room%3Ah/events/one%20ev"
		if code, body := post(t, u, "application/json", `{"y":2}`); code != http.StatusAccepted {
			t.Fatalf("single: %d %s", code, body)
		}
		for _, c := range []*client{v2, v1} {
			m := c.expectBroadcast("one ev")
			if m.Binary {
				if string(m.UserPayload) != `{"y":2}` {
					t.Fatalf("%s got %s", c.vsn, m)
				}
				continue
			}
			var p struct {
				Payload json.RawMessage `json:"payload"`
			}
			if json.Unmarshal(m.Payload, &p) != nil || string(p.Payload) != `{"y":2}` {
				t.Fatalf("%s got %s", c.vsn, m)
			}
		}
		for _, tc := range []struct {
			ctype, body string
			code        int
		}{
			{"application/json", `{bad`, http.StatusUnprocessableEntity},
			{"application/json", `"` + strings.Repeat("z", 200) + `"`, http.StatusUnprocessableEntity},
			{"text/plain", `{}`, http.StatusUnsupportedMediaType},
		} {
			if code, body := post(t, u, tc.ctype, tc.body); code != tc.code {
				t.Errorf("single %s %.20q: %d %s, want %d", tc.ctype, tc.body, code, body, tc.code)
			}
		}
	})
}
