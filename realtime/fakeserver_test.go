package realtime_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/phx"
	"github.com/watchium/watchium-tui/realtime"
)

// scriptedServer is a hand-driven Phoenix server for behaviour the real
// server does not show on demand: silence, postgres_changes, odd frames.
type scriptedServer struct {
	srv     *httptest.Server
	handler func(c *websocket.Conn, m phx.Message)
}

func newScriptedServer(t *testing.T, handler func(c *websocket.Conn, m phx.Message)) *scriptedServer {
	s := &scriptedServer{handler: handler}
	up := websocket.Upgrader{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			m, err := phx.DecodeText(data)
			if err == nil {
				s.handler(c, m)
			}
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func reply(c *websocket.Conn, m phx.Message, response string) {
	data, _ := phx.EncodeText(phx.VSN2, phx.Message{JoinRef: m.JoinRef, Ref: m.Ref, Topic: m.Topic, Event: "phx_reply", Payload: json.RawMessage(`{"status":"ok","response":` + response + `}`)})
	_ = c.WriteMessage(websocket.TextMessage, data)
}

func TestMissedHeartbeatReconnects(t *testing.T) {
	var mu sync.Mutex
	answer := false
	s := newScriptedServer(t, func(c *websocket.Conn, m phx.Message) {
		mu.Lock()
		defer mu.Unlock()
		if m.Event == "heartbeat" && !answer {
			return // silence: the connection looks dead
		}
		reply(c, m, `{}`)
	})
	c := newClient(t, s.srv.URL, realtime.Options{Heartbeat: 100 * time.Millisecond})
	states := make(chan realtime.ConnEvent, 100)
	c.OnState(func(ev realtime.ConnEvent) { states <- ev })
	for {
		ev := waitFor(t, states, "reconnecting after a missed heartbeat")
		if ev.State == realtime.StateReconnecting {
			if ev.Err == nil || !strings.Contains(ev.Err.Error(), "heartbeat timeout") {
				t.Fatalf("reconnecting because %v", ev.Err)
			}
			break
		}
	}
	mu.Lock()
	answer = true
	mu.Unlock()
	for ev := waitFor(t, states, "open again"); ev.State != realtime.StateOpen; ev = waitFor(t, states, "open again") {
	}
}

func TestPostgresChangesMatchedByID(t *testing.T) {
	s := newScriptedServer(t, func(c *websocket.Conn, m phx.Message) {
		switch m.Event {
		case "phx_join":
			var p struct {
				Config struct {
					PG []map[string]any `json:"postgres_changes"`
				} `json:"config"`
			}
			_ = json.Unmarshal(m.Payload, &p)
			for i, b := range p.Config.PG {
				b["id"] = 100 + i
			}
			resp, _ := json.Marshal(map[string]any{"postgres_changes": p.Config.PG})
			reply(c, m, string(resp))
			// One change for binding 0 only (id 100), with string-typed values
			// that the client converts by column type.
			ev := `{"ids":[100],"data":{"schema":"public","table":"comments","commit_timestamp":"2026-01-01T00:00:00.000Z","type":"INSERT",` +
				`"columns":[{"name":"id","type":"int8"},{"name":"is_system_message","type":"bool"},{"name":"meta","type":"jsonb"}],` +
				`"record":{"id":"5","is_system_message":"f","meta":"{\"a\":1}"},"errors":null}}`
			data, _ := phx.EncodeText(phx.VSN2, phx.Message{Topic: m.Topic, Event: "postgres_changes", Payload: json.RawMessage(ev)})
			_ = c.WriteMessage(websocket.TextMessage, data)
		default:
			reply(c, m, `{}`)
		}
	})
	c := newClient(t, s.srv.URL, realtime.Options{})
	ch := c.Channel("room:pg", realtime.ChannelConfig{})
	got := make(chan realtime.PostgresChange, 4)
	other := make(chan realtime.PostgresChange, 4)
	ch.OnPostgresChanges(realtime.PostgresChangesFilter{Event: "INSERT", Schema: "public", Table: "comments", Filter: "room_id=eq.pg"}, func(pc realtime.PostgresChange) { got <- pc })
	ch.OnPostgresChanges(realtime.PostgresChangesFilter{Event: "*", Schema: "public", Table: "rooms"}, func(pc realtime.PostgresChange) { other <- pc })
	subscribe(t, ch)
	pc := waitFor(t, got, "postgres change")
	if pc.EventType != "INSERT" || string(pc.New["id"]) != "5" || string(pc.New["is_system_message"]) != "false" || string(pc.New["meta"]) != `{"a":1}` {
		t.Fatalf("change: %+v", pc)
	}
	select {
	case pc := <-other:
		t.Fatalf("binding with another id fired: %+v", pc)
	default:
	}
}

func TestBindingMismatchIsAChannelError(t *testing.T) {
	s := newScriptedServer(t, func(c *websocket.Conn, m phx.Message) {
		if m.Event == "phx_join" {
			reply(c, m, `{"postgres_changes":[{"event":"UPDATE","schema":"public","table":"rooms","id":1}]}`)
			return
		}
		reply(c, m, `{}`)
	})
	c := newClient(t, s.srv.URL, realtime.Options{})
	ch := c.Channel("room:mm", realtime.ChannelConfig{})
	ch.OnPostgresChanges(realtime.PostgresChangesFilter{Event: "INSERT", Schema: "public", Table: "rooms"}, func(realtime.PostgresChange) {})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ch.Subscribe(ctx); err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Fatalf("subscribe: %v", err)
	}
}
