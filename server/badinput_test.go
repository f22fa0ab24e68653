package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/server"
)

func reason(t *testing.T, resp json.RawMessage) string {
	var r map[string]string
	_ = json.Unmarshal(resp, &r)
	return r["reason"]
}

func TestInvalidJSON(t *testing.T) {
	ts := start(t, server.Config{})
	for _, vsn := range vsns {
		c := dial(t, ts, vsn)
		c.sendText(`{"topic":`)
		m := c.next()
		if m.Topic != "phoenix" || m.Event != "phx_reply" || m.Ref != nil {
			t.Fatalf("%s: reply to invalid JSON = %s", vsn, m)
		}
		var p struct{ Status string }
		if json.Unmarshal(m.Payload, &p); p.Status != "error" {
			t.Fatalf("%s: status %q", vsn, p.Status)
		}
		c.sync() // still connected
	}
	stillWorks(t, ts, "realtime:room:after-invalid")
}

func TestUnknownEventAndUnjoinedTopic(t *testing.T) {
	ts := start(t, server.Config{})
	for _, vsn := range vsns {
		c := dial(t, ts, vsn)
		c.join("realtime:room:u", cfgPlain)
		if st, resp := c.reply(c.push("realtime:room:u", "dance", "{}")); st != "error" || !strings.Contains(reason(t, resp), "unknown event") {
			t.Fatalf("%s unknown event: %s %s", vsn, st, resp)
		}
		if st, resp := c.reply(c.push("phoenix", "dance", "{}")); st != "error" {
			t.Fatalf("%s unknown phoenix event: %s %s", vsn, st, resp)
		}
		for _, ev := range []string{"broadcast", "presence", "access_token"} {
			ref := c.nextRef()
			c.sendText(c.frame("", ref, "realtime:room:other", ev, bcast("x", "{}")))
			if st, resp := c.reply(ref); st != "error" || !strings.Contains(reason(t, resp), "unmatched topic") {
				t.Fatalf("%s %s to unjoined topic: %s %s", vsn, ev, st, resp)
			}
		}
		// Binary push to an unjoined topic.
		c.sendBinary(kind3("", "99", "realtime:room:other", "x", nil, 1, []byte("{}")))
		if st, _ := c.reply("99"); st != "error" {
			t.Fatalf("%s kind 3 to unjoined topic: %s", vsn, st)
		}
		// Leaving a topic never joined is fine.
		if st, _ := c.reply(c.push("realtime:room:other", "phx_leave", "{}")); st != "ok" {
			t.Fatalf("%s leave of unjoined topic: %s", vsn, st)
		}
		// A bad access_token on a joined channel is a system error, channel stays.
		c.push("realtime:room:u", "access_token", `{}`)
		sys := c.waitFor("system", func(m msg) bool { return m.Event == "system" })
		if !strings.Contains(string(sys.Payload), `"status":"error"`) {
			t.Fatalf("bad access_token: %s", sys)
		}
		c.push("realtime:room:u", "access_token", `{"access_token":"eyJ"}`)
		if ms := c.sync(); len(ms) != 0 {
			t.Fatalf("good access_token got %v, want no reply", ms)
		}
	}
}

func TestOversizedFrameCloses1009(t *testing.T) {
	ts := start(t, server.Config{}) // default limit 1 MiB
	const topic = "realtime:room:huge"
	big, b, c := dial(t, ts, "2.0.0"), dial(t, ts, "2.0.0"), dial(t, ts, "1.0.0")
	for _, x := range []*client{big, b, c} {
		x.join(topic, cfgWith(false, false, ""))
	}
	big.track(topic, `{"who":"big"}`)
	b.expectDiff()

	// Exactly 1 MiB is allowed (and is then refused as a broadcast payload
	// over MaxPayloadBytes, silently without ack).
	ok := `["1","50","` + topic + `","broadcast",{"type":"broadcast","event":"e","payload":"`
	ok += strings.Repeat("a", 1<<20-len(ok)-3) + `"}]`
	if len(ok) != 1<<20 {
		t.Fatalf("frame is %d bytes", len(ok))
	}
	big.sendText(ok)
	big.sync()

	// One byte more closes the connection with 1009 (text and binary).
	go func() { _ = big.ws.WriteMessage(websocket.TextMessage, []byte(ok+" ")) }()
	if code := big.closedWith(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d (%v), want 1009", code, big.err)
	}
	// Its presence leaves; the room keeps working for the others.
	if d := b.expectDiff(); len(d.Leaves) != 1 {
		t.Fatalf("diff %+v", d)
	}
	c.push(topic, "broadcast", bcast("still", "{}"))
	b.expectBroadcast("still")

	bin := dial(t, ts, "2.0.0")
	bin.join(topic, cfgPlain)
	frame := kind3("1", "2", topic, "x", nil, 0, make([]byte, 1<<20))
	go func() { _ = bin.ws.WriteMessage(websocket.BinaryMessage, frame) }()
	if code := bin.closedWith(); code != websocket.CloseMessageTooBig {
		t.Fatalf("binary: close code %d (%v), want 1009", code, bin.err)
	}
	b.push(topic, "broadcast", bcast("still2", "{}"))
	c.expectBroadcast("still2")
}

// TestMalformedInputs throws junk at one connection; it must get error
// replies or nothing, never take down the server or the room.
func TestMalformedInputs(t *testing.T) {
	ts := start(t, server.Config{})
	const topic = "realtime:room:junk"
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	texts := []string{
		``, ` `, `null`, `true`, `"str"`, `12`, `[]`, `{}`, `[1,2,3]`, `[null,null,null,null,null]`,
		`[null,"1",5,"x",{}]`, `[null,"1","t",["e"],{}]`, `[{},"1","t","e",{}]`, `[null,true,"t","e",{}]`,
		`[null,"1","","",{}]`, `{"topic":"x"}`, `{"topic":1,"event":2,"payload":{},"ref":null}`,
		`{"topic":"t","event":"e","payload":{},"ref":{}}`, deep, `[` + deep + `]`,
		`[null,"1","realtime:room:junk","broadcast","notobj"]`,
		`[null,"1","realtime:room:junk","presence",[]]`,
		`[null,"1","realtime:room:junk","presence",{"event":"track","payload":"x"}]`,
		`[null,"1","realtime:room:junk","presence",{"event":"track"}]`,
		`[null,"1","realtime:room:junk","broadcast",{"event":"e","payload":` + deep + `}]`,
		`[null,"1","realtime:room:junk","phx_join",null]`,
		`[null,"1","realtime:room:junk2","phx_join",{"config":{"postgres_changes":[1,"x",null,{"event":{"a":1}}],"broadcast":"yes","presence":{"key":5},"private":"maybe"}}]`,
		`[null,"1","realtime:room:junk3","phx_join",{"config":{"postgres_changes":{"a":1}}}]`,
		`[null,"1","realtime:room:junk4","phx_join",[1,2]]`,
		`[null,"1","phoenix","heartbeat",[1]]`,
		`[null,"1","phoenix","phx_join",{}]`,
		"[null,\"1\",\"realtime:room:junk\",\"broadcast\",{\"event\":\"\xff\xfe\",\"payload\":\"\xc3\"}]",
		`{"topic":"realtime:room:junk","event":"phx_leave","payload":null,"ref":7}`,
		`[null,"1","realtime:room:junk","phx_join",{}]`, // rejoin
	}
	bins := [][]byte{
		{}, {0}, {1}, {2}, {3}, {4}, {5}, {255},
		{0, 1, 1, 1, 1, 'a', 'b', 'c', 'd'},
		{3, 255, 255, 255, 255, 255, 1},
		{3, 0, 0, 0, 0, 0, 1},
		{4, 3, 1, 0, 1, 'a', 'b', 'c', 'd', '{', '}'},
		kind3("1", "2", topic, "e", nil, 7, []byte("{}")),
		kind3("1", "2", topic, "e", nil, 1, []byte("{not json")),
		kind3("1", "2", topic, "e", []byte("{meta"), 1, []byte("{}")),
		kind3("1", "2", topic, "", nil, 1, []byte("{}")),
		kind3("1", "2", "", "e", nil, 1, []byte("{}")),
		kind3("1", "2", "phoenix", "heartbeat", nil, 1, []byte("{}")),
		kind3("1", "2", topic, "e", nil, 1, nil),
		kind3("1", "2", topic, "e", nil, 0, nil),
		kind3("\xff", "\xfe", topic, "\xff", nil, 1, []byte(`"\xff"`)),
	}
	for _, vsn := range vsns {
		j := dial(t, ts, vsn)
		j.join(topic, cfgWith(true, true, "junk"))
		for i, s := range texts {
			j.sendText(s)
			j.sync()
			if t.Failed() {
				t.Fatalf("%s text %d %.60q", vsn, i, s)
			}
		}
		j.join(topic, cfgWith(true, true, "junk"))
		for i, b := range bins {
			j.sendBinary(b)
			j.sync()
			if t.Failed() {
				t.Fatalf("%s binary %d %x", vsn, i, b)
			}
		}
		stillWorks(t, ts, topic)
	}
}
