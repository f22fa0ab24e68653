package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
)

type serveFlags struct {
	data    string
	addr    string
	anonKey string
	rate    int
	verbose bool
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the embedded realtime server",
		Long: `Runs a Supabase-Realtime-compatible server: WebSocket at /realtime/v1/websocket,
HTTP broadcast at /realtime/v1/api/broadcast, and /healthz.

It listens on loopback by default; use --addr :4000 to share it on your LAN.
Without --anon-key anyone who can reach it may join; with it, clients must pass
the same key (watchium-tui --key, or realtime-js's apikey).`,
		Example: `  watchium-tui serve
  watchium-tui serve --addr :4000 --anon-key s3cret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), cmd, f)
		},
	}
	cmd.Flags().StringVar(&f.addr, "addr", "127.0.0.1:4000", "address to listen on")
	cmd.Flags().StringVar(&f.data, "data", defaultDataDir(), "where rooms and chat history are kept (:memory: keeps nothing)")
	cmd.Flags().StringVar(&f.anonKey, "anon-key", "", "require this API key from clients")
	cmd.Flags().IntVar(&f.rate, "max-events", 100, "events per second one connection may send")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "log connections and warnings")
	return cmd
}

func runServe(ctx context.Context, cmd *cobra.Command, f serveFlags) error {
	level := slog.LevelError
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is another watchium-tui serve running? pick another port with --addr)", f.addr, err)
	}
	st, err := store.Open(f.data)
	if err != nil {
		ln.Close()
		return fmt.Errorf("%w (pick another place with --data, or --data :memory:)", err)
	}
	defer st.Close()
	srv, err := startServer(ctx, ln, server.Config{AnonKey: f.anonKey, EventsPerSecond: f.rate, Logger: log, Store: st})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "watchium realtime server listening on http://%s, data in %s (Ctrl-C to stop)\n", ln.Addr(), f.data)
	<-ctx.Done()
	fmt.Fprintln(cmd.OutOrStdout(), "shutting down")
	return srv.stop()
}

// defaultDataDir follows the XDG base directory convention.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "watchium")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "watchium")
	}
	return ":memory:"
}

// runningServer is an embedded server bound to a listener.
type runningServer struct {
	stopFn func() error
	onStop func()
}

func startServer(_ context.Context, ln net.Listener, cfg server.Config) (*runningServer, error) {
	return &runningServer{stopFn: server.New(cfg).Start(ln)}, nil
}

func (rs *runningServer) stop() error {
	err := rs.stopFn()
	if rs.onStop != nil {
		rs.onStop()
	}
	return err
}
