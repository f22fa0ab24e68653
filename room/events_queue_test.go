package room

import (
	"context"
	"github.com/watchium/watchium-tui/realtime"
	"testing"
	"time"
)

// A consumer that stops reading costs the room one snapshot, not one per
// change, and never a chat message.
func TestEventsQueueKeepsLatestSnapshotAndAllChat(t *testing.T) {
	r := New(fastConfig("ana", false), newFakeBus().channel("ana"), nil)
	// The forwarder holds at most one event while blocked on the
	// unbuffered side; the rest stay queued. Nobody reads.
	for i := 0; i < 3*maxQueuedEvents; i++ {
		r.emit(StateChanged{Snapshot: Snapshot{RoomID: "x"}})
		r.emit(Notice{Text: "n"})
		if i%10 == 0 {
			r.emit(ChatReceived{Comment: Comment{ID: string(rune('a' + i%26))}})
		}
	}
	r.out.mu.Lock()
	snaps, chats, total := 0, 0, len(r.out.items)
	for _, it := range r.out.items {
		switch it.(type) {
		case StateChanged:
			snaps++
		case ChatReceived:
			chats++
		}
	}
	r.out.mu.Unlock()
	if snaps > 1 {
		t.Errorf("%d snapshots queued; only the latest matters", snaps)
	}
	if total > maxQueuedEvents {
		t.Errorf("%d events queued, the bound is %d", total, maxQueuedEvents)
	}
	// Chat emitted: 3*max/10; of those, the ones the forwarder took into
	// its channel buffer (64) or hand are not in the queue.
	if want := 3*maxQueuedEvents/10 + 1; chats < want-cap(r.events)-2 {
		t.Errorf("%d chat messages queued of %d emitted: chat was dropped", chats, want)
	}
}

// Once Run has returned, a consumer that never reads does not keep the
// forwarder alive: Events closes within drainGrace.
func TestEventsCloseAfterRunEvenIfNobodyReads(t *testing.T) {
	r := New(fastConfig("ana", false), newFakeBus().channel("ana"), nil)
	for i := 0; i < 200; i++ {
		r.emit(Notice{Text: "n"})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	cancel()
	<-done
	// Nobody reads: the forwarder must give up and close Events.
	select {
	case <-r.forwarded:
	case <-time.After(drainGrace + 10*time.Second):
		t.Fatal("the event forwarder still runs after Run returned and nobody reads")
	}
	n := 0
	for range r.Events() {
		n++
	}
	if n >= 200 {
		t.Fatalf("read %d events: the forwarder did not give up", n)
	}
}

// A flooding member cannot grow a stalled room's inbound queue without
// bound, and the chat in the flood is kept.
func TestInboundQueueIsBoundedButKeepsChat(t *testing.T) {
	r := New(fastConfig("ana", false), newFakeBus().channel("ana"), nil)
	for i := 0; i < 2*maxQueuedInbound; i++ {
		r.HandleBroadcast(realtime.Broadcast{Event: TypeHeartbeat})
		if i%100 == 0 {
			r.HandlePresenceSync()
			r.HandleBroadcast(realtime.Broadcast{Event: TypeNewComment})
		}
	}
	r.in.mu.Lock()
	defer r.in.mu.Unlock()
	chats, presence := 0, 0
	for _, it := range r.in.items {
		switch v := it.(type) {
		case inBroadcast:
			if v.b.Event == TypeNewComment {
				chats++
			}
		case inPresence:
			presence++
		}
	}
	if len(r.in.items) > maxQueuedInbound+1 {
		t.Errorf("%d inbound items queued, the bound is %d", len(r.in.items), maxQueuedInbound)
	}
	if want := (2*maxQueuedInbound + 99) / 100; chats != want {
		t.Errorf("%d chat broadcasts kept of %d", chats, want)
	}
	if presence != 1 {
		t.Errorf("%d presence signals queued, want 1", presence)
	}
}
