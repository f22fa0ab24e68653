package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/phx"
)

// MeasureIdleRSS opens conns WebSockets to the server at url, each joined to
// a room (10 per room, like small watch parties, no presence), and returns
// the growth of rss() per connection in KiB. rss reports the server's
// resident set in bytes: ProcRSS(pid) for a server in another process (the
// fair measurement), or ProcRSS(0) for one in this process, in which case
// the clients' own cost is included and the result overstates the server's.
func MeasureIdleRSS(ctx context.Context, url string, conns int, rss func() (int64, error)) (float64, error) {
	if conns < 1 || conns > MaxConns {
		return 0, fmt.Errorf("bench: conns must be 1..%d", MaxConns)
	}
	wsURL, err := socketURL(url)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, MaxRunTime)
	defer cancel()
	// For an in-process server this returns freed memory first; for another
	// process it only tidies ours.
	runtime.GC()
	debug.FreeOSMemory()
	before, err := rss()
	if err != nil {
		return 0, err
	}
	dialer := newDialer()
	wss := make([]*websocket.Conn, conns)
	defer func() {
		for _, ws := range wss {
			if ws != nil {
				_ = ws.Close()
			}
		}
	}()
	sem := make(chan struct{}, dialParallel)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for i := range conns {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return 0, ctx.Err()
		case err := <-errc:
			wg.Wait()
			return 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ws, err := idleJoin(ctx, dialer, wsURL, fmt.Sprintf("realtime:room:idle-%d", i/10))
			wss[i] = ws
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return 0, err
	default:
	}
	runtime.GC()
	debug.FreeOSMemory()
	after, err := rss()
	if err != nil {
		return 0, err
	}
	return float64(after-before) / 1024 / float64(conns), nil
}

// idleJoin dials, joins topic, reads the join reply and leaves the socket
// idle (unread) from then on.
func idleJoin(ctx context.Context, d *websocket.Dialer, wsURL, topic string) (*websocket.Conn, error) {
	ws, _, err := d.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: dial: %w", err)
	}
	join, err := joinFrame("1", topic, false)
	if err != nil {
		return ws, err
	}
	if err := ws.WriteMessage(websocket.TextMessage, join); err != nil {
		return ws, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return ws, fmt.Errorf("bench: waiting for join reply: %w", err)
		}
		m, err := phx.DecodeText(data)
		if err != nil {
			continue
		}
		if m.Event == phx.EventReply && m.Ref == "1" && m.Topic == topic {
			var p struct {
				Status string `json:"status"`
			}
			if json.Unmarshal(m.Payload, &p) != nil || p.Status != "ok" {
				return ws, fmt.Errorf("bench: join refused: %s", data)
			}
			_ = ws.SetReadDeadline(time.Time{})
			return ws, nil
		}
	}
}
