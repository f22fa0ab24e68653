package session_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
	"github.com/watchium/watchium-tui/session"
)

// startServer runs the embedded server with its auth on 127.0.0.1, tokens
// living lifetime.
func startServer(t *testing.T, lifetime time.Duration, cfg auth.Config) string {
	t.Helper()
	st, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Secret, cfg.TokenLifetime = st, []byte("session-test-secret-0123456789abcdef"), lifetime
	srv := server.New(server.Config{Store: st, Auth: auth.New(cfg)})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
		st.Close()
	})
	return hs.URL
}

func TestSignInRefreshAndStore(t *testing.T) {
	url := startServer(t, time.Hour, auth.Config{})
	c, err := session.NewClient(url, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	s, err := c.SignInAnonymously(ctx, map[string]any{"name": "ana"})
	if err != nil {
		t.Fatal(err)
	}
	if s.User.ID == "" || !s.User.IsAnonymous || s.User.Name() != "ana" || s.Expiry().Before(time.Now()) {
		t.Fatalf("session: %+v", s)
	}
	st := session.Store{Dir: t.TempDir()}
	if got, err := st.Load(url); got != nil || err != nil {
		t.Fatalf("no session yet: %v %v", got, err)
	}
	if err := st.Save(url, s); err != nil {
		t.Fatal(err)
	}
	// Spellings of one server share the file.
	got, err := st.Load(strings.Replace(url, "http://", "ws://", 1) + "/")
	if err != nil || got == nil || got.RefreshToken != s.RefreshToken {
		t.Fatalf("load: %v %v", got, err)
	}
	fi, err := os.Stat(st.Path(url))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v %v", fi, err)
	}
	if di, err := os.Stat(filepath.Dir(st.Path(url))); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("sessions dir: %v %v", di, err)
	}
	if st.Path(url) == st.Path("http://127.0.0.1:1") {
		t.Fatal("two servers share a session file")
	}

	k := session.NewKeeper(c, st, url, s)
	var tokens []string
	k.OnRefresh(func(tok string) { tokens = append(tokens, tok) })
	if err := k.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 1 || k.Session().RefreshToken == s.RefreshToken || k.Session().User.ID != s.User.ID {
		t.Fatalf("refresh: %d tokens, session %+v", len(tokens), k.Session())
	}
	saved, _ := st.Load(url)
	if saved.RefreshToken != k.Session().RefreshToken {
		t.Fatal("the refreshed session was not saved")
	}

	// Another process refreshed meanwhile (the file is newer): a second
	// keeper still holding the first session adopts it instead of spending
	// a stale refresh token.
	other := session.NewKeeper(c, st, url, s)
	if err := other.Refresh(ctx); err != nil {
		t.Fatalf("keeper with a stale session: %v", err)
	}
	if other.Session().User.ID != s.User.ID {
		t.Fatal("wrong user after adoption")
	}

	u, err := c.UpdateUser(ctx, k.AccessToken(), map[string]any{"name": "bob"})
	if err != nil || u.Name() != "bob" {
		t.Fatalf("update: %v %v", u, err)
	}
	if err := c.Logout(ctx, k.AccessToken()); err != nil {
		t.Fatal(err)
	}
	err = k.Refresh(ctx)
	if !session.SessionEnded(err) {
		t.Fatalf("refresh after logout: %v, want a session-ended error", err)
	}
	if err := st.Delete(url); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(url); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}

func TestServerErrorsAreReadable(t *testing.T) {
	url := startServer(t, time.Hour, auth.Config{NoAnonymousSignIns: true})
	c, _ := session.NewClient(url, "")
	_, err := c.SignInAnonymously(t.Context(), nil)
	if !session.HasCode(err, "anonymous_provider_disabled") || !strings.Contains(err.Error(), "Anonymous sign-ins are disabled") {
		t.Fatalf("anonymous sign-in off: %v", err)
	}
	if err := c.SendOTP(t.Context(), "a@example.com"); !session.HasCode(err, "email_provider_disabled") {
		t.Fatalf("OTP on the embedded server: %v", err)
	}
	plain := httptest.NewServer(server.New(server.Config{}))
	defer plain.Close()
	c, _ = session.NewClient(plain.URL, "")
	if _, err := c.SignInAnonymously(t.Context(), nil); !session.IsNotServed(err) {
		t.Fatalf("server without auth: %v", err)
	}
}

func TestRefreshAt(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	hour := session.Session{ExpiresIn: 3600, ExpiresAt: now.Add(time.Hour).Unix()}
	if got := session.RefreshAt(hour); !got.Equal(now.Add(50 * time.Minute)) {
		t.Fatalf("one-hour token refreshed at %v", got.Sub(now))
	}
	short := session.Session{ExpiresIn: 3, ExpiresAt: now.Add(3 * time.Second).Unix()}
	if got := session.RefreshAt(short); !got.Equal(now.Add(2 * time.Second)) {
		t.Fatalf("three-second token refreshed at %v", got.Sub(now))
	}
}

// channelWatch records what happens to a channel after it is joined.
type channelWatch struct {
	mu     sync.Mutex
	closed []string
}

func (w *channelWatch) add(s string) {
	w.mu.Lock()
	w.closed = append(w.closed, s)
	w.mu.Unlock()
}

func (w *channelWatch) events() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.closed...)
}

func watch(ch *realtime.Channel) *channelWatch {
	w := &channelWatch{}
	ch.OnSystem(func(m realtime.SystemMessage) {
		if m.Status == "error" {
			w.add("system: " + m.Message)
		}
	})
	return w
}

// The keeper refreshes the token on a live socket (realtime setAuth) so a
// channel outlives many token lifetimes; a channel on the same server
// whose token is not refreshed is closed at expiry, which shows the test
// did run past it.
func TestKeeperKeepsALiveChannelOpen(t *testing.T) {
	url := startServer(t, 3*time.Second, auth.Config{})
	c, _ := session.NewClient(url, "")
	ctx := t.Context()
	st := session.Store{Dir: t.TempDir()}

	s, err := c.SignInAnonymously(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := session.NewKeeper(c, st, url, s)
	kept, err := realtime.NewClient(url, realtime.Options{AccessToken: k.AccessToken()})
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	refreshed := make(chan string, 16)
	k.OnRefresh(kept.SetAuth)
	k.OnRefresh(func(tok string) { refreshed <- tok })
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	ended := make(chan error, 1)
	go k.Run(kctx, func(err error) { ended <- err })

	stale, err := c.SignInAnonymously(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	unkept, err := realtime.NewClient(url, realtime.Options{AccessToken: stale.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	defer unkept.Close()
	for _, cl := range []*realtime.Client{kept, unkept} {
		if err := cl.Connect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	keptCh := kept.Channel("room:party", realtime.ChannelConfig{Broadcast: realtime.BroadcastConfig{Ack: true}})
	keptWatch := watch(keptCh)
	staleCh := unkept.Channel("room:party", realtime.ChannelConfig{})
	staleExpired := make(chan string, 4)
	staleCh.OnSystem(func(m realtime.SystemMessage) { staleExpired <- m.Message })
	for _, ch := range []*realtime.Channel{keptCh, staleCh} {
		if err := ch.Subscribe(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Three refreshes: the kept channel has outlived its first token.
	for i := range 3 {
		select {
		case <-refreshed:
		case err := <-ended:
			t.Fatalf("session ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("refresh %d never happened", i+1)
		}
	}
	select {
	case msg := <-staleExpired:
		if !strings.HasPrefix(msg, "Token has expired") {
			t.Fatalf("unrefreshed channel: %q", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the unrefreshed channel was never closed at expiry")
	}
	if err := keptCh.Send(ctx, "still-here", map[string]any{}); err != nil {
		t.Fatalf("broadcast on the kept channel: %v", err)
	}
	if ev := keptWatch.events(); len(ev) > 0 {
		t.Fatalf("the kept channel got %v", ev)
	}
}
