package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/server"
)

func TestZZVariants(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip()
	}
	var rs []FanoutResult
	for _, cfg := range []FanoutConfig{
		{Rooms: 100, Members: 10, Messages: 50, Interval: 100 * time.Millisecond},
		{Rooms: 100, Members: 10, Messages: 50, Interval: 100 * time.Millisecond, Presence: true},
		{Rooms: 10, Members: 10, Messages: 50, Interval: 100 * time.Millisecond},
		{Rooms: 1, Members: 10, Messages: 50, Interval: 100 * time.Millisecond},
	} {
		url := inProcess(t, server.Config{})
		res, err := RunFanout(context.Background(), url, cfg)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, res)
	}
	var sb strings.Builder
	FormatTable(&sb, rs)
	t.Log("\n" + sb.String())
}
