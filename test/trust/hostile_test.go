// Package trust runs a real watch party (embedded server with sign-in,
// real headless mpv) with a hostile member in it: a raw WebSocket client
// with a valid token that tries to take the room over.
package trust

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/internal/testmedia"
	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/roomrest"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
)

var media string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trust-media")
	if err != nil {
		panic(err)
	}
	if _, err := exec.LookPath("mpv"); err == nil {
		if media, err = testmedia.Make(dir, testmedia.Default); err != nil {
			fmt.Fprintln(os.Stderr, "making test media:", err)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needMPV(t *testing.T) {
	t.Helper()
	if media != "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("mpv and ffmpeg are required in CI")
	}
	t.Skip("mpv or ffmpeg not installed")
}

type user struct {
	ID, Token string
}

func signUp(t *testing.T, base, name string) user {
	t.Helper()
	resp, err := http.Post(base+"/auth/v1/signup", "application/json", strings.NewReader(`{"data":{"name":"`+name+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Access string `json:"access_token"`
		User   struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Access == "" {
		t.Fatalf("signup: %d %v", resp.StatusCode, err)
	}
	return user{ID: out.User.ID, Token: out.Access}
}

func startServer(t *testing.T) (string, *store.Store) {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith runs the embedded server, adjusting its config first.
func startServerWith(t *testing.T, adjust func(*server.Config)) (string, *store.Store) {
	t.Helper()
	st, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.New(auth.Config{Store: st, Secret: []byte("trust-e2e-secret-0123456789abcdef-x"), SignUpsPerHour: -1})
	cfg := server.Config{Store: st, Auth: svc, HostGrace: 500 * time.Millisecond}
	if adjust != nil {
		adjust(&cfg)
	}
	srv := server.New(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
		st.Close()
	})
	return hs.URL, st
}

type peer struct {
	mpv  *player.MPV
	room *room.Room
	ch   *realtime.Client

	mu      sync.Mutex
	closed  bool // the server closed our room channel (kicked)
	notices []string
	// leave stops the member's room and closes its socket (idempotent).
	leave func()
}

// noticed reports whether a notice containing text was shown.
func (p *peer) noticed(text string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.notices {
		if strings.Contains(n, text) {
			return true
		}
	}
	return false
}

func (p *peer) cutOff() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func joinRoom(t *testing.T, base, roomID string, u user, name string, wantHost bool) *peer {
	return joinAs(t, base, roomID, u, name, wantHost, false)
}

func joinPrivate(t *testing.T, base, roomID string, u user, name string, wantHost bool) *peer {
	return joinAs(t, base, roomID, u, name, wantHost, true)
}

func joinAs(t *testing.T, base, roomID string, u user, name string, wantHost, private bool, adjust ...func(*room.Config)) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := player.Launch(ctx, media, player.Options{Headless: true, StartPaused: true})
	if err != nil {
		t.Fatalf("launch mpv: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	c, err := realtime.NewClient(base, realtime.Options{AccessToken: u.Token, Heartbeat: 2 * time.Second, Backoff: []time.Duration{100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	rc, err := rest.New(base, "")
	if err != nil {
		t.Fatal(err)
	}
	rc = rc.WithAccessToken(func() string { return u.Token })
	cfg := room.Config{
		RoomID: roomID, UserID: u.ID, Username: name, WantHost: wantHost, HostGrace: 500 * time.Millisecond,
		Store: roomrest.Store{C: rc}, Admin: roomrest.Admin{C: rc}, Private: private, Logger: debugLogger(name),
	}
	for _, a := range adjust {
		a(&cfg)
	}
	r, err := room.Join(ctx, c, cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{mpv: m, room: r, ch: c}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(runCtx); close(done) }()
	go func() {
		for ev := range r.Events() {
			if n, ok := ev.(room.Notice); ok {
				p.mu.Lock()
				p.notices = append(p.notices, n.Text)
				// The server's word as it closes the channel (the room's own
				// notice of a member_removed says who removed us).
				p.closed = p.closed || strings.Contains(n.Text, "the server: You were removed from this room")
				p.mu.Unlock()
			}
		}
	}()
	p.leave = sync.OnceFunc(func() { stop(); <-done; _ = c.Close() })
	t.Cleanup(p.leave)
	return p
}

// debugLogger logs a member's room at debug level when TRUST_DEBUG is set.
func debugLogger(name string) *slog.Logger {
	if os.Getenv("TRUST_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("peer", name)
}

func (p *peer) hostID(t *testing.T) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := p.room.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s.HostID
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
}

// raw is the hostile member: a bare Phoenix client with a valid token.
type raw struct {
	t       *testing.T
	ws      *websocket.Conn
	topic   string
	mu      sync.Mutex
	ref     int
	replies map[string]chan map[string]any
	seen    []map[string]any // broadcasts received: the host's included
}

func dialRaw(t *testing.T, base, topic, token string) *raw {
	t.Helper()
	u, _ := url.Parse(base)
	u.Scheme, u.Path, u.RawQuery = "ws", "/realtime/v1/websocket", "vsn=1.0.0"
	ws, _, err := websocket.DefaultDialer.Dial(u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &raw{t: t, ws: ws, topic: topic, replies: map[string]chan map[string]any{}}
	go r.read()
	t.Cleanup(func() { ws.Close() })
	if st, resp := r.call("phx_join", map[string]any{"config": map[string]any{"broadcast": map[string]any{"self": false, "ack": true}, "presence": map[string]any{"key": ""}}, "access_token": token}); st != "ok" {
		t.Fatalf("hostile join: %s %v", st, resp)
	}
	return r
}

func (r *raw) read() {
	for {
		_, data, err := r.ws.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			Ref     *string        `json:"ref"`
			Event   string         `json:"event"`
			Payload map[string]any `json:"payload"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		r.mu.Lock()
		if m.Event == "phx_reply" && m.Ref != nil {
			if ch := r.replies[*m.Ref]; ch != nil {
				ch <- m.Payload
			}
		}
		if m.Event == "broadcast" {
			r.seen = append(r.seen, m.Payload)
		}
		r.mu.Unlock()
	}
}

// call pushes event and waits for its reply.
func (r *raw) call(event string, payload any) (string, any) {
	r.t.Helper()
	r.mu.Lock()
	r.ref++
	ref := fmt.Sprint(r.ref)
	ch := make(chan map[string]any, 1)
	r.replies[ref] = ch
	r.mu.Unlock()
	frame, _ := json.Marshal(map[string]any{"topic": r.topic, "event": event, "payload": payload, "ref": ref, "join_ref": "1"})
	if err := r.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		r.t.Fatal(err)
	}
	select {
	case p := <-ch:
		return fmt.Sprint(p["status"]), p["response"]
	case <-time.After(5 * time.Second):
		r.t.Fatalf("no reply to %s", event)
	}
	return "", nil
}

// lastFromHost is the newest host broadcast of one of events the hostile
// client has seen.
func (r *raw) lastFromHost(events ...string) (string, map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.seen) - 1; i >= 0; i-- {
		ev, _ := r.seen[i]["event"].(string)
		for _, want := range events {
			if ev == want {
				p, _ := r.seen[i]["payload"].(map[string]any)
				return ev, p
			}
		}
	}
	return "", nil
}

func httpDo(t *testing.T, method, u, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// A member who is not the host tries every way to take the room over: it
// replays the host's broadcasts as a pause with a higher seq, sends
// new_host naming itself, and posts and patches as the host over REST. The
// follower's mpv keeps playing with the host, and nothing is stored under
// the host's name.
func TestHostileMemberCannotTakeTheRoomOver(t *testing.T) {
	needMPV(t)
	base, st := startServer(t)
	const roomID = "trust"
	topic := "realtime:room:" + roomID
	ana, bob, eve := signUp(t, base, "ana"), signUp(t, base, "bob"), signUp(t, base, "eve")
	host := joinRoom(t, base, roomID, ana, "ana", true)
	eventually(t, 10*time.Second, "ana hosts", func() bool { return host.hostID(t) == ana.ID })
	follower := joinRoom(t, base, roomID, bob, "bob", false)
	eventually(t, 10*time.Second, "bob follows ana", func() bool { return follower.hostID(t) == ana.ID })
	hostile := dialRaw(t, base, topic, eve.Token)

	ctx := context.Background()
	if err := host.room.Play(ctx); err != nil {
		t.Fatal(err)
	}
	offset := func() float64 {
		now := time.Now()
		return follower.mpv.State().PositionAt(now) - host.mpv.State().PositionAt(now)
	}
	eventually(t, 15*time.Second, "bob playing in step with ana", func() bool {
		return !follower.mpv.State().Paused && math.Abs(offset()) < 0.1
	})
	eventually(t, 10*time.Second, "eve to have seen a host anchor", func() bool { ev, _ := hostile.lastFromHost("sync", "play"); return ev != "" })

	// Presence: eve tracks herself as ana, hosting since the epoch.
	if st, resp := hostile.call("presence", map[string]any{"type": "presence", "event": "track", "payload": map[string]any{
		"user_id": ana.ID, "username": "ana", "is_host": true, "host_since": 0, "joined_at": 0,
		"media": map[string]any{"filename": "movie.mkv"}, "current_time": 5, "is_playing": false,
	}}); st != "ok" {
		t.Fatalf("eve's track: %s %v", st, resp)
	}

	// The attack, repeated for two seconds while we watch bob's mpv.
	refused := map[string]int{}
	var offsets []float64
	var pausedSeen bool
	attackEnd := time.Now().Add(2 * time.Second)
	for i := 1; time.Now().Before(attackEnd); i++ {
		_, p := hostile.lastFromHost("sync", "play")
		forged := map[string]any{}
		for k, v := range p {
			forged[k] = v
		}
		seq, _ := forged["seq"].(float64)
		forged["seq"], forged["current_time"], forged["user_id"], forged["is_playing"] = seq+1000*float64(i), 5.0, ana.ID, false
		inner, _ := json.Marshal(forged)
		forged["payload"], forged["type"] = json.RawMessage(inner), "pause"
		for _, ev := range []string{"pause", "sync", "seek"} {
			if st, _ := hostile.call("broadcast", map[string]any{"type": "broadcast", "event": ev, "payload": forged}); st == "error" {
				refused[ev]++
			}
		}
		claim := map[string]any{"type": "new_host", "user_id": eve.ID, "username": "eve", "room_id": roomID, "timestamp": time.Now().UnixMilli(),
			"payload": map[string]any{"user_id": eve.ID, "username": "eve"}}
		if st, _ := hostile.call("broadcast", map[string]any{"type": "broadcast", "event": "new_host", "payload": claim}); st == "error" {
			refused["new_host"]++
		}
		offsets = append(offsets, math.Abs(offset()))
		pausedSeen = pausedSeen || follower.mpv.State().Paused
		time.Sleep(100 * time.Millisecond) // pacing the attack, not waiting for a condition
	}
	t.Logf("refused over 2 s: %v", refused)
	for _, ev := range []string{"pause", "sync", "seek", "new_host"} {
		if refused[ev] == 0 {
			t.Errorf("the server never refused eve's %s", ev)
		}
	}
	if pausedSeen {
		t.Errorf("bob's mpv paused during the attack")
	}
	sort.Float64s(offsets)
	t.Logf("|bob − ana| during the attack: p50 %.1f ms, max %.1f ms (%d samples)", offsets[len(offsets)/2]*1000, offsets[len(offsets)-1]*1000, len(offsets))
	if offsets[len(offsets)-1] > 0.5 {
		t.Errorf("bob drifted %.3f s from ana during the attack", offsets[len(offsets)-1])
	}
	if h := follower.hostID(t); h != ana.ID {
		t.Errorf("bob follows %q, want ana", h)
	}
	if h := host.hostID(t); h != ana.ID {
		t.Errorf("ana yielded the role to %q", h)
	}
	snap, err := follower.room.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Names may repeat (eve may call herself ana); ids may not.
	anas := 0
	for _, m := range snap.Members {
		if m.UserID == ana.ID {
			anas++
			if !m.IsHost || m.JoinedAt.Unix() == 0 {
				t.Errorf("ana's entry was replaced by eve's presence: %+v", m)
			}
		}
		if m.UserID == eve.ID && m.IsHost {
			t.Errorf("eve's presence claims the host role in bob's view")
		}
	}
	if anas != 1 {
		t.Errorf("%d members with ana's id in bob's view", anas)
	}

	// REST and the host-control function, in ana's name.
	cases := []struct{ name, method, path, body string }{
		{"comment as ana", "POST", "/rest/v1/comments", `{"room_id":"trust","user_id":"` + ana.ID + `","username":"ana","content":"i quit, eve hosts now"}`},
		{"patch the room", "PATCH", "/rest/v1/rooms?room_id=eq.trust", `{"host_user_id":"` + eve.ID + `","is_playing":false}`},
		{"upsert the room", "POST", "/rest/v1/rooms", `{"room_id":"trust","host_user_id":"` + eve.ID + `"}`},
		{"membership as ana", "POST", "/rest/v1/room_members", `{"room_id":"trust","user_id":"` + ana.ID + `","username":"eve"}`},
		{"sync/control as ana", "POST", "/functions/v1/sync/control", `{"room_id":"trust","user_id":"` + ana.ID + `","action":"pause","current_time":5}`},
		{"sync/control as eve", "POST", "/functions/v1/sync/control", `{"room_id":"trust","user_id":"` + eve.ID + `","action":"pause","current_time":5}`},
		{"HTTP broadcast", "POST", "/api/broadcast", `{"messages":[{"topic":"room:trust","event":"pause","payload":{"current_time":5,"user_id":"` + ana.ID + `"}}]}`},
	}
	for _, c := range cases {
		if status, body := httpDo(t, c.method, base+c.path, eve.Token, c.body); status != 403 {
			t.Errorf("eve's %s: HTTP %d %s, want 403", c.name, status, body)
		}
	}
	if follower.mpv.State().Paused {
		t.Errorf("bob's mpv paused after the REST attack")
	}
	rows, err := st.Select(ctx, "comments", store.Query{Filters: []store.Filter{{Column: "user_id", Op: "eq", Values: []any{ana.ID}}}})
	if err != nil || len(rows) != 0 {
		t.Errorf("comments stored under ana's name: %v %v", rows, err)
	}
	rooms, err := st.Select(ctx, "rooms", store.Query{Filters: []store.Filter{{Column: "room_id", Op: "eq", Values: []any{roomID}}}})
	if err != nil || len(rooms) != 1 || rooms[0]["host_user_id"] != ana.ID {
		t.Errorf("stored room: %v %v, want hosted by ana", rooms, err)
	}
	// The real host still steers: pause reaches bob.
	if err := host.room.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bob paused by ana", func() bool { return follower.mpv.State().Paused })
}
