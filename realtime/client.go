package realtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
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

// Connect dials the server once and returns its error, so a caller learns at
// once that nothing answers. After a successful first connection the client
// reconnects by itself whenever the socket drops, until Close.
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errors.New("realtime: Connect called twice")
	}
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return ErrClosed
	}
	c.started = true
	c.mu.Unlock()
	c.setState(ConnEvent{State: StateConnecting})
	conn, err := c.dial(ctx)
	if err != nil {
		c.mu.Lock()
		c.started = false
		closed := c.ctx.Err() != nil
		c.mu.Unlock()
		if closed {
			// Close ran during the dial and saw it started, so the
			// callback queue is ours to end.
			err = ErrClosed
		}
		c.setState(ConnEvent{State: StateClosed, Err: err})
		if closed {
			c.cb.close()
		}
		return err
	}
	if c.afterDial != nil {
		c.afterDial()
	}
	s := newSession(c, conn)
	if !c.openSession(s) {
		c.setState(ConnEvent{State: StateClosed, Err: ErrClosed})
		c.cb.close()
		return ErrClosed
	}
	go c.run(s)
	return nil
}

func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	conn, resp, err := c.dialer.DialContext(ctx, c.endpoint, c.opts.Header)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			var body [512]byte
			n, _ := resp.Body.Read(body[:])
			msg := strings.TrimSpace(string(body[:n]))
			return nil, fmt.Errorf("realtime: server at %s refused the connection: HTTP %d %s", redact(c.endpoint), resp.StatusCode, msg)
		}
		return nil, fmt.Errorf("realtime: cannot reach %s: %w", redact(c.endpoint), err)
	}
	return conn, nil
}

// redact hides the api key in URLs that end up in errors and logs.
func redact(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	q := u.Query()
	if q.Has("apikey") {
		q.Set("apikey", "…")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// run owns the connection lifecycle: one session at a time, reconnecting
// with backoff when it ends.
func (c *Client) run(s *session) {
	attempt := 0
	for {
		err := s.wait()
		c.closeSession(s, err)
		if c.ctx.Err() != nil {
			c.setState(ConnEvent{State: StateClosed, Err: ErrClosed})
			c.cb.close()
			return
		}
		for {
			attempt++
			c.setState(ConnEvent{State: StateReconnecting, Attempt: attempt, Err: err})
			if !c.sleep(c.backoff(attempt)) {
				c.setState(ConnEvent{State: StateClosed, Err: ErrClosed})
				c.cb.close()
				return
			}
			var conn *websocket.Conn
			if conn, err = c.dial(c.ctx); err == nil {
				attempt = 0
				if c.afterDial != nil {
					c.afterDial()
				}
				s = newSession(c, conn)
				if !c.openSession(s) {
					c.setState(ConnEvent{State: StateClosed, Err: ErrClosed})
					c.cb.close()
					return
				}
				break
			}
			c.log.Debug("reconnect failed", "attempt", attempt, "err", err)
		}
	}
}

func (c *Client) backoff(attempt int) time.Duration {
	b := c.opts.Backoff
	d := b[min(attempt, len(b))-1]
	j := c.opts.Jitter
	if j > 0 {
		d = time.Duration(float64(d) * (1 + j*(2*rand.Float64()-1)))
	}
	return d
}

func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

func (c *Client) setState(ev ConnEvent) {
	c.mu.Lock()
	c.state = ev.State
	hs := append(([]func(ConnEvent))(nil), c.stateHandlers...)
	c.mu.Unlock()
	for _, h := range hs {
		c.cb.push(func() { h(ev) })
	}
}

// openSession makes s the client's connection and rejoins the channels. It
// refuses (closing s) once Close has run: a dial that finished after Close
// must not bring the client back to life.
func (c *Client) openSession(s *session) bool {
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		s.close(websocket.CloseNormalClosure, "client closed")
		return false
	}
	c.sess = s
	var joins []outFrame
	for _, ch := range c.channels {
		if f, ok := ch.joinFrameLocked(s); ok {
			joins = append(joins, f)
		}
	}
	c.mu.Unlock()
	go s.writeLoop()
	go s.readLoop()
	go s.heartbeatLoop()
	c.setState(ConnEvent{State: StateOpen})
	for _, f := range joins {
		s.send(f)
	}
	return true
}

// closeSession moves every channel to errored and keeps unacknowledged
// pushes for resending after the rejoin.
func (c *Client) closeSession(s *session, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == s {
		c.sess = nil
	}
	type unacked struct {
		ref uint64
		pr  *pendingReply
	}
	var resend []unacked
	for ref, pr := range c.pending {
		delete(c.pending, ref)
		switch {
		case pr.p != nil && pr.ch != nil:
			n, _ := strconv.ParseUint(ref, 10, 64)
			resend = append(resend, unacked{n, pr})
		case pr.p != nil && pr.p.done != nil:
			pr.p.done <- fmt.Errorf("realtime: connection lost: %w", err)
		}
	}
	// The map forgot the order they were sent in; refs remember it, and chat
	// must come back in the order it was typed. They go before the outbox,
	// which only holds pushes made after these.
	slices.SortFunc(resend, func(a, b unacked) int { return cmp.Compare(a.ref, b.ref) })
	first := map[*Channel][]*push{}
	for _, u := range resend {
		first[u.pr.ch] = append(first[u.pr.ch], u.pr.p)
	}
	for ch, ps := range first {
		ch.outbox = append(ps, ch.outbox...)
	}
	for _, ch := range c.channels {
		ch.connectionLostLocked(err)
	}
}

// Close stops the client for good: channels close, pending calls fail with
// ErrClosed, a dial in progress is abandoned and no reconnect follows; every
// later call returns an error at once. It is idempotent.
//
// The context is cancelled under c.mu, so whoever holds the lock sees
// c.ctx.Err() and c.started consistently: the callback queue is closed by
// exactly one of Close (nothing started), Connect (its dial lost the race)
// or run (the connection's owner).
func (c *Client) Close() error {
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return nil
	}
	c.cancel()
	s := c.sess
	started := c.started
	for _, ch := range c.channels {
		ch.closeLocked(ErrClosed)
	}
	c.mu.Unlock()
	if s != nil {
		s.close(websocket.CloseNormalClosure, "client closed")
	}
	if !started {
		c.cb.close()
	}
	return nil
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
