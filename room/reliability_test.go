package room

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
)

// recorder collects a room's events for assertions.
type recorder struct {
	mu  sync.Mutex
	evs []any
}

func (rc *recorder) add(v any) { rc.mu.Lock(); rc.evs = append(rc.evs, v); rc.mu.Unlock() }

func (rc *recorder) notices() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, v := range rc.evs {
		if n, ok := v.(Notice); ok {
			out = append(out, n.Text)
		}
	}
	return out
}

func (rc *recorder) chats() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, v := range rc.evs {
		if c, ok := v.(ChatReceived); ok {
			out = append(out, c.Comment.Content)
		}
	}
	return out
}

func (rc *recorder) received(typ string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, v := range rc.evs {
		if e, ok := v.(EventReceived); ok && e.Envelope.Type == typ {
			n++
		}
	}
	return n
}

func (rc *recorder) conns() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, v := range rc.evs {
		if c, ok := v.(ConnectionChanged); ok {
			out = append(out, c.State)
		}
	}
	return out
}

// recordedMember runs a room on the fake bus and records its events.
func recordedMember(t *testing.T, bus *fakeBus, cfg Config, p Player) (*Room, *recorder, func()) {
	t.Helper()
	ch := bus.channel(cfg.UserID)
	r := New(cfg, ch, p)
	bus.mu.Lock()
	ch.room = r
	bus.mu.Unlock()
	rc := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	go func() {
		for ev := range r.Events() {
			rc.add(ev)
		}
	}()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	return r, rc, stop
}

func memberOf(t *testing.T, r *Room, id string) (Member, bool) {
	t.Helper()
	snap, err := r.Snapshot(context.Background())
	if err != nil {
		return Member{}, false
	}
	for _, m := range snap.Members {
		if m.UserID == id {
			return m, true
		}
	}
	return Member{}, false
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// Defect 3 (the room's side): a member whose heartbeats stop (a dead link,
// a stopped process) is shown as not responding and out of sync, without
// waiting for the server to drop it; it recovers when heartbeats resume.
func TestSilentMemberIsShownNotResponding(t *testing.T) {
	bus := newFakeBus()
	cfg := func(id string, host bool) Config {
		c := fastConfig(id, host)
		c.HeartbeatEvery, c.SilentAfter = 50*time.Millisecond, 400*time.Millisecond
		return c
	}
	alice, arec, _ := recordedMember(t, bus, cfg("alice", true), newFakePlayer())
	_, _, stopBob := recordedMember(t, bus, cfg("bob", false), newFakePlayer())
	heard := func() bool {
		n := 0
		_ = alice.do(context.Background(), func() error {
			if mi := alice.s.members["bob"]; mi != nil {
				n = mi.beats
			}
			return nil
		})
		return n > 0
	}
	waitCond(t, "alice hears bob's heartbeats", heard)
	stopBob() // bob's process stops; its presence stays on the server
	waitCond(t, "bob shown not responding", func() bool {
		m, ok := memberOf(t, alice, "bob")
		return ok && m.NotResponding && !m.InSync && m.Online
	})
	// The notice travels through the event queue, behind the snapshot.
	waitCond(t, "alice is told bob is not responding", func() bool { return contains(arec.notices(), "bob is not responding") })
}

// Defect 5: a follower whose mpv died reports no player, not playing and
// not in sync, and its position stops.
func TestDeadMPVIsNeverInSync(t *testing.T) {
	bus := newFakeBus()
	cfg := func(id string, host bool) Config {
		c := fastConfig(id, host)
		c.HeartbeatEvery = 50 * time.Millisecond
		return c
	}
	hp, fp := newFakePlayer(), newFakePlayer()
	hp.set(func(st *player.State) { *st = stateAt(10, false) })
	fp.set(func(st *player.State) { *st = stateAt(10, false) })
	alice, _, _ := recordedMember(t, bus, cfg("alice", true), hp)
	bob, _, _ := recordedMember(t, bus, cfg("bob", false), fp)
	waitCond(t, "bob follows alice", func() bool { m, ok := memberOf(t, alice, "bob"); return ok && m.InSync && m.Playing })

	close(fp.events) // mpv died
	waitCond(t, "alice sees bob's mpv gone", func() bool {
		m, ok := memberOf(t, alice, "bob")
		return ok && !m.InSync && !m.Playing && m.PlayerState == "gone"
	})
	self, _ := memberOf(t, bob, "bob")
	time.Sleep(100 * time.Millisecond) // positions would move by 0.1 s if the dead clock ran
	later, _ := memberOf(t, bob, "bob")
	if self.InSync || self.Playing || self.PlayerState != "gone" || later.Position != self.Position {
		t.Fatalf("bob about himself: %+v then %+v", self, later)
	}
	var meta presenceMeta
	bus.mu.Lock()
	_ = json.Unmarshal(bus.presence["bob"], &meta)
	bus.mu.Unlock()
	if meta.InSync || meta.IsPlaying || meta.PlayerState != "gone" {
		t.Fatalf("bob's presence after mpv died: %+v", meta)
	}
}

// Defect 4: presence follows reality (playing, position, in sync) without
// waiting for a join, detach or host change.
func TestPresenceIsRetrackedWhenItStopsBeingTrue(t *testing.T) {
	bus := newFakeBus()
	cfg := func(id string, host bool) Config {
		c := fastConfig(id, host)
		c.HeartbeatEvery = 50 * time.Millisecond
		return c
	}
	hp, fp := newFakePlayer(), newFakePlayer()
	hp.set(func(st *player.State) { *st = stateAt(0, true) })
	fp.set(func(st *player.State) { *st = stateAt(0, true) })
	recordedMember(t, bus, cfg("alice", true), hp)
	recordedMember(t, bus, cfg("bob", false), fp)
	meta := func() presenceMeta {
		var m presenceMeta
		bus.mu.Lock()
		_ = json.Unmarshal(bus.presence["bob"], &m)
		bus.mu.Unlock()
		return m
	}
	waitCond(t, "bob tracked", func() bool { return meta().UserID == "bob" })
	// The host starts at 20 s; bob follows; his presence must say so.
	hp.set(func(st *player.State) { *st = stateAt(20, false) })
	hp.events <- playerEvent(player.EventUnpaused, 20)
	waitCond(t, "bob's presence says playing near 20 s, in sync", func() bool {
		m := meta()
		return m.IsPlaying && m.InSync && m.CurrentTime >= 19 && m.PlayerState == "ok"
	})
}

// Defect 7: the host's broadcast and the server's sync/control copy of the
// same play are one event for followers (and their headless output).
func TestPlayAndItsServerCopyShowOnce(t *testing.T) {
	bus := newFakeBus()
	_, rec, _ := recordedMember(t, bus, fastConfig("bob", false), newFakePlayer())
	p := playback("alice", 5, "ep1", 1)
	env := func(typ string) Envelope { e, _ := NewEnvelope(typ, "r", p, time.Now()); return e }
	bus.inject(TypePlay, env(TypePlay)) // the host's broadcast
	bus.inject(TypePlay, env(TypePlay)) // the server's copy
	p.Seq = 2
	bus.inject(TypePause, env(TypePause))
	waitCond(t, "events arrived", func() bool { return rec.received(TypePause) == 1 })
	time.Sleep(50 * time.Millisecond) // a second copy would be queued behind
	if n := rec.received(TypePlay); n != 1 {
		t.Fatalf("play shown %d times", n)
	}
}

// flakyStore refuses Control while down, as a server being restarted does.
type flakyStore struct {
	mu       sync.Mutex
	down     bool
	records  []string
	comments []string
}

func (s *flakyStore) History(context.Context, string, int) ([]Comment, error) { return nil, nil }
func (s *flakyStore) AddComment(_ context.Context, c Comment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return io.EOF
	}
	s.comments = append(s.comments, c.Content)
	return nil
}
func (s *flakyStore) RoomState(context.Context, string) (RoomState, bool, error) {
	return RoomState{}, false, nil
}
func (s *flakyStore) Enter(context.Context, string, MemberPayload) error { return nil }
func (s *flakyStore) Leave(context.Context, string, string) error        { return nil }
func (s *flakyStore) Control(_ context.Context, _, action string, p PlaybackPayload) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return io.EOF
	}
	s.records = append(s.records, action)
	return nil
}

// Defect 8: a host action taken while the server is away is recorded once
// it is back, and the latest action wins.
func TestHostActionDuringOutageIsRecordedWhenServerIsBack(t *testing.T) {
	bus := newFakeBus()
	st := &flakyStore{down: true}
	cfg := fastConfig("alice", true)
	cfg.Store = st
	hp := newFakePlayer()
	hp.set(func(s *player.State) { *s = stateAt(0, true) })
	alice, _, _ := recordedMember(t, bus, cfg, hp)
	waitCond(t, "alice hosts", func() bool { s, _ := alice.Snapshot(context.Background()); return s.HostID == "alice" })
	hp.set(func(s *player.State) { *s = stateAt(3, false) })
	hp.events <- playerEvent(player.EventUnpaused, 3)
	hp.set(func(s *player.State) { *s = stateAt(19, true) })
	hp.events <- playerEvent(eventPaused, 19)
	time.Sleep(300 * time.Millisecond) // a few failed attempts
	st.mu.Lock()
	st.down = false
	st.mu.Unlock()
	waitCond(t, "the pause is recorded", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.records) > 0 && st.records[len(st.records)-1] == TypePause
	})
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.records) != 1 {
		t.Fatalf("recorded %q; want only the latest action", st.records)
	}
}

// Minor: with a chat-only member first in the room and nobody claiming,
// the earliest member with a player hosts; and the first member into an
// empty room is not told that "the host left".
func TestElectionPicksEarliestMemberWithAPlayer(t *testing.T) {
	bus := newFakeBus()
	chat, crec, _ := recordedMember(t, bus, fastConfig("carol", false), nil)
	waitCond(t, "carol settled", func() bool { s, _ := chat.Snapshot(context.Background()); return len(s.Members) == 1 })
	time.Sleep(20 * time.Millisecond)
	bob, brec, _ := recordedMember(t, bus, fastConfig("bob", false), newFakePlayer())
	waitCond(t, "bob hosts", func() bool {
		a, _ := chat.Snapshot(context.Background())
		b, _ := bob.Snapshot(context.Background())
		return a.HostID == "bob" && b.HostID == "bob"
	})
	for _, n := range append(crec.notices(), brec.notices()...) {
		if strings.Contains(n, "the host left") {
			t.Fatalf("notice %q with nobody having left", n)
		}
	}
}

// storeServer is the embedded server with a SQLite store in a file, on a
// fixed loopback port, so it can be restarted keeping its data.
type storeServer struct {
	addr, path string
	stop       func() error
	st         *store.Store
}

func (s *storeServer) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // the port is released asynchronously
	}
	s.addr = ln.Addr().String()
	if s.st, err = store.Open(s.path); err != nil {
		t.Fatal(err)
	}
	stop := server.New(server.Config{Store: s.st}).Start(ln)
	s.stop = func() error { err := stop(); _ = s.st.Close(); return err }
}

func storeMember(t *testing.T, url string, cfg Config, backoff time.Duration) (*Room, *recorder) {
	t.Helper()
	c, err := realtime.NewClient(url, realtime.Options{Backoff: []time.Duration{backoff}, Jitter: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.Store = restStore(url)
	r, err := Join(ctx, c, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(runCtx); close(done) }()
	go func() {
		for ev := range r.Events() {
			rec.add(ev)
		}
	}()
	t.Cleanup(func() { stop(); <-done; c.Close() })
	return r, rec
}

// Defect 2 and 6: chat acknowledged while a member is reconnecting after a
// server restart reaches it once it is back, once each and in order; the
// restart produces connection events but no false "left"/"is back".
func TestChatMissedWhileReconnectingIsCaughtUp(t *testing.T) {
	s := &storeServer{addr: "127.0.0.1:0", path: filepath.Join(t.TempDir(), "w.db")}
	s.start(t)
	defer func() { _ = s.stop() }()
	url := "http://" + s.addr
	ana, arec := storeMember(t, url, fastConfig("ana", false), 50*time.Millisecond)
	// bob comes back much later than ana after the restart.
	_, brec := storeMember(t, url, fastConfig("bob", false), 1500*time.Millisecond)
	ctx := context.Background()
	if err := ana.Say(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "bob has the first message", func() bool { return len(brec.chats()) == 1 })

	_ = s.stop()
	s.start(t)
	var sent []string
	waitCond(t, "ana is back", func() bool {
		snap, _ := ana.Snapshot(ctx)
		return snap.Conn.State == "open"
	})
	for i := range 5 {
		msg := "while bob was away " + string(rune('a'+i))
		// Say returns once the server stored it; retry while the
		// channel is still rejoining.
		for deadline := time.Now().Add(5 * time.Second); ; {
			err := ana.Say(ctx, msg)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		sent = append(sent, msg)
	}
	want := append([]string{"before"}, sent...)
	deadline := time.Now().Add(10 * time.Second)
	for len(brec.chats()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // any duplicate would be right behind
	if got := brec.chats(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("bob's chat after the restart:\n got %q\nwant %q", got, want)
	}
	for _, rec := range []*recorder{arec, brec} {
		for _, n := range rec.notices() {
			if strings.Contains(n, " left") || strings.Contains(n, "is back") {
				t.Fatalf("false notice after a restart: %q (all: %q)", n, rec.notices())
			}
		}
		if c := strings.Join(rec.conns(), ","); !strings.Contains(c, "reconnecting") || !strings.HasSuffix(c, "open") {
			t.Fatalf("connection events %q", c)
		}
	}
}

// Chat typed while the server cannot be reached waits and goes out in
// order once it is back, shown once.
func TestChatTypedWhileServerIsDownGoesOutInOrder(t *testing.T) {
	bus := newFakeBus()
	st := &flakyStore{down: true}
	cfg := fastConfig("ana", false)
	cfg.Store = st
	ana, rec, _ := recordedMember(t, bus, cfg, nil)
	ctx := context.Background()
	for _, m := range []string{"one", "two", "three"} {
		if err := ana.Say(ctx, m); err != nil {
			t.Fatalf("say %q while down: %v", m, err)
		}
	}
	time.Sleep(300 * time.Millisecond) // a few failed attempts
	st.mu.Lock()
	st.down = false
	st.mu.Unlock()
	waitCond(t, "all three shown", func() bool { return len(rec.chats()) == 3 })
	st.mu.Lock()
	stored := strings.Join(st.comments, ",")
	st.mu.Unlock()
	if got := strings.Join(rec.chats(), ","); got != "one,two,three" || stored != "one,two,three" {
		t.Fatalf("shown %q, stored %q", got, stored)
	}
}

// While our own channel is down we hear nobody; that is no reason to call
// the others "not responding".
func TestOwnOutageDoesNotMakeOthersNotResponding(t *testing.T) {
	bus := newFakeBus()
	cfg := func(id string, host bool) Config {
		c := fastConfig(id, host)
		c.HeartbeatEvery, c.SilentAfter = 50*time.Millisecond, 300*time.Millisecond
		return c
	}
	alice, arec, _ := recordedMember(t, bus, cfg("alice", true), newFakePlayer())
	_, _, stopBob := recordedMember(t, bus, cfg("bob", false), newFakePlayer())
	waitCond(t, "alice sees bob", func() bool { _, ok := memberOf(t, alice, "bob"); return ok })
	alice.HandleStatus(realtime.StatusChannelError, io.EOF)
	stopBob() // nothing from bob reaches alice now, as during her own outage
	time.Sleep(600 * time.Millisecond)
	if contains(arec.notices(), "not responding") {
		t.Fatalf("notices during our own outage: %q", arec.notices())
	}
}

// More than a history's worth of messages missed by a member that had shown
// none yet: all of them arrive, not just the last 50.
func TestCatchUpBeyondTheHistoryLimit(t *testing.T) {
	s := &storeServer{addr: "127.0.0.1:0", path: filepath.Join(t.TempDir(), "w.db")}
	s.start(t)
	defer func() { _ = s.stop() }()
	url := "http://" + s.addr
	ana, _ := storeMember(t, url, fastConfig("ana", false), 50*time.Millisecond)
	_, brec := storeMember(t, url, fastConfig("bob", false), 3*time.Second)
	ctx := context.Background()
	_ = s.stop()
	s.start(t)
	waitCond(t, "ana is back", func() bool { snap, _ := ana.Snapshot(ctx); return snap.Conn.State == "open" })
	var want []string
	for i := range HistoryLimit + 20 {
		msg := "m" + strings.Repeat("x", i%3) + string(rune('A'+i%26)) + "-" + time.Now().Format("150405.000000")
		for deadline := time.Now().Add(5 * time.Second); ; {
			err := ana.Say(ctx, msg)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		want = append(want, msg)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(brec.chats()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // any duplicate would be right behind
	if got := brec.chats(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("bob shows %d of %d messages", len(got), len(want))
	}
}

func (s *flakyStore) MemberKey(context.Context, string, string) (string, error) { return "", nil }
func (s *flakyStore) ClaimHost(context.Context, string) error                   { return nil }
func (s *flakyStore) HandOver(context.Context, string, string) error            { return nil }
func (s *flakyStore) HostAlive(context.Context, string) error                   { return nil }
func (s *flakyStore) SavePlaylist(context.Context, string, Playlist) error      { return nil }
