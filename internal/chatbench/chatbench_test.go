package chatbench

import (
	"context"
	"testing"
	"time"
)

// TestEveryInsertIsDelivered runs a small benchmark and checks the harness
// itself: each insert reaches each listener once (no timing asserts).
func TestEveryInsertIsDelivered(t *testing.T) {
	r, err := Run(context.Background(), Config{Rooms: 3, Listeners: 2, Writers: 2, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Inserts == 0 || r.Delivered != r.Inserts*2 {
		t.Fatalf("%d inserts, %d deliveries, want %d", r.Inserts, r.Delivered, r.Inserts*2)
	}
}
