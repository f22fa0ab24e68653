package room

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/realtime"
)

// The seed's web client reads msg.payload.current_time (its sample code) or
// msg.payload.payload.current_time (its interfaces): both must be there.
func TestWireCarriesBothReadings(t *testing.T) {
	env, err := NewEnvelope(TypePlay, "movie", PlaybackPayload{CurrentTime: 12.5, UserID: "u1", Username: "ana", Seq: 3, Epoch: "e"}, time.UnixMilli(1000))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := env.Wire()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Type        string          `json:"type"`
		RoomID      string          `json:"room_id"`
		Timestamp   int64           `json:"timestamp"`
		CurrentTime *float64        `json:"current_time"`
		UserID      string          `json:"user_id"`
		Username    string          `json:"username"`
		Payload     PlaybackPayload `json:"payload"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != TypePlay || got.RoomID != "movie" || got.Timestamp != 1000 || got.CurrentTime == nil || *got.CurrentTime != 12.5 ||
		got.UserID != "u1" || got.Username != "ana" || got.Payload.CurrentTime != 12.5 || got.Payload.Seq != 3 {
		t.Fatalf("wire shape: %s", raw)
	}
	// Our own decoder reads it back as the envelope.
	back, err := DecodeBroadcast(broadcastOf(TypePlay, raw))
	if err != nil || back.Type != TypePlay || back.RoomID != "movie" {
		t.Fatalf("decode: %v %+v", err, back)
	}
	// The envelope's keys win a clash with the payload's.
	env, _ = NewEnvelope(TypeNewComment, "movie", map[string]any{"type": "spoof", "timestamp": 5, "content": "hi"}, time.UnixMilli(2000))
	raw, _ = env.Wire()
	var clash map[string]any
	_ = json.Unmarshal(raw, &clash)
	if clash["type"] != TypeNewComment || clash["timestamp"] != float64(2000) || clash["content"] != "hi" {
		t.Fatalf("clash: %s", raw)
	}
}

func TestParsePresenceTellsSpecClientsFromOurs(t *testing.T) {
	m, specOnly := parsePresence("web", json.RawMessage(`{"user_id":"web","current_time":12.5,"is_playing":true}`))
	if !specOnly || m.UserID != "web" || m.Username != "web" || m.CurrentTime != 12.5 || !m.IsPlaying {
		t.Fatalf("seed presence: %+v %v", m, specOnly)
	}
	m, specOnly = parsePresence("k", json.RawMessage(`{"user_id":"u","username":"ana","joined_at":1,"current_time":-3}`))
	if specOnly || m.Username != "ana" || m.CurrentTime != 0 {
		t.Fatalf("our presence: %+v %v", m, specOnly)
	}
}

func TestSpecReportAnchorWaitsOutEvents(t *testing.T) {
	now := time.Now()
	rep := presenceMeta{CurrentTime: 30, IsPlaying: true}
	if a, ok := specReportAnchor(nil, rep, now); !ok || a.Pos != 30 || !a.Playing || !a.Settled || a.AtMS != wallMS(now) {
		t.Fatalf("first report: %+v %v", a, ok)
	}
	// A report that may have been tracked before the event just applied.
	fresh := &anchor{Pos: 60, Playing: false, Received: now.Add(-reportQuiet / 2)}
	if _, ok := specReportAnchor(fresh, rep, now); ok {
		t.Fatal("a report right after an event replaced it")
	}
	old := &anchor{Pos: 60, Playing: false, Received: now.Add(-3 * time.Second)}
	if a, ok := specReportAnchor(old, rep, now); !ok || a.Pos != 30 {
		t.Fatal("a later report did not correct the timeline")
	}
}

// webPresence tracks a seed-shaped presence for id on the bus, as the
// sample's startPresenceTracking does every 3 s.
func webPresence(bus *fakeBus, id string, pos float64, playing bool) {
	raw, _ := json.Marshal(map[string]any{"user_id": id, "current_time": pos, "is_playing": playing})
	bus.setPresence(id, raw)
	bus.syncAll()
}

// A web member reports only its position; the room works out whether it is
// in sync, under the spec's 2 s rule, and carries a playing member forward.
func TestWebMemberPositionAndSyncAreComputed(t *testing.T) {
	bus := newFakeBus()
	h := addMember(t, bus, fastConfig("alice", true))
	waitCond(t, "alice hosts", hostIs(t, h, "alice"))
	h.player.set(func(s *playerState) { s.Pos, s.Paused = 100, false })
	webPresence(bus, "web", h.player.State().PositionAt(time.Now())-0.5, true)
	waitCond(t, "web in sync", func() bool {
		w, ok := memberOf(t, h.room, "web")
		return ok && w.InSync && w.Playing && math.Abs(w.OffsetMS+500) < 100
	})
	before, _ := memberOf(t, h.room, "web")
	waitCond(t, "web's position moves on while it plays", func() bool {
		w, _ := memberOf(t, h.room, "web")
		return w.Position > before.Position+0.02
	})
	webPresence(bus, "web", 90, true)
	waitCond(t, "web out of sync", func() bool {
		w, _ := memberOf(t, h.room, "web")
		return !w.InSync && w.OffsetMS < -9000
	})
}

func addChatOnly(t *testing.T, bus *fakeBus, cfg Config) *member {
	t.Helper()
	return addMemberWith(t, bus, cfg, nil)
}

// Hosting goes to a member with a player: not to a chat-only member who
// joined earlier, and never to a web member who cannot know it was elected.
func TestElectionPrefersMembersWithAPlayer(t *testing.T) {
	bus := newFakeBus()
	h := addMember(t, bus, fastConfig("alice", true))
	waitCond(t, "alice hosts", hostIs(t, h, "alice"))
	webPresence(bus, "aaa-web", 0, false) // sorts first, "joined" first
	chat := addChatOnly(t, bus, fastConfig("bob", false))
	waitCond(t, "bob sees alice", hostIs(t, chat, "alice"))
	carol := addMember(t, bus, fastConfig("carol", false))
	waitCond(t, "carol sees alice", hostIs(t, carol, "alice"))
	h.stop()
	bus.leave("alice")
	waitCond(t, "carol hosts", hostIs(t, carol, "carol"))
	waitCond(t, "bob agrees", hostIs(t, chat, "carol"))
}

// A web host controls playback through sync/control: the server names it
// in new_host and broadcasts bare spec events; its 3 s presence corrects
// drift between events.
func TestWebHostIsFollowedFromEventsAndPresence(t *testing.T) {
	bus := newFakeBus()
	f := addMember(t, bus, fastConfig("bob", false))
	webPresence(bus, "web", 0, false)
	bus.inject(TypeNewHost, map[string]any{"user_id": "web"})
	waitCond(t, "bob follows web", hostIs(t, f, "web"))
	bus.inject(TypePlay, map[string]any{"current_time": 10.0, "user_id": "web"})
	played := time.Now()
	waitCond(t, "bob plays with the web host", func() bool {
		st := f.player.State()
		now := time.Now()
		return !st.Paused && math.Abs(st.PositionAt(now)-(10+now.Sub(played).Seconds())) < 0.1
	})
	// Between events only presence speaks: a jump there moves bob too, once
	// the event is past reportQuiet.
	start := time.Now()
	waitCond(t, "bob follows the presence report", func() bool {
		// Each report is fresh, as a playing video's would be.
		webPos := 40 + time.Since(start).Seconds()
		webPresence(bus, "web", webPos, true)
		st := f.player.State()
		return math.Abs(st.PositionAt(time.Now())-webPos) < 0.5
	})
	w, _ := memberOf(t, f.room, "web")
	if !w.IsHost || !w.InSync {
		t.Fatalf("web host shown as %+v", w)
	}
}

// A web client that broadcasts a bare comment (no envelope, no id) is shown,
// once however often it arrives.
func TestBareCommentFromAWebClient(t *testing.T) {
	bus := newFakeBus()
	var got []Comment
	ch := bus.channel("bob")
	r := New(fastConfig("bob", false), ch, nil)
	ch.room = r
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	chats := make(chan Comment, 4)
	go func() {
		for ev := range r.Events() {
			if c, ok := ev.(ChatReceived); ok {
				chats <- c.Comment
			}
		}
	}()
	defer func() { cancel(); <-done }()
	c := map[string]any{"user_id": "web", "username": "wendy", "content": "hi from the browser", "created_at": "2026-12-01T10:00:00Z"}
	bus.inject(TypeNewComment, c)
	bus.inject(TypeNewComment, c)
	bus.inject(TypeNewComment, map[string]any{"user_id": "web", "username": "wendy", "content": "second", "created_at": "2026-12-01T10:00:01Z"})
	deadline := time.After(5 * time.Second)
	for len(got) < 2 {
		select {
		case c := <-chats:
			got = append(got, c)
		case <-deadline:
			t.Fatalf("comments shown: %+v", got)
		}
	}
	if got[0].Content != "hi from the browser" || got[1].Content != "second" || got[0].ID == "" || got[0].RoomID != "" && got[0].RoomID != "r" {
		t.Fatalf("comments: %+v", got)
	}
}

func broadcastOf(event string, raw json.RawMessage) realtime.Broadcast {
	return realtime.Broadcast{Event: event, Payload: raw, At: time.Now()}
}
