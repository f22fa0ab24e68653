// The connection lifecycle: connect, reconnect with backoff, open and close
// sessions, and the final Close.

package realtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

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
	// gorilla heeds ctx only until TCP connects, and then only its
	// deadline: a server that accepts but never answers the upgrade would
	// hold Close (or the caller's cancel) for the whole timeout. Closing
	// the socket when ctx ends abandons the handshake at once.
	d := c.dialer
	var mu sync.Mutex
	var unwatch []func() bool
	d.NetDialContext = func(hctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(hctx, network, addr)
		if err == nil {
			// Watch our ctx, not gorilla's hctx: gorilla cancels hctx as
			// DialContext returns, which would close a good connection.
			mu.Lock()
			unwatch = append(unwatch, context.AfterFunc(ctx, func() { _ = conn.Close() }))
			mu.Unlock()
		}
		return conn, err
	}
	conn, resp, err := d.DialContext(ctx, c.endpoint, c.opts.Header)
	mu.Lock()
	for _, u := range unwatch {
		if !u() && err == nil {
			conn.Close() // ctx ended just as the handshake finished
			err = ctx.Err()
		}
	}
	mu.Unlock()
	if err != nil {
		if resp == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
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
			if c.ctx.Err() != nil {
				// Closed while a dial was failing: no "reconnecting"
				// after Close.
				c.setState(ConnEvent{State: StateClosed, Err: ErrClosed})
				c.cb.close()
				return
			}
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
