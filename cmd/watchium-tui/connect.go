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
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
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

// connect opens a realtime client. With startLocal, a refused connection to
// a loopback URL starts the embedded server in this process instead of
// failing, so a first run on a fresh machine just works.
func connect(ctx context.Context, g globalFlags, log *slog.Logger, startLocal bool, say func(string)) (*realtime.Client, func(), error) {
	opts := realtime.Options{APIKey: g.key, Logger: log, Debug: g.debug, Heartbeat: linkCheck}
	c, err := realtime.NewClient(g.server, opts)
	if err != nil {
		return nil, nil, err
	}
	err = c.Connect(ctx)
	if err == nil {
		return c, func() { _ = c.Close() }, nil
	}
	addr, local := loopbackAddr(g.server)
	if !errors.Is(err, syscall.ECONNREFUSED) || !local {
		return nil, nil, unreachable(g.server, err)
	}
	if !startLocal {
		return nil, nil, unreachable(g.server, err)
	}
	ln, lerr := net.Listen("tcp", addr)
	if lerr != nil {
		return nil, nil, unreachable(g.server, err)
	}
	st, serr := store.Open(defaultDataDir())
	if serr != nil {
		st, _ = store.Open(":memory:")
	}
	srv, _ := startServer(ctx, ln, server.Config{AnonKey: g.key, Logger: log, Store: st})
	srv.onStop = func() { _ = st.Close() }
	say(fmt.Sprintf("no server was running at %s: started one inside this process (it stops when you leave; run `watchium-tui serve` to keep one up)", g.server))
	c, err = realtime.NewClient(g.server, opts)
	if err != nil {
		_ = srv.stop()
		return nil, nil, err
	}
	if err := c.Connect(ctx); err != nil {
		_ = srv.stop()
		return nil, nil, unreachable(g.server, err)
	}
	return c, func() { _ = c.Close(); _ = srv.stop() }, nil
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
	client, closeFn, err := connect(ctx, g, newLogger(debugWriter(cmd, g), g.debug), false, nil)
	if err != nil {
		return nil, nil, err
	}
	ch := client.Channel(room.ChannelName(roomID), cfg)
	if setup != nil {
		setup(ch)
	}
	if err := ch.Subscribe(ctx); err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("joining room %q: %w", roomID, err)
	}
	return ch, closeFn, nil
}

func debugWriter(cmd *cobra.Command, g globalFlags) io.Writer {
	if g.debug {
		return cmd.ErrOrStderr()
	}
	return nil
}
