package server_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/watchium/watchium-tui/server"
)

type diff struct {
	Joins  map[string]struct{ Metas []map[string]any } `json:"joins"`
	Leaves map[string]struct{ Metas []map[string]any } `json:"leaves"`
}

func (c *client) expectDiff() diff {
	c.t.Helper()
	m := c.waitFor("presence_diff", func(m msg) bool { return m.Event == "presence_diff" })
	if m.JoinRef != nil || m.Ref != nil {
		c.t.Fatalf("presence_diff with refs: %s", m)
	}
	var d diff
	if err := json.Unmarshal(m.Payload, &d); err != nil || d.Joins == nil || d.Leaves == nil {
		c.t.Fatalf("presence_diff payload %s (%v): want joins and leaves objects", m.Payload, err)
	}
	return d
}

// metas flattens one key's metas without phx_ref fields, plus their refs.
func metas(ms []map[string]any) (data []map[string]any, refs []string) {
	for _, m := range ms {
		d := map[string]any{}
		for k, v := range m {
			switch k {
			case "phx_ref":
				refs = append(refs, v.(string))
			case "phx_ref_prev":
			default:
				d[k] = v
			}
		}
		data = append(data, d)
	}
	return data, refs
}

func (c *client) track(topic, obj string) {
	c.t.Helper()
	if st, resp := c.reply(c.push(topic, "presence", `{"type":"presence","event":"track","payload":`+obj+`}`)); st != "ok" {
		c.t.Fatalf("track %s: %s %s", obj, st, resp)
	}
}

// joinState joins and returns the presence_state it gets.
func joinState(t *testing.T, ts *tserver, topic, key string) (*client, map[string]struct{ Metas []map[string]any }) {
	t.Helper()
	c := dial(t, ts, "2.0.0")
	ref := c.nextRef()
	c.sendText(c.frame(ref, ref, topic, "phx_join", `{"config":`+cfgWith(false, false, key)+`}`))
	if st, _ := c.reply(ref); st != "ok" {
		t.Fatal("join")
	}
	c.joins[topic] = ref
	m := c.waitFor("presence_state", func(m msg) bool { return m.Event == "presence_state" })
	var st map[string]struct{ Metas []map[string]any }
	if err := json.Unmarshal(m.Payload, &st); err != nil {
		t.Fatalf("presence_state %s", m.Payload)
	}
	return c, st
}

func TestPresence(t *testing.T) {
	ts := start(t, server.Config{MaxPayloadBytes: 200})
	const topic = "realtime:room:p"
	a, _ := joinState(t, ts, topic, "k")
	b := dial(t, ts, "1.0.0")
	b.join(topic, cfgWith(false, false, "k")) // same key, other connection
	o, _ := joinState(t, ts, topic, "o")      // observer, never tracks

	// Track: reply ok, diff to everyone including the tracker.
	a.track(topic, `{"name":"a"}`)
	var refA string
	for _, c := range []*client{a, b, o} {
		d := c.expectDiff()
		data, refs := metas(d.Joins["k"].Metas)
		if len(d.Joins) != 1 || len(d.Leaves) != 0 || !reflect.DeepEqual(data, []map[string]any{{"name": "a"}}) || len(refs) != 1 || refs[0] == "" {
			t.Fatalf("%s: diff after a's track: %+v", c.vsn, d)
		}
		refA = refs[0]
	}

	// The same key on a second connection: a second meta.
	b.track(topic, `{"name":"b"}`)
	d := o.expectDiff()
	data, refs := metas(d.Joins["k"].Metas)
	if !reflect.DeepEqual(data, []map[string]any{{"name": "b"}}) || len(d.Leaves) != 0 || refs[0] == refA {
		t.Fatalf("diff after b's track: %+v", d)
	}
	refB := refs[0]
	_, st := joinState(t, ts, topic, "late")
	data, refs = metas(st["k"].Metas)
	if len(st) != 1 || len(data) != 2 || !sameSet(refs, []string{refA, refB}) {
		t.Fatalf("presence_state with one key, two metas: %+v", st)
	}

	// Identical re-track: ok, no diff.
	a.track(topic, `{"name":"a"}`)
	a.push(topic, "broadcast", bcast("marker", "{}"))
	a.sync()
	for _, m := range o.sync() {
		if m.Event == "presence_diff" {
			t.Fatalf("identical track produced a diff: %s", m)
		}
	}

	// Changed re-track: leave of the old meta and join of the new one with
	// phx_ref_prev, in one diff.
	a.track(topic, `{"name":"a2"}`)
	d = o.expectDiff()
	_, lrefs := metas(d.Leaves["k"].Metas)
	jdata, jrefs := metas(d.Joins["k"].Metas)
	if !reflect.DeepEqual(lrefs, []string{refA}) || !reflect.DeepEqual(jdata, []map[string]any{{"name": "a2"}}) || d.Joins["k"].Metas[0]["phx_ref_prev"] != refA {
		t.Fatalf("diff after changed track: %+v", d)
	}
	refA2 := jrefs[0]

	// Untrack: leave of a's meta only; b's meta keeps the key alive.
	if st, _ := a.reply(a.push(topic, "presence", `{"type":"presence","event":"untrack"}`)); st != "ok" {
		t.Fatal("untrack")
	}
	d = o.expectDiff()
	if _, r := metas(d.Leaves["k"].Metas); len(d.Joins) != 0 || !reflect.DeepEqual(r, []string{refA2}) {
		t.Fatalf("diff after untrack: %+v", d)
	}
	_, st = joinState(t, ts, topic, "late2")
	if _, r := metas(st["k"].Metas); !reflect.DeepEqual(r, []string{refB}) {
		t.Fatalf("state after untrack: %+v", st)
	}

	// Bad track payloads.
	for _, p := range []string{`"x"`, `[1]`, `null`, `5`} {
		st, resp := a.reply(a.push(topic, "presence", `{"type":"presence","event":"track","payload":`+p+`}`))
		if st != "error" || string(resp) != `{"reason":"Presence track payload must be a map"}` {
			t.Fatalf("track %s: %s %s", p, st, resp)
		}
	}
	if st, _ := a.reply(a.push(topic, "presence", `{"type":"presence","event":"dance"}`)); st != "error" {
		t.Fatal("unknown presence event accepted")
	}

	// b's connection drops: its meta leaves.
	_ = b.ws.NetConn().Close()
	d = o.expectDiff()
	if _, r := metas(d.Leaves["k"].Metas); len(d.Joins) != 0 || !reflect.DeepEqual(r, []string{refB}) {
		t.Fatalf("diff after b dropped: %+v", d)
	}
	_, st = joinState(t, ts, topic, "late3")
	if len(st) != 0 {
		t.Fatalf("state after everyone left: %+v", st)
	}

	// Oversized track: system error.
	big := `{"x":"` + repeat("y", 300) + `"}`
	a.push(topic, "presence", `{"type":"presence","event":"track","payload":`+big+`}`)
	sys := a.waitFor("system", func(m msg) bool { return m.Event == "system" })
	var p map[string]string
	if json.Unmarshal(sys.Payload, &p); p["message"] != "Track message size exceeded" {
		t.Fatalf("oversized track: %s", sys)
	}
}

func repeat(s string, n int) string {
	out := make([]byte, 0, n*len(s))
	for range n {
		out = append(out, s...)
	}
	return string(out)
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}
