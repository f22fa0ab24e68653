package server_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/server"
)

// TestSlowClientEvicted: a member that stops reading must not hold up the
// sender or the other members; once its queue is full the server drops it.
func TestSlowClientEvicted(t *testing.T) {
	ts := start(t, server.Config{EventsPerSecond: 1 << 20})
	const topic = "realtime:room:slow"
	sender, fast := dial(t, ts, "2.0.0"), dial(t, ts, "2.0.0")
	sender.sendText(sender.frame("1", "1", topic, "phx_join", `{"config":{"broadcast":{"ack":true}}}`))
	if st, _ := sender.reply("1"); st != "ok" {
		t.Fatal("join")
	}
	fast.join(topic, cfgPlain)

	// The slow member joins, then never reads again.
	slow, _, err := dialErr(ts.wsURL("2.0.0", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := slow.WriteMessage(websocket.TextMessage, []byte(`["1","1","`+topic+`","phx_join",{}]`)); err != nil {
		t.Fatal(err)
	}
	_ = slow.SetReadDeadline(time.Now().Add(wait))
	for {
		_, data, err := slow.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(`"phx_reply"`)) {
			break
		}
	}

	// 200 × 200 KiB: far more than loopback socket buffers plus the
	// server's queue hold for a reader that does not read.
	payload := make([]byte, 200<<10)
	const n = 200
	for i := range n {
		ref := fmt.Sprint(100 + i)
		sender.sendBinary(kind3("1", ref, topic, fmt.Sprintf("b%d", i), nil, 0, payload))
		if st, _ := sender.reply(ref); st != "ok" {
			t.Fatalf("ack %d: %s", i, st)
		}
		if m := fast.expectBroadcast(fmt.Sprintf("b%d", i)); len(m.UserPayload) != len(payload) {
			t.Fatalf("fast member got %d bytes", len(m.UserPayload))
		}
	}
	// The slow member was dropped: after what the kernel buffered, its
	// socket ends.
	_ = slow.SetReadDeadline(time.Now().Add(wait))
	got := 0
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			if strings.Contains(err.Error(), "timeout") {
				t.Fatalf("slow member still connected after %d frames", got)
			}
			break
		}
		got++
	}
	if got >= n {
		t.Fatalf("slow member got all %d broadcasts; it was never evicted", got)
	}
	if !strings.Contains(ts.logs.String(), "evicting slow client") {
		t.Fatalf("no eviction logged")
	}
	t.Logf("slow member read %d of %d broadcasts before the server dropped it", got, n)
	stillWorks(t, ts, topic)
}
