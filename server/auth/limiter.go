package auth

import (
	"sync"
	"time"
)

// limiter is a token bucket per client IP: n requests per window, refilled
// continuously.
type limiter struct {
	n      float64
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxTrackedIPs bounds the limiter's memory; beyond it, full buckets
// (which hold no information) are forgotten.
const maxTrackedIPs = 10000

func newLimiter(n int, window time.Duration) *limiter {
	return &limiter{n: float64(n), window: window, now: time.Now, buckets: map[string]*bucket{}}
}

func (l *limiter) refill(b *bucket, now time.Time) {
	b.tokens = min(l.n, b.tokens+now.Sub(b.last).Seconds()/l.window.Seconds()*l.n)
	b.last = now
}

func (l *limiter) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[ip]
	if b == nil {
		if len(l.buckets) >= maxTrackedIPs {
			for k, old := range l.buckets {
				if l.refill(old, now); old.tokens >= l.n {
					delete(l.buckets, k)
				}
			}
		}
		b = &bucket{tokens: l.n, last: now}
		l.buckets[ip] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
