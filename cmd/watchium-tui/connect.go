package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
	"github.com/watchium/watchium-tui/session"
)

// validRoom checks a room id: it becomes part of a topic, which binary
// frames limit to 255 bytes.
func validRoom(id string) error {
	switch {
	case id == "":
		return errors.New("the room name is empty")
	case len(id) > 200:
		return errors.New("the room name is too long (at most 200 bytes)")
	case strings.ContainsAny(id, " \t\r\n"):
		return fmt.Errorf("the room name %q has spaces; use e.g. %q", id, strings.Join(strings.Fields(id), "-"))
	}
	return nil
}

// newUserID is unique per run and still readable in logs and JSON lines.
func newUserID(name string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, name)
	if base == "" {
		base = "user"
	}
	return base + "-" + hex.EncodeToString(b[:])
}

func newLogger(w io.Writer, debug bool) *slog.Logger {
	if w == nil {
		return slog.New(slog.DiscardHandler)
	}
	level := slog.LevelWarn
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// linkCheck is the socket heartbeat interval. realtime-js's 25 s default
// leaves a dead link (a dropped Wi-Fi, no FIN) unnoticed for up to 50 s
// while a follower plays past a paused host; at 2.5 s an unanswered
// heartbeat is noticed within 5 s. Phoenix heartbeats are not billed as
// messages on Supabase, so this costs nothing against quotas.
const linkCheck = 2500 * time.Millisecond

// link is a connection to a server: the realtime client, and the signed-in
// session that keeps its token fresh (nil on a server without sign-in).
type link struct {
	client *realtime.Client
	keeper *session.Keeper
	close  func()
}

// userID is the verified user id (the token's sub), or a made-up one on a
// server without sign-in.
func (l *link) userID(name string) string {
	if l.keeper == nil {
		return newUserID(name)
	}
	return l.keeper.Session().User.ID
}

// connect signs in (see openSession) and opens a realtime client whose
// token the session keeps fresh, also on the live socket. With startLocal,
// a refused connection to a loopback URL starts the embedded server in this
// process instead of failing, so a first run on a fresh machine just works.
func connect(ctx context.Context, g globalFlags, log *slog.Logger, startLocal bool, say func(string)) (*link, error) {
	stopLocal := func() {}
	if addr, local := loopbackAddr(g.server); local && startLocal {
		stop, err := startLocalServer(ctx, g, addr, log, say, os.Stderr)
		if err != nil {
			return nil, err
		}
		stopLocal = stop
	}
	keeper, note, err := openSession(ctx, g)
	var off anonymousOff
	switch {
	case errors.Is(err, errNoAuth):
		keeper = nil
	case errors.As(err, &off):
		keeper, note = nil, "you are not signed in, so you take part as a guest (live chat only, no history): "+off.Error()
	case err != nil:
		stopLocal()
		return nil, unreachable(g.server, err)
	}
	if note != "" && say != nil {
		say(note)
	}
	opts := realtime.Options{APIKey: g.key, Logger: log, Debug: g.debug, Heartbeat: linkCheck}
	if keeper != nil {
		opts.AccessToken = keeper.AccessToken()
	}
	c, err := realtime.NewClient(g.server, opts)
	if err != nil {
		stopLocal()
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		// A client whose first dial failed still owns a callback
		// goroutine until Close.
		_ = c.Close()
		stopLocal()
		return nil, unreachable(g.server, err)
	}
	kctx, stopKeeper := context.WithCancel(context.Background())
	if keeper != nil {
		keeper.OnRefresh(c.SetAuth)
		go keeper.Run(kctx, func(err error) {
			log.Warn("session ended; the server will close the room when the token expires", "err", err)
			if say != nil {
				say("your session was signed out on the server (" + err.Error() + "): run watchium-tui login")
			}
		})
	}
	return &link{client: c, keeper: keeper, close: func() { stopKeeper(); _ = c.Close(); stopLocal() }}, nil
}

// startLocalServer starts the embedded server on addr when nothing listens
// there; stop stops it (a no-op when another server was already running).
// When the data directory cannot be used it still starts, in memory, and
// says so on stderr, in the log and through say: chat would otherwise
// vanish at the next restart without anyone having been told.
func startLocalServer(_ context.Context, g globalFlags, addr string, log *slog.Logger, say func(string), stderr io.Writer) (stop func(), err error) {
	if conn, derr := net.DialTimeout("tcp", addr, 2*time.Second); derr == nil {
		conn.Close()
		return func() {}, nil
	} else if !errors.Is(derr, syscall.ECONNREFUSED) {
		return func() {}, nil // let the realtime dial report it
	}
	ln, lerr := net.Listen("tcp", addr)
	if lerr != nil {
		return func() {}, nil
	}
	data := defaultDataDir()
	st, serr := store.Open(data)
	switch {
	case serr != nil:
		data = ":memory:"
		var merr error
		if st, merr = store.Open(data); merr != nil {
			ln.Close()
			return nil, fmt.Errorf("starting the embedded server: %w (and in memory: %v)", serr, merr)
		}
		warnVolatile(log, say, stderr, serr.Error())
	case data == ":memory:":
		warnVolatile(log, say, stderr, "no home directory to keep it in")
	}
	authSvc, aerr := newAuthService(identityFlags{signupsPerHour: 30}, data, st, log)
	if aerr != nil {
		_ = st.Close()
		ln.Close()
		return nil, aerr
	}
	srv, serr := startServer(context.Background(), ln, server.Config{AnonKey: g.key, Logger: log, Store: st, Auth: authSvc})
	if serr != nil {
		_ = st.Close()
		ln.Close()
		return nil, serr
	}
	srv.onStop = func() { _ = st.Close() }
	if say != nil {
		say(fmt.Sprintf("no server was running at %s: started one inside this process (it stops when you leave; run `watchium-tui serve` to keep one up)", g.server))
	}
	return func() { _ = srv.stop() }, nil
}

// warnVolatile tells, everywhere the person may look, that the embedded
// server keeps chat in memory only.
func warnVolatile(log *slog.Logger, say func(string), stderr io.Writer, why string) {
	msg := fmt.Sprintf("warning: the embedded server cannot keep chat on disk (%s), so chat will NOT survive a restart. "+
		"Make %s writable (or set XDG_DATA_HOME to a writable directory), or run `watchium-tui serve --data DIR` and point at it.", why, defaultDataDir())
	log.Warn("embedded server keeps chat in memory only; it will not survive a restart", "why", why, "dir", defaultDataDir())
	if stderr != nil {
		fmt.Fprintln(stderr, msg)
	}
	if say != nil {
		say(msg)
	}
}

func unreachable(server string, err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("nothing answers at %s.\n  Start a server with:  watchium-tui serve\n  or point at another:  --server URL (or WATCHIUM_SERVER)", server)
	}
	return err
}

// loopbackAddr returns host:port for a loopback http(s)/ws(s) URL.
func loopbackAddr(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		return "", false
	}
	ip := net.ParseIP(host)
	if host == "localhost" || ip != nil && ip.IsLoopback() {
		return net.JoinHostPort(host, port), true
	}
	return "", false
}

// subscribeRoom connects and joins roomID's channel for the one-shot
// commands (say, tail, members); setup registers handlers before the join.
// close ends the connection.
func subscribeRoom(ctx context.Context, cmd *cobra.Command, g globalFlags, roomID string, cfg realtime.ChannelConfig, setup func(*realtime.Channel)) (*realtime.Channel, func(), error) {
	ch, l, err := subscribeRoomAs(ctx, cmd, g, roomID, cfg, setup)
	if err != nil {
		return nil, nil, err
	}
	return ch, l.close, nil
}

// subscribeRoomAs is subscribeRoom for commands that act as the signed-in
// user: the link carries the session.
func subscribeRoomAs(ctx context.Context, cmd *cobra.Command, g globalFlags, roomID string, cfg realtime.ChannelConfig, setup func(*realtime.Channel)) (*realtime.Channel, *link, error) {
	l, err := connect(ctx, g, newLogger(debugWriter(cmd, g), g.debug), false, func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), s) })
	if err != nil {
		return nil, nil, err
	}
	actx, cancel := context.WithTimeout(ctx, 15*time.Second)
	adm, err := admit(actx, g, l.keeper, roomID, false)
	cancel()
	if err != nil {
		l.close()
		return nil, nil, err
	}
	cfg.Private = adm.Private
	ch := l.client.Channel(room.ChannelName(roomID), cfg)
	if setup != nil {
		setup(ch)
	}
	if err := ch.Subscribe(ctx); err != nil {
		l.close()
		return nil, nil, fmt.Errorf("joining room %q: %w", roomID, err)
	}
	return ch, l, nil
}

func debugWriter(cmd *cobra.Command, g globalFlags) io.Writer {
	if g.debug {
		return cmd.ErrOrStderr()
	}
	return nil
}
