package room_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/roomrest"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
)

// chatOnly joins a room without a player, with or without history.
func chatOnly(t *testing.T, url, name string, withStore bool) (*room.Room, <-chan any) {
	t.Helper()
	c, err := realtime.NewClient(url, realtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := room.Config{RoomID: "hist", UserID: name, Username: name}
	if withStore {
		rc, _ := rest.New(url, "")
		cfg.Store = roomrest.Store{C: rc}
	}
	r, err := room.Join(ctx, c, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(runCtx); close(done) }()
	chats := make(chan any, 100)
	go func() {
		for ev := range r.Events() {
			if c, ok := ev.(room.ChatReceived); ok {
				chats <- c
			}
		}
	}()
	t.Cleanup(func() { stop(); <-done; c.Close() })
	return r, chats
}

func nextChat(t *testing.T, ch <-chan any) room.Comment {
	t.Helper()
	select {
	case v := <-ch:
		return v.(room.ChatReceived).Comment
	case <-time.After(10 * time.Second):
		t.Fatal("no chat message")
	}
	return room.Comment{}
}

func TestLateJoinerGetsHistoryAndNoDuplicates(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := server.New(server.Config{Store: st})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	ana, anaChat := chatOnly(t, hs.URL, "ana", true)
	ctx := context.Background()
	for _, text := range []string{"first", "second"} {
		if err := ana.Say(ctx, text); err != nil {
			t.Fatal(err)
		}
		if c := nextChat(t, anaChat); c.Content != text {
			t.Fatalf("ana saw %q", c.Content)
		}
	}
	// Bob joins later: he sees both, in order, from history.
	_, bobChat := chatOnly(t, hs.URL, "bob", true)
	if a, b := nextChat(t, bobChat), nextChat(t, bobChat); a.Content != "first" || b.Content != "second" {
		t.Fatalf("history: %q, %q", a.Content, b.Content)
	}
	// A spec client that only listens to broadcasts gets new messages too,
	// and bob gets each once although it reaches him two ways.
	_, plainChat := chatOnly(t, hs.URL, "cy", false)
	if err := ana.Say(ctx, "third"); err != nil {
		t.Fatal(err)
	}
	if c := nextChat(t, bobChat); c.Content != "third" {
		t.Fatalf("bob got %q", c.Content)
	}
	if c := nextChat(t, plainChat); c.Content != "third" {
		t.Fatalf("cy (broadcast only) got %q", c.Content)
	}
	select {
	case v := <-bobChat:
		t.Fatalf("duplicate delivery: %+v", v)
	case <-time.After(300 * time.Millisecond): // both paths have had time to arrive
	}
}
