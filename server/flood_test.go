package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/server"
)

// floodMember is a well-behaved realtime client that records whether it ever
// lost its connection and which broadcasts it got.
type floodMember struct {
	c       *realtime.Client
	ch      *realtime.Channel
	dropped atomic.Bool
	got     chan string
}

func newMember(t *testing.T, ts *tserver, topic string) *floodMember {
	t.Helper()
	c, err := realtime.NewClient(ts.URL, realtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := &floodMember{c: c, got: make(chan string, 1<<14)}
	c.OnState(func(ev realtime.ConnEvent) {
		if ev.State == realtime.StateReconnecting || ev.State == realtime.StateClosed {
			m.dropped.Store(true)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	m.ch = c.Channel(topic, realtime.ChannelConfig{})
	m.ch.OnBroadcast("*", func(b realtime.Broadcast) {
		select {
		case m.got <- b.Event:
		default:
		}
	})
	if err := m.ch.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}

// waitEvent waits for a broadcast named ev, skipping others (the flood).
func (m *floodMember) waitEvent(t *testing.T, ev string) {
	t.Helper()
	deadline := time.After(2 * wait)
	for {
		select {
		case e := <-m.got:
			if e == ev {
				return
			}
		case <-deadline:
			t.Fatalf("broadcast %q never arrived", ev)
		}
	}
}

// A member sending 10,000 broadcasts as fast as it can must cost the
// others nothing: they stay connected and keep getting the room's events,
// while the flooder is told "Too many messages per second" and its channel
// is closed (as on Supabase), without a bare 1006.
func TestFloodingClientIsStoppedAndOthersKeepTheirPlace(t *testing.T) {
	ts := start(t, server.Config{})
	const topic = "room:flood"
	a := newMember(t, ts, topic)
	b := newMember(t, ts, topic)

	ws, _, err := dialErr(ts.wsURL("1.0.0", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	send := func(s string) error {
		_ = ws.SetWriteDeadline(time.Now().Add(wait))
		return ws.WriteMessage(websocket.TextMessage, []byte(s))
	}
	if err := send(`{"topic":"realtime:` + topic + `","event":"phx_join","ref":"1","join_ref":"1","payload":{"config":{"broadcast":{"ack":true}}}}`); err != nil {
		t.Fatal(err)
	}
	// Flood without reading, as a broken or hostile client would.
	payload := `{"type":"broadcast","event":"spam","payload":{"x":"` + strings.Repeat("x", 200) + `"}}`
	for i := 0; i < 10000; i++ {
		if err := send(`{"topic":"realtime:` + topic + `","event":"broadcast","ref":"` + itoa(i+2) + `","join_ref":"1","payload":` + payload + `}`); err != nil {
			break // the server may close us; what it said is checked below
		}
	}
	var sawSystem, sawClose bool
	_ = ws.SetReadDeadline(time.Now().Add(2 * wait))
	for !sawSystem || !sawClose {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("flooder: system message %v, phx_close %v, then %v", sawSystem, sawClose, err)
		}
		var m struct {
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
		}
		_ = json.Unmarshal(data, &m)
		switch m.Event {
		case "system":
			sawSystem = sawSystem || strings.Contains(string(m.Payload), "Too many messages per second")
		case "phx_close":
			sawClose = true
		}
	}

	// The others never lost their place, and the room still works.
	if err := a.ch.Post("after", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	b.waitEvent(t, "after")
	if a.dropped.Load() || b.dropped.Load() {
		t.Fatalf("legitimate members were disconnected by the flood (a %v, b %v)", a.dropped.Load(), b.dropped.Load())
	}
}

func itoa(i int) string { return jsonInt(i) }

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }

// A 5 MB frame (far over the 1 MiB limit, still being written when the
// server decides) is closed with 1009 and a reason, not a bare 1006.
func TestHugeFrameGets1009WithReason(t *testing.T) {
	ts := start(t, server.Config{})
	c := dial(t, ts, "2.0.0")
	c.join("realtime:room:huge5", cfgPlain)
	frame := `["1","2","realtime:room:huge5","broadcast",{"type":"broadcast","event":"e","payload":"` + strings.Repeat("a", 5<<20) + `"}]`
	go func() { _ = c.ws.WriteMessage(websocket.TextMessage, []byte(frame)) }()
	if code := c.closedWith(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d (%v), want 1009", code, c.err)
	}
	if ce, _ := c.err.(*websocket.CloseError); ce == nil || !strings.Contains(ce.Text, "limit") {
		t.Fatalf("close without a reason: %v", c.err)
	}
	stillWorks(t, ts, "realtime:room:huge5")
}

// Several members each within their own limit cannot together exceed the
// room's: the excess is refused with an error, and nobody is closed.
func TestRoomRateLimitBoundsSeveralSenders(t *testing.T) {
	ts := start(t, server.Config{EventsPerSecond: 1000, RoomEventsPerSecond: 20})
	const topic = "realtime:room:many"
	var senders []*client
	for range 3 {
		c := dial(t, ts, "2.0.0")
		c.join(topic, cfgWith(false, true, ""))
		senders = append(senders, c)
	}
	refused := 0
	for i := range 30 {
		c := senders[i%3]
		st, resp := c.reply(c.push(topic, "broadcast", bcast("b", "{}")))
		if st == "error" {
			if !strings.Contains(string(resp), "RoomRateLimited") {
				t.Fatalf("refusal %s", resp)
			}
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("30 broadcasts at once in a room limited to 20/s: none refused")
	}
	stillWorks(t, ts, "realtime:room:other")
	for _, c := range senders {
		select {
		case <-c.done:
			t.Fatalf("a sender was disconnected: %v", c.err)
		default:
		}
	}
}
