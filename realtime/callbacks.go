package realtime

import "sync"

// maxQueued bounds the callbacks waiting to run (see callbackQueue).
const maxQueued = 4096

// callbackQueue runs user callbacks in order on one goroutine, so a slow
// handler never stalls the socket reader's bookkeeping, the writer or the
// heartbeats.
//
// It is bounded by backpressure, not by dropping. The socket reader, the
// only producer of data callbacks (broadcasts, presence, postgres changes,
// system messages), calls waitRoom before handling each frame and waits
// while maxQueued callbacks are queued. A handler that cannot keep up then
// slows the reading of this one socket: TCP pushes back on the server,
// which evicts a consumer that stays too slow, and the client reconnects.
// That is what Supabase does too, and it beats both unbounded memory and
// silently losing chat. Control callbacks (connection and subscription
// status) never wait: they can be pushed from the callback goroutine itself
// (a handler that calls Unsubscribe), where waiting would deadlock, and
// there are a few per channel at most, so they overshoot the bound by that
// much only.
type callbackQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	q      []func()
	closed bool
	room   chan struct{} // closed when the queue drops below maxQueued
	done   chan struct{}
}

func newCallbackQueue() *callbackQueue {
	q := &callbackQueue{done: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	go q.run()
	return q
}

func (q *callbackQueue) push(fn func()) {
	q.mu.Lock()
	if !q.closed {
		q.q = append(q.q, fn)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

// waitRoom returns true once fewer than maxQueued callbacks wait (or the
// queue is closed, when pushes are dropped anyway), false if cancel closes
// first.
func (q *callbackQueue) waitRoom(cancel <-chan struct{}) bool {
	for {
		q.mu.Lock()
		if q.closed || len(q.q) < maxQueued {
			q.mu.Unlock()
			return true
		}
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-cancel:
			return false
		}
	}
}

// len is how many callbacks wait to run.
func (q *callbackQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.q)
}

func (q *callbackQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.wakeLocked()
	q.cond.Signal()
	q.mu.Unlock()
}

func (q *callbackQueue) wakeLocked() {
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
}

func (q *callbackQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		for len(q.q) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.q) == 0 {
			q.mu.Unlock()
			return
		}
		fn := q.q[0]
		q.q[0] = nil
		q.q = q.q[1:]
		if len(q.q) < maxQueued {
			q.wakeLocked()
		}
		q.mu.Unlock()
		fn()
	}
}
