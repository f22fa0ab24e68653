package session

import (
	"context"
	"sync"
	"time"
)

// refreshMargin is how long before expiry a token is refreshed. supabase-js
// uses 90 s; a watch party's socket is closed by the server when its token
// runs out, so we leave ten minutes (or a third of a short token's life)
// for refreshes to be retried through an outage of the auth server or the
// network.
const refreshMargin = 10 * time.Minute

// RefreshAt is when s should be refreshed.
func RefreshAt(s Session) time.Time {
	life := time.Duration(s.ExpiresIn) * time.Second
	margin := min(refreshMargin, life/3)
	return s.Expiry().Add(-margin)
}

// retryDelay is how long to wait after a failed refresh (the server is
// down, the network is out) with left until the token expires.
func retryDelay(left time.Duration) time.Duration {
	return max(200*time.Millisecond, min(5*time.Second, left/4))
}

// Keeper holds a live session, refreshes it before it expires, saves each
// new one and tells listeners (the realtime client's SetAuth) the new
// access token. Safe for concurrent use.
type Keeper struct {
	client *Client
	store  Store
	server string

	mu        sync.Mutex
	cur       Session
	listeners []func(token string)
}

// NewKeeper keeps s, the session for server.
func NewKeeper(c *Client, st Store, server string, s *Session) *Keeper {
	return &Keeper{client: c, store: st, server: server, cur: *s}
}

// Session is the current session.
func (k *Keeper) Session() Session {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cur
}

// AccessToken is the current access token.
func (k *Keeper) AccessToken() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cur.AccessToken
}

// OnRefresh calls fn with every new access token.
func (k *Keeper) OnRefresh(fn func(token string)) {
	k.mu.Lock()
	k.listeners = append(k.listeners, fn)
	k.mu.Unlock()
}

// Refresh replaces the session with a fresh one. Another process using the
// same session file (a join and a say at once) may have refreshed already:
// its newer session is adopted rather than spending a refresh token that is
// no longer current, which the server would take for a replay.
func (k *Keeper) Refresh(ctx context.Context) error {
	k.mu.Lock()
	cur := k.cur
	k.mu.Unlock()
	refreshToken := cur.RefreshToken
	if saved, err := k.store.Load(k.server); err == nil && saved != nil && saved.User.ID == cur.User.ID && saved.RefreshToken != cur.RefreshToken {
		if saved.ExpiresAt > cur.ExpiresAt && time.Now().Before(RefreshAt(*saved)) {
			k.adopt(*saved)
			return nil
		}
		refreshToken = saved.RefreshToken
	}
	next, err := k.client.Refresh(ctx, refreshToken)
	if err != nil {
		return err
	}
	if err := k.store.Save(k.server, next); err != nil {
		return err
	}
	k.adopt(*next)
	return nil
}

func (k *Keeper) adopt(s Session) {
	k.mu.Lock()
	k.cur = s
	listeners := append([]func(string){}, k.listeners...)
	k.mu.Unlock()
	for _, fn := range listeners {
		fn(s.AccessToken)
	}
}

// Run refreshes the session before each expiry until ctx ends. A refresh
// that fails for a transient reason is retried until the token expires; one
// the server refuses for good (the session was signed out) is passed to
// onEnded and Run returns.
func (k *Keeper) Run(ctx context.Context, onEnded func(error)) {
	retryAt := time.Time{}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		due := RefreshAt(k.Session())
		if retryAt.After(due) {
			due = retryAt
		}
		// Expiry is wall-clock time, and a suspended laptop's timers do not
		// run: wake up at least every wakeEvery to compare with the clock.
		if wait := time.Until(due); wait > 0 {
			timer.Reset(min(wait, wakeEvery))
			continue
		}
		err := k.Refresh(ctx)
		switch {
		case err == nil:
			// A server issuing tokens that are stale at once must not make
			// this a busy loop.
			retryAt = time.Now().Add(time.Second)
		case ctx.Err() != nil:
			return
		case SessionEnded(err):
			if onEnded != nil {
				onEnded(err)
			}
			return
		default:
			retryAt = time.Now().Add(retryDelay(time.Until(k.Session().Expiry())))
		}
		timer.Reset(0)
	}
}

// wakeEvery bounds how long Run sleeps without looking at the clock.
const wakeEvery = 30 * time.Second
