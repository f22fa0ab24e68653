package server_test

// Test helpers: a loopback server and a raw WebSocket client that speaks the
// wire protocol by hand (vsn 1.0.0 objects, vsn 2.0.0 arrays and binary
// kind-3/4 frames), so the tests do not depend on the realtime codec.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/server"
)

// wait bounds every wait for a frame; generous for -race on a shared 2-core box.
const wait = 5 * time.Second

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type tserver struct {
	*httptest.Server
	srv    *server.Server
	logs   *syncBuf    // server's slog output
	httpEr *syncBuf    // net/http's error log: recovered handler panics land here
	wedged atomic.Bool // set when the server is deadlocked: skip cleanup, which would hang
}

// start runs a server on 127.0.0.1 for the test. At cleanup it fails the
// test if net/http recovered a panic from a handler (a readLoop panic would
// otherwise only cost one connection silently).
func start(t *testing.T, cfg server.Config) *tserver {
	t.Helper()
	ts := &tserver{logs: &syncBuf{}, httpEr: &syncBuf{}}
	cfg.Logger = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts.srv = server.New(cfg)
	ts.Server = httptest.NewUnstartedServer(ts.srv)
	ts.Config.ErrorLog = log.New(ts.httpEr, "", 0)
	ts.Start()
	t.Cleanup(func() {
		if ts.wedged.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.Close()
		if s := ts.httpEr.String(); strings.Contains(s, "panic") {
			t.Errorf("server panicked:\n%s", s)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs.String())
		}
	})
	return ts
}

func (ts *tserver) wsURL(vsn string, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	if vsn != "" {
		q.Set("vsn", vsn)
	}
	return "ws" + strings.TrimPrefix(ts.URL, "http") + "/realtime/v1/websocket?" + q.Encode()
}

// msg is one parsed server frame.
type msg struct {
	JoinRef *string
	Ref     *string
	Topic   string
	Event   string
	Payload json.RawMessage
	Keys    []string // v1 object keys, sorted as sent

	Binary      bool
	Raw         []byte
	UserEvent   string
	Meta        []byte
	Enc         byte
	UserPayload []byte
}

func (m msg) String() string {
	if m.Binary {
		return fmt.Sprintf("binary %x", m.Raw)
	}
	return string(m.Raw)
}

func sp(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

type client struct {
	t      testing.TB
	ws     *websocket.Conn
	vsn    string
	frames chan msg
	done   chan struct{} // read loop ended
	quit   chan struct{}
	err    error // read error, valid after done
	ref    int
	joins  map[string]string // topic → join_ref
}

func dial(t testing.TB, ts *tserver, vsn string) *client {
	t.Helper()
	c, resp, err := dialErr(ts.wsURL(vsn, nil))
	if err != nil {
		t.Fatalf("dial: %v (resp %v)", err, resp)
	}
	return newClient(t, c, vsn)
}

func dialErr(u string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return websocket.DefaultDialer.DialContext(ctx, u, nil)
}

func newClient(t testing.TB, ws *websocket.Conn, vsn string) *client {
	c := &client{t: t, ws: ws, vsn: vsn, frames: make(chan msg, 4096), done: make(chan struct{}), quit: make(chan struct{}), joins: map[string]string{}}
	go c.readLoop()
	t.Cleanup(func() { close(c.quit); _ = ws.Close() })
	return c
}

func (c *client) readLoop() {
	defer close(c.done)
	for {
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		m, err := parse(c.vsn, kind, data)
		if err != nil {
			c.err = fmt.Errorf("unparseable server frame %q: %w", data, err)
			return
		}
		select {
		case c.frames <- m:
		case <-c.quit:
			return
		}
	}
}

func parse(vsn string, kind int, data []byte) (msg, error) {
	m := msg{Raw: data}
	if kind == websocket.BinaryMessage {
		m.Binary = true
		if len(data) < 5 || data[0] != 4 {
			return m, fmt.Errorf("server sent binary kind other than 4 or short frame")
		}
		tl, el, ml := int(data[1]), int(data[2]), int(data[3])
		m.Enc = data[4]
		rest := data[5:]
		if len(rest) < tl+el+ml {
			return m, fmt.Errorf("kind-4 lengths exceed frame")
		}
		m.Topic, m.UserEvent, m.Meta, m.UserPayload = string(rest[:tl]), string(rest[tl:tl+el]), rest[tl+el:tl+el+ml], rest[tl+el+ml:]
		m.Event = "broadcast"
		return m, nil
	}
	if vsn == "2.0.0" {
		var parts []json.RawMessage
		if err := json.Unmarshal(data, &parts); err != nil {
			return m, err
		}
		if len(parts) != 5 {
			return m, fmt.Errorf("array of %d", len(parts))
		}
		var err error
		if m.JoinRef, err = nullStr(parts[0]); err != nil {
			return m, err
		}
		if m.Ref, err = nullStr(parts[1]); err != nil {
			return m, err
		}
		if err := json.Unmarshal(parts[2], &m.Topic); err != nil {
			return m, err
		}
		if err := json.Unmarshal(parts[3], &m.Event); err != nil {
			return m, err
		}
		m.Payload = parts[4]
		return m, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return m, fmt.Errorf("v1 frame must be an object: %w", err)
	}
	for _, k := range []string{"topic", "event", "payload", "ref"} {
		if _, ok := obj[k]; !ok {
			return m, fmt.Errorf("v1 frame without %q", k)
		}
	}
	for k := range obj {
		m.Keys = append(m.Keys, k)
	}
	var err error
	if m.Ref, err = nullStr(obj["ref"]); err != nil {
		return m, err
	}
	if jr, ok := obj["join_ref"]; ok {
		if m.JoinRef, err = nullStr(jr); err != nil {
			return m, err
		}
	}
	if err := json.Unmarshal(obj["topic"], &m.Topic); err != nil {
		return m, err
	}
	if err := json.Unmarshal(obj["event"], &m.Event); err != nil {
		return m, err
	}
	m.Payload = obj["payload"]
	return m, nil
}

func nullStr(raw json.RawMessage) (*string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("ref %s is not a string or null", raw)
	}
	return &s, nil
}

func (c *client) nextRef() string {
	c.ref++
	return strconv.Itoa(c.ref)
}

func (c *client) sendText(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) sendBinary(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// frame builds a text frame in the client's vsn; empty refs are null.
func (c *client) frame(joinRef, ref, topic, event, payload string) string {
	q := func(s string) string {
		if s == "" {
			return "null"
		}
		b, _ := json.Marshal(s)
		return string(b)
	}
	t, _ := json.Marshal(topic)
	e, _ := json.Marshal(event)
	if c.vsn == "2.0.0" {
		return fmt.Sprintf("[%s,%s,%s,%s,%s]", q(joinRef), q(ref), t, e, payload)
	}
	s := fmt.Sprintf(`{"topic":%s,"event":%s,"payload":%s,"ref":%s`, t, e, payload, q(ref))
	if joinRef != "" {
		s += `,"join_ref":` + q(joinRef)
	}
	return s + "}"
}

// push sends event on topic with the topic's join_ref and a fresh ref.
func (c *client) push(topic, event, payload string) string {
	c.t.Helper()
	ref := c.nextRef()
	c.sendText(c.frame(c.joins[topic], ref, topic, event, payload))
	return ref
}

// kind3 builds a client broadcast push frame.
func kind3(joinRef, ref, topic, event string, meta []byte, enc byte, payload []byte) []byte {
	b := []byte{3, byte(len(joinRef)), byte(len(ref)), byte(len(topic)), byte(len(event)), byte(len(meta)), enc}
	b = append(b, joinRef...)
	b = append(b, ref...)
	b = append(b, topic...)
	b = append(b, event...)
	b = append(b, meta...)
	return append(b, payload...)
}

// next returns the next frame or fails.
func (c *client) next() msg {
	c.t.Helper()
	select {
	case m := <-c.frames:
		return m
	case <-c.done:
		select {
		case m := <-c.frames:
			return m
		default:
		}
		c.t.Fatalf("connection ended while waiting for a frame: %v", c.err)
	case <-time.After(wait):
		c.t.Fatalf("no frame within %v", wait)
	}
	return msg{}
}

// waitFor skips frames until one matches.
func (c *client) waitFor(what string, pred func(msg) bool) msg {
	c.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case m := <-c.frames:
			if pred(m) {
				return m
			}
		case <-c.done:
			c.t.Fatalf("connection ended while waiting for %s: %v", what, c.err)
		case <-deadline:
			c.t.Fatalf("no %s within %v", what, wait)
		}
	}
}

func isReply(ref string) func(msg) bool {
	return func(m msg) bool { return m.Event == "phx_reply" && m.Ref != nil && *m.Ref == ref }
}

// reply waits for the reply to ref and returns status and response.
func (c *client) reply(ref string) (string, json.RawMessage) {
	c.t.Helper()
	m := c.waitFor("reply to ref "+ref, isReply(ref))
	var p struct {
		Status   string          `json:"status"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		c.t.Fatalf("reply payload %s: %v", m.Payload, err)
	}
	return p.Status, p.Response
}

// sync sends a heartbeat and returns every frame that arrived before its
// reply. The server handles one connection's frames in order and fans out
// synchronously, so anything caused by earlier frames is in the result.
func (c *client) sync() []msg {
	c.t.Helper()
	ref := c.nextRef()
	c.sendText(c.frame("", ref, "phoenix", "heartbeat", "{}"))
	var got []msg
	deadline := time.After(wait)
	for {
		select {
		case m := <-c.frames:
			if m.Topic == "phoenix" && isReply(ref)(m) {
				return got
			}
			got = append(got, m)
		case <-c.done:
			c.t.Fatalf("connection ended during sync: %v", c.err)
		case <-deadline:
			c.t.Fatalf("no heartbeat reply within %v", wait)
		}
	}
}

// join joins topic with config (JSON) and returns the reply's response;
// it fails unless the reply is ok and presence_state follows.
func (c *client) join(topic, config string) json.RawMessage {
	c.t.Helper()
	ref := c.nextRef()
	c.sendText(c.frame(ref, ref, topic, "phx_join", `{"config":`+config+`}`))
	st, resp := c.reply(ref)
	if st != "ok" {
		c.t.Fatalf("join %s: %s %s", topic, st, resp)
	}
	c.joins[topic] = ref
	ps := c.waitFor("presence_state", func(m msg) bool { return m.Event == "presence_state" && m.Topic == topic })
	if sp(ps.JoinRef) != ref && c.vsn == "2.0.0" {
		c.t.Fatalf("presence_state join_ref %s, want %s", sp(ps.JoinRef), ref)
	}
	return resp
}

// closedWith waits for the connection to end and returns the close code
// (-1 if it ended without a close frame).
func (c *client) closedWith() int {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(wait):
		c.t.Fatalf("connection still open after %v", wait)
	}
	var ce *websocket.CloseError
	if e, ok := c.err.(*websocket.CloseError); ok {
		ce = e
		return ce.Code
	}
	return -1
}

// broadcasts returns the broadcast events (user event names) among ms.
func broadcasts(ms []msg) []string {
	var out []string
	for _, m := range ms {
		if m.Event != "broadcast" {
			continue
		}
		if m.Binary {
			out = append(out, m.UserEvent)
			continue
		}
		var p struct {
			Event string `json:"event"`
		}
		_ = json.Unmarshal(m.Payload, &p)
		out = append(out, p.Event)
	}
	return out
}

// expectBroadcast waits for a broadcast with user event ev and returns it.
func (c *client) expectBroadcast(ev string) msg {
	c.t.Helper()
	return c.waitFor("broadcast "+ev, func(m msg) bool {
		b := broadcasts([]msg{m})
		return len(b) == 1 && b[0] == ev
	})
}

const cfgPlain = `{"broadcast":{"self":false,"ack":false},"presence":{"key":"","enabled":false},"postgres_changes":[],"private":false}`

func cfgWith(self, ack bool, key string) string {
	return fmt.Sprintf(`{"broadcast":{"self":%t,"ack":%t},"presence":{"key":%q,"enabled":true},"postgres_changes":[],"private":false}`, self, ack, key)
}

// bcast is a text broadcast payload.
func bcast(event, payload string) string {
	return fmt.Sprintf(`{"type":"broadcast","event":%q,"payload":%s}`, event, payload)
}

// stillWorks checks that a fresh pair of clients in topic can exchange a
// broadcast: the server is alive and the room is intact.
func stillWorks(t *testing.T, ts *tserver, topic string) {
	t.Helper()
	a, b := dial(t, ts, "2.0.0"), dial(t, ts, "1.0.0")
	a.join(topic, cfgPlain)
	b.join(topic, cfgPlain)
	a.push(topic, "broadcast", bcast("alive", `{"ok":true}`))
	b.expectBroadcast("alive")
}

func mustJSON(t testing.TB, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("bad JSON %q: %v", raw, err)
	}
	return v
}
