// Package server is the embedded Supabase-Realtime-compatible server that
// ships inside watchium-tui: Phoenix channels over WebSocket with broadcast
// and presence, the HTTP broadcast endpoint and a health check. Unmodified
// @supabase/realtime-js clients and our own realtime package both talk to it.
package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
)

// Config tunes the server. Zero values mean the defaults.
type Config struct {
	// AnonKey, when set, must be presented as the apikey query parameter or
	// the apikey/x-api-key header; when empty the server is open.
	AnonKey string
	// MaxFrameBytes bounds one inbound frame (default 1 MiB); a larger frame
	// closes the connection with 1009.
	MaxFrameBytes int64
	// MaxChannels bounds the channels one connection may join (default 100).
	MaxChannels int
	// EventsPerSecond bounds the broadcast and presence events one connection
	// may send per second, with a burst of twice that (default 100). Beyond it
	// the channel gets a system error and is closed, as on Supabase.
	EventsPerSecond int
	// RoomEventsPerSecond bounds the broadcast and presence events one room
	// takes from all its members together (default 1000, with a burst of as
	// many), so several senders cannot together flood everyone's queues.
	// Beyond it an event is refused with an error reply; nobody is closed.
	RoomEventsPerSecond int
	// IdleTimeout drops a connection that sends nothing, not even a
	// heartbeat, for this long (default 60 s).
	IdleTimeout time.Duration
	// MaxPayloadBytes bounds a broadcast's payload (default 256 KiB).
	MaxPayloadBytes int
	// Store, when set, keeps rooms, members and comments, serves them over
	// a PostgREST-like /rest/v1 and /functions/v1/sync/control, and feeds
	// postgres_changes. Without it those endpoints answer 404.
	Store *store.Store
	// Auth, when set, serves Supabase Auth's subset under /auth/v1 and
	// verifies access tokens with its secret (and JWKS). Without it every
	// JWT is refused (there is nothing to verify it with) and clients are
	// the anon role.
	Auth *auth.Service
	// InviteKey derives private rooms' invite codes; it must stay the same
	// across restarts, or members are shown codes that no longer match.
	// Default: derived from Auth's JWT secret; random without Auth.
	InviteKey []byte
	// HostGrace is how long a room's host may be gone before the server
	// elects its successor (default 2 s, as the clients wait).
	HostGrace time.Duration
	// SupabaseLike makes the server behave as Supabase Realtime does: it
	// checks who may join a channel (private rooms stay members-only) but
	// not who sends each message on it. Sender ids are not stamped,
	// host-only events and presence claims are not checked, and no
	// successor is elected or announced; host changes are recorded only by
	// claim_host and hand_over. It exists to test what clients must do
	// themselves on Supabase.
	SupabaseLike bool
	Logger       *slog.Logger
}

// Server is an http.Handler serving the Realtime endpoints.
type Server struct {
	cfg      Config
	log      *slog.Logger
	upgrader websocket.Upgrader
	mux      *http.ServeMux
	verifier *auth.Verifier

	mu      sync.Mutex
	rooms   map[string]*room
	conns   map[*conn]struct{}
	closing bool
	connsWG sync.WaitGroup
	refSeq  uint64
	bufPool sync.Pool
	started time.Time

	pgMu   sync.Mutex
	pgSubs map[*subscription]struct{}

	hosts     hosts
	inviteKey []byte
}

// New returns a server with cfg.
func New(cfg Config) *Server {
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = 1 << 20
	}
	if cfg.MaxChannels <= 0 {
		cfg.MaxChannels = 100
	}
	if cfg.EventsPerSecond <= 0 {
		cfg.EventsPerSecond = 100
	}
	if cfg.RoomEventsPerSecond <= 0 {
		cfg.RoomEventsPerSecond = 1000
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.MaxPayloadBytes <= 0 {
		cfg.MaxPayloadBytes = 256 << 10
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:     cfg,
		log:     log,
		rooms:   map[string]*room{},
		conns:   map[*conn]struct{}{},
		started: time.Now(),
		pgSubs:  map[*subscription]struct{}{},
		hosts:   hosts{by: map[string]*hostState{}},
	}
	s.inviteKey = cfg.InviteKey
	if len(s.inviteKey) == 0 && cfg.Auth != nil {
		s.inviteKey = cfg.Auth.DeriveKey("watchium invite codes v1")
	}
	if len(s.inviteKey) == 0 {
		s.inviteKey = make([]byte, 32)
		_, _ = rand.Read(s.inviteKey)
	}
	if cfg.Auth != nil {
		s.verifier = cfg.Auth.Verifier()
	} else {
		s.verifier = auth.NewVerifier(nil, "")
	}
	s.upgrader = websocket.Upgrader{
		// Small buffers and a shared write pool keep idle connections cheap.
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
		WriteBufferPool: &s.bufPool,
		// Browsers send an Origin; realtime-js from any page must connect,
		// exactly as with Supabase.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /realtime/v1/websocket", s.serveWS)
	mux.HandleFunc("GET /socket/websocket", s.serveWS)
	mux.HandleFunc("POST /realtime/v1/api/broadcast", s.serveBroadcastBatch)
	mux.HandleFunc("POST /api/broadcast", s.serveBroadcastBatch)
	mux.HandleFunc("POST /realtime/v1/api/broadcast/{topic}/events/{event}", s.serveBroadcastOne)
	mux.HandleFunc("POST /api/broadcast/{topic}/events/{event}", s.serveBroadcastOne)
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("/rest/v1/{table}", s.serveREST)
	mux.HandleFunc("POST /rest/v1/rpc/{fn}", s.serveRPC)
	mux.HandleFunc("POST /functions/v1/sync/control", s.serveSyncControl)
	if cfg.Auth != nil {
		mux.Handle("/auth/v1/", s.withAPIKey(cfg.Auth))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path+" (websocket: /realtime/v1/websocket)")
	})
	s.mux = mux
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// authorize checks the api key the way Supabase's gateway reads it.
func (s *Server) authorize(r *http.Request) (int, string) {
	if s.cfg.AnonKey == "" {
		return 0, ""
	}
	key := r.Header.Get("x-api-key")
	if key == "" {
		key = r.Header.Get("apikey")
	}
	if key == "" {
		key = r.URL.Query().Get("apikey")
	}
	if key == "" {
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			key = bearer
		}
	}
	if key == "" {
		return http.StatusUnauthorized, "API key is missing: pass ?apikey=KEY (watchium-tui: --key or WATCHIUM_KEY)"
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.AnonKey)) != 1 {
		return http.StatusUnauthorized, "Invalid API key: it does not match this server's --anon-key"
	}
	return 0, ""
}

// withAPIKey checks the API key before h, answering as Supabase's gateway
// does for the auth endpoints.
func (s *Server) withAPIKey(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AnonKey != "" {
			key := r.Header.Get("apikey")
			if key == "" {
				key = r.URL.Query().Get("apikey")
			}
			if subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.AnonKey)) != 1 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_ = json.NewEncoder(w).Encode(map[string]string{"message": "Invalid API key", "hint": "pass this server's --anon-key as the apikey header (watchium-tui: --key or WATCHIUM_KEY)"})
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	n, rooms := len(s.conns), len(s.rooms)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "ok", "service": "watchium-realtime", "connections": n, "rooms": rooms,
		"uptime_s": int(time.Since(s.started).Seconds()),
	})
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if code, msg := s.authorize(r); code != 0 {
		writeJSONError(w, code, msg)
		return
	}
	vsn := r.URL.Query().Get("vsn")
	if vsn == "" {
		vsn = "1.0.0"
	}
	if vsn != "1.0.0" && vsn != "2.0.0" {
		writeJSONError(w, http.StatusForbidden, "unsupported vsn "+vsn+": use 1.0.0 or 2.0.0")
		return
	}
	s.mu.Lock()
	closing := s.closing
	if !closing {
		s.connsWG.Add(1)
	}
	s.mu.Unlock()
	if closing {
		writeJSONError(w, http.StatusServiceUnavailable, "server is shutting down")
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.connsWG.Done()
		return // Upgrade already answered
	}
	c := newConn(s, ws, vsn)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	// Read on a goroutine of our own and let the handler return: as long as
	// it runs, net/http keeps its per-connection state alive (4 KiB read
	// and 4 KiB write buffers, the request, a deep stack), about 12 KiB per
	// idle connection that nothing uses after the hijack. Returning ends
	// net/http's goroutine, so the goroutine count is the same.
	go c.readLoop()
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.connsWG.Done()
}

// room returns the room for topic, creating it if asked.
func (s *Server) room(topic string, create bool) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[topic]
	if r == nil && create {
		r = &room{topic: topic, subs: map[*subscription]struct{}{}, presence: map[string][]*presenceMeta{}}
		s.rooms[topic] = r
	}
	return r
}

// lockRoom returns the room for topic, created if needed, with its lock
// held. Taking the room lock before releasing the server lock (the order
// dropRoomIfEmpty uses) means the room cannot be dropped as empty between
// the lookup and the caller adding its member, which would leave that
// member in a room no one else can reach.
func (s *Server) lockRoom(topic string) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[topic]
	if r == nil {
		r = &room{topic: topic, subs: map[*subscription]struct{}{}, presence: map[string][]*presenceMeta{}}
		s.rooms[topic] = r
	}
	r.mu.Lock()
	return r
}

// dropRoomIfEmpty forgets a room nobody is in, so idle rooms cost nothing.
func (s *Server) dropRoomIfEmpty(r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	empty := len(r.subs) == 0 && len(r.presence) == 0
	r.mu.Unlock()
	if empty && s.rooms[r.topic] == r {
		delete(s.rooms, r.topic)
	}
}

func (s *Server) nextPhxRef() string {
	s.mu.Lock()
	s.refSeq++
	n := s.refSeq
	s.mu.Unlock()
	return phxRef(n)
}

// Shutdown closes every connection with 1012 (service restart), so clients
// reconnect elsewhere or later, and waits for their goroutines.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(websocket.CloseServiceRestart, "server shutting down")
	}
	done := make(chan struct{})
	go func() { s.connsWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("server: connections still open at shutdown deadline")
	}
}

// Stats reports what the server holds, for health checks and benchmarks.
type Stats struct {
	Connections int
	Rooms       int
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Connections: len(s.conns), Rooms: len(s.rooms)}
}

// Start serves on ln in the background. stop closes the listener, then
// every connection, waiting up to five seconds for them to finish.
func (s *Server) Start(ln net.Listener) (stop func() error) {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() {
			// Listener first so nobody new arrives; hijacked WebSockets are
			// not closed by http.Server, so Shutdown drains them.
			_ = hs.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = s.Shutdown(ctx)
			if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
				err = serr
			}
		})
		return err
	}
}
