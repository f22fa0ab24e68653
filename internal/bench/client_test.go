package bench

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/phx"
)

// The bench used to write its joins and tracks with fmt's %q, which is Go
// quoting, not JSON: a topic with a control character or invalid UTF-8
// became a frame no server could read. Built with phx they decode to what
// was meant, whatever the topic.
func TestFramesDecodeWithTheSharedCodec(t *testing.T) {
	for _, topic := range []string{"realtime:room:bench-1", "realtime:room:\x01odd", "realtime:room:caf\xe9", `realtime:room:"q"`} {
		join, err := joinFrame("7", topic, true)
		if err != nil {
			t.Fatalf("join %q: %v", topic, err)
		}
		m, err := phx.DecodeText(join)
		if err != nil {
			t.Fatalf("join for %q does not decode: %v\n%s", topic, err, join)
		}
		var cfg struct {
			Config struct {
				Presence struct {
					Enabled bool `json:"enabled"`
				} `json:"presence"`
			} `json:"config"`
		}
		if m.Event != phx.EventJoin || m.JoinRef != "7" || m.Ref != "7" || json.Unmarshal(m.Payload, &cfg) != nil || !cfg.Config.Presence.Enabled {
			t.Fatalf("join for %q decoded as %+v", topic, m)
		}
		if want := string([]rune(topic)); m.Topic != topic && m.Topic != want {
			t.Fatalf("join topic %q, want %q", m.Topic, topic)
		}
		track, err := trackFrame("7", "9", topic, 3, time.UnixMilli(1000))
		if err != nil {
			t.Fatalf("track: %v", err)
		}
		if m, err = phx.DecodeText(track); err != nil || m.Event != phx.EventPresence || m.Ref != "9" || !json.Valid(m.Payload) {
			t.Fatalf("track for %q: %+v %v", topic, m, err)
		}
	}
}

// delivery reads kind-4 frames by slicing them; it must not allocate, or
// the clients' cost grows into the latencies being measured.
func TestDeliveryDoesNotAllocate(t *testing.T) {
	frame, err := phx.EncodeUserBroadcast("realtime:room:bench-0", "tick", nil, phx.EncodingJSON, []byte(`{"t":12345,"s":1}`))
	if err != nil {
		t.Fatal(err)
	}
	r := &run{cfg: FanoutConfig{Messages: 1 << 30, Interval: time.Millisecond}, measured: make(chan struct{})}
	r.measLeft.Store(1 << 40)
	m := &member{room: &benchRoom{}, lat: make([]time.Duration, 0, 1<<12)}
	at := time.Now()
	if n := testing.AllocsPerRun(1000, func() { m.delivery(r, frame, at) }); n != 0 {
		t.Fatalf("delivery allocates %.1f times per frame", n)
	}
	if len(m.lat) == 0 {
		t.Fatal("delivery did not record the frame")
	}
}
