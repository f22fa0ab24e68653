package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
)

type serveFlags struct {
	data     string
	addr     string
	anonKey  string
	rate     int
	verbose  bool
	tlsCert  string
	tlsKey   string
	identity identityFlags
}

// identityFlags configure the embedded Supabase Auth subset.
type identityFlags struct {
	jwtSecret      string
	jwksURL        string
	jwtExpiry      time.Duration
	noAnonymous    bool
	signupsPerHour int
}

// newAuthService builds the auth service: the secret from --jwt-secret,
// else the one kept in the data directory (generated on first start).
func newAuthService(f identityFlags, data string, st *store.Store, log *slog.Logger) (*auth.Service, error) {
	if f.jwtSecret == "" {
		f.jwtSecret = os.Getenv("WATCHIUM_JWT_SECRET")
	}
	secret := []byte(f.jwtSecret)
	if f.jwtSecret == "" {
		var err error
		if secret, err = auth.LoadOrCreateSecret(data); err != nil {
			return nil, err
		}
	} else if len(secret) < 32 {
		return nil, errors.New("--jwt-secret must be at least 32 characters (Supabase's JWT secrets are)")
	}
	if f.signupsPerHour == 0 {
		return nil, errors.New("--signups-per-hour 0 would refuse every sign-up: use --no-anonymous-signins for that, or -1 for no limit")
	}
	return auth.New(auth.Config{
		Store: st, Secret: secret, JWKSURL: f.jwksURL, TokenLifetime: f.jwtExpiry,
		NoAnonymousSignIns: f.noAnonymous, SignUpsPerHour: f.signupsPerHour, Logger: log,
	}), nil
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
the same key (watchium-tui --key, or realtime-js's apikey).

Identity: /auth/v1 speaks a subset of Supabase Auth (anonymous sign-in, refresh,
user, logout), so watchium-tui login and supabase-js signInAnonymously() work.
Access tokens are HS256 JWTs signed with --jwt-secret (env WATCHIUM_JWT_SECRET);
without it a secret is generated on first start and kept in the data directory
(file jwt-secret, mode 0600). Every token a client presents (realtime join,
REST and function calls) is verified; a bad or expired one is refused. To run
beside a Supabase Auth server, give both the same secret (GOTRUE_JWT_SECRET) and
route /auth/v1 to it; --jwks-url also accepts its ES256/RS256 tokens.

TLS: --tls-cert and --tls-key (PEM files, e.g. from Let's Encrypt) serve HTTPS
and WSS on --addr; clients then use --server https://HOST:PORT. Without them,
run it behind a reverse proxy that terminates TLS before sharing it beyond
your LAN: tokens and chat otherwise cross the network in clear text.`,
		Example: `  watchium-tui serve
  watchium-tui serve --addr :4000 --anon-key s3cret
  watchium-tui serve --jwt-secret "$SUPABASE_JWT_SECRET" --no-anonymous-signins
  watchium-tui serve --addr :4443 --tls-cert fullchain.pem --tls-key privkey.pem`,
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
	cmd.Flags().StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS/WSS with this PEM certificate (chain); needs --tls-key")
	cmd.Flags().StringVar(&f.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	addIdentityFlags(cmd, &f.identity)
	return cmd
}

// tlsConfig loads --tls-cert/--tls-key; nil when neither is given.
func tlsConfig(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together: pass both PEM files")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot load the TLS certificate: %w (--tls-cert wants a PEM certificate, --tls-key its PEM private key)", err)
	}
	// HTTP/1.1 only: WebSocket upgrades need it.
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}, nil
}

func runServe(ctx context.Context, cmd *cobra.Command, f serveFlags) error {
	level := slog.LevelError
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	tlsCfg, err := tlsConfig(f.tlsCert, f.tlsKey)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is another watchium-tui serve running? pick another port with --addr)", f.addr, err)
	}
	scheme := "http"
	if tlsCfg != nil {
		ln, scheme = tls.NewListener(ln, tlsCfg), "https"
	}
	st, err := store.Open(f.data)
	if err != nil {
		ln.Close()
		return fmt.Errorf("%w (pick another place with --data, or --data :memory:)", err)
	}
	defer st.Close()
	authSvc, err := newAuthService(f.identity, f.data, st, log)
	if err != nil {
		ln.Close()
		return err
	}
	srv, err := startServer(ctx, ln, server.Config{AnonKey: f.anonKey, EventsPerSecond: f.rate, Logger: log, Store: st, Auth: authSvc})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "watchium realtime server listening on %s://%s, data in %s (Ctrl-C to stop)\n", scheme, ln.Addr(), f.data)
	<-ctx.Done()
	fmt.Fprintln(cmd.OutOrStdout(), "shutting down")
	return srv.stop()
}

func addIdentityFlags(cmd *cobra.Command, f *identityFlags) {
	// The environment is read at run time, not as the flag's default, so
	// --help never prints the secret.
	cmd.Flags().StringVar(&f.jwtSecret, "jwt-secret", "", "HS256 secret that signs and verifies access tokens (env WATCHIUM_JWT_SECRET; default: generated, kept in the data directory)")
	cmd.Flags().StringVar(&f.jwksURL, "jwks-url", "", "also accept ES256/RS256 tokens signed by the keys at this JWKS URL (a Supabase project's /auth/v1/.well-known/jwks.json)")
	cmd.Flags().DurationVar(&f.jwtExpiry, "jwt-expiry", time.Hour, "lifetime of the access tokens this server issues")
	cmd.Flags().BoolVar(&f.noAnonymous, "no-anonymous-signins", false, "refuse anonymous sign-ins (POST /auth/v1/signup)")
	cmd.Flags().IntVar(&f.signupsPerHour, "signups-per-hour", 30, "sign-ups one IP address may make per hour (-1: no limit)")
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
