package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/phx"
)

// Defaults match realtime-js 2.119 so our client behaves like the reference
// one towards a real Supabase server.
var (
	DefaultHeartbeat = 25 * time.Second
	DefaultTimeout   = 10 * time.Second
	DefaultBackoff   = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second}
)

// DefaultPushBuffer is how many pushes a channel holds while disconnected.
const DefaultPushBuffer = 100

// Options configure a Client. Zero values mean the defaults.
type Options struct {
	APIKey      string
	AccessToken string // sent on join; defaults to APIKey
	VSN         string // phx.VSN2 (default) or phx.VSN1

	Heartbeat  time.Duration   // interval, and the time allowed for its reply
	Timeout    time.Duration   // default for pushes whose ctx has no deadline
	Backoff    []time.Duration // reconnect and rejoin delays; the last repeats
	Jitter     float64         // fraction of random spread on each delay (default 0.2)
	PushBuffer int

	Logger *slog.Logger
	Debug  bool // log every frame in and out
	Header http.Header
}

// Client is one WebSocket connection to a Realtime server, shared by any
// number of channels. It reconnects by itself until Close.
type Client struct {
	endpoint string
	opts     Options
	log      *slog.Logger
	dialer   websocket.Dialer

	ctx    context.Context
	cancel context.CancelFunc
	cb     *callbackQueue
	refSeq atomic.Uint64
	rtt    atomic.Int64

	mu            sync.Mutex
	state         ConnState
	sess          *session
	channels      map[string]*Channel
	pending       map[string]*pendingReply
	stateHandlers []func(ConnEvent)
	started       bool
	accessToken   string

	afterDial func() // tests: runs between a successful dial and openSession
}

type pendingReply struct {
	ch      *Channel // nil for heartbeats
	join    bool
	joinRef string
	p       *push
}

// NewClient prepares a client for the project at projectURL: a Supabase
// project URL (https://xyz.supabase.co), our embedded server
// (http://127.0.0.1:4000), or a full ws(s):// socket URL.
func NewClient(projectURL string, opts Options) (*Client, error) {
	ep, err := SocketURL(projectURL, opts.APIKey, opts.VSN)
	if err != nil {
		return nil, err
	}
	if opts.VSN == "" {
		opts.VSN = phx.VSN2
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if len(opts.Backoff) == 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.Jitter == 0 {
		opts.Jitter = 0.2
	}
	if opts.PushBuffer <= 0 {
		opts.PushBuffer = DefaultPushBuffer
	}
	if opts.AccessToken == "" {
		opts.AccessToken = opts.APIKey
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		endpoint:    ep,
		opts:        opts,
		log:         log,
		dialer:      websocket.Dialer{HandshakeTimeout: opts.Timeout, Proxy: http.ProxyFromEnvironment},
		ctx:         ctx,
		cancel:      cancel,
		cb:          newCallbackQueue(),
		channels:    map[string]*Channel{},
		pending:     map[string]*pendingReply{},
		accessToken: opts.AccessToken,
	}
	return c, nil
}

// SocketURL turns a project URL into the Realtime WebSocket URL.
func SocketURL(projectURL, apiKey, vsn string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(projectURL))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("realtime: %q is not a server URL: want e.g. http://127.0.0.1:4000 or https://xyz.supabase.co", projectURL)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("realtime: unsupported scheme %q in %q: use http, https, ws or wss", u.Scheme, projectURL)
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(p, "/websocket"):
	case strings.HasSuffix(p, "/realtime/v1"):
		p += "/websocket"
	default:
		p += "/realtime/v1/websocket"
	}
	u.Path = p
	q := u.Query()
	if apiKey != "" {
		q.Set("apikey", apiKey)
	}
	if vsn == "" {
		vsn = phx.VSN2
	}
	if vsn != phx.VSN1 && vsn != phx.VSN2 {
		return "", fmt.Errorf("realtime: unsupported protocol version %q (want %s or %s)", vsn, phx.VSN1, phx.VSN2)
	}
	q.Set("vsn", vsn)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Endpoint is the WebSocket URL this client dials.
func (c *Client) Endpoint() string { return c.endpoint }

// OnState registers a handler for connection state changes. Handlers run in
// order on the client's callback goroutine.
func (c *Client) OnState(fn func(ConnEvent)) {
	c.mu.Lock()
	c.stateHandlers = append(c.stateHandlers, fn)
	c.mu.Unlock()
}

// State is the socket's current state.
func (c *Client) State() ConnState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// RTT is the round-trip time of the latest heartbeat (0 before the first).
func (c *Client) RTT() time.Duration { return time.Duration(c.rtt.Load()) }

func (c *Client) nextRef() string { return strconv.FormatUint(c.refSeq.Add(1), 10) }

func (c *Client) setState(ev ConnEvent) {
	c.mu.Lock()
	c.state = ev.State
	hs := append(([]func(ConnEvent))(nil), c.stateHandlers...)
	c.mu.Unlock()
	for _, h := range hs {
		c.cb.push(func() { h(ev) })
	}
}

// Ping sends a heartbeat now and returns its round trip.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	c.mu.Lock()
	s := c.sess
	closed := c.ctx.Err() != nil
	c.mu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	if s == nil {
		return 0, errors.New("realtime: not connected")
	}
	return s.ping(ctx)
}

// send writes a frame on the current session, if any.
func (c *Client) sendFrame(f outFrame) bool {
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s == nil {
		return false
	}
	return s.send(f)
}
