package server_test

// Concurrency stress: presence tracks, joins and leaves racing in the same
// rooms. Each goroutine owns one raw socket and waits for its own replies,
// so a lock-order deadlock in the server shows up as a reply that never
// comes (and /healthz, which takes the server lock, hanging).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/server"
)

const stall = 10 * time.Second

type rawConn struct {
	ws  *websocket.Conn
	ref int
	// seen collects user events of broadcasts read while waiting.
	seen map[string]bool
}

func dialRaw(ts *tserver) (*rawConn, error) {
	ws, _, err := dialErr(ts.wsURL("2.0.0", nil))
	if err != nil {
		return nil, err
	}
	return &rawConn{ws: ws, seen: map[string]bool{}}, nil
}

// send writes a v2 frame and returns its ref.
func (r *rawConn) send(joinRef, topic, event, payload string) (string, error) {
	r.ref++
	ref := fmt.Sprint(r.ref)
	if joinRef == "=" {
		joinRef = ref
	}
	jr := "null"
	if joinRef != "" {
		jr = `"` + joinRef + `"`
	}
	_ = r.ws.SetWriteDeadline(time.Now().Add(stall))
	return ref, r.ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `[%s,"%s","%s","%s",%s]`, jr, ref, topic, event, payload))
}

// await reads until the reply to ref and returns its status.
func (r *rawConn) await(ref string) (string, error) {
	for {
		_ = r.ws.SetReadDeadline(time.Now().Add(stall))
		_, data, err := r.ws.ReadMessage()
		if err != nil {
			return "", fmt.Errorf("waiting for reply %s: %w", ref, err)
		}
		var parts []json.RawMessage
		if json.Unmarshal(data, &parts) != nil || len(parts) != 5 {
			continue // binary broadcasts
		}
		var gotRef, ev string
		_ = json.Unmarshal(parts[1], &gotRef)
		_ = json.Unmarshal(parts[3], &ev)
		switch ev {
		case "phx_reply":
			if gotRef == ref {
				var p struct{ Status string }
				_ = json.Unmarshal(parts[4], &p)
				return p.Status, nil
			}
		case "broadcast":
			var p struct{ Event string }
			_ = json.Unmarshal(parts[4], &p)
			r.seen[p.Event] = true
		}
	}
}

func (r *rawConn) call(joinRef, topic, event, payload string) error {
	ref, err := r.send(joinRef, topic, event, payload)
	if err != nil {
		return err
	}
	st, err := r.await(ref)
	if err == nil && st != "ok" {
		err = fmt.Errorf("%s on %s: status %s", event, topic, st)
	}
	return err
}

// evicted reports whether the server dropped us as a slow reader (its
// policy when a client's send queue fills); under this flood on a shared
// 2-core box with -race that can happen and is not what is tested here.
func evicted(err error) bool {
	// call wraps the read error ("waiting for reply N: …"), which
	// websocket.IsCloseError does not look through.
	var ce *websocket.CloseError
	return errors.As(err, &ce) && ce.Code == websocket.CloseTryAgainLater
}

// healthy reports whether /healthz answers within a few seconds.
func healthy(ts *tserver) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// TestTrackWhileLeaving races presence tracks (room lock, then a fresh
// phx_ref from the server) against leaves of the same room (server lock,
// then room lock, to drop an empty room).
func TestTrackWhileLeaving(t *testing.T) {
	ts := start(t, server.Config{EventsPerSecond: 1 << 20})
	const rooms, trackers, churners, rounds = 4, 2, 2, 150
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, rooms*(trackers+churners))
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	var churnWG sync.WaitGroup
	for r := range rooms {
		topic := fmt.Sprintf("realtime:room:stress-%d", r)
		for i := range trackers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cfg := fmt.Sprintf(`{"config":{"presence":{"key":"t%d","enabled":true}}}`, i)
				var c *rawConn
				var jr string
				defer func() {
					if c != nil {
						c.ws.Close()
					}
				}()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					if c == nil {
						var err error
						if c, err = dialRaw(ts); err != nil {
							fail(err)
							return
						}
						if err := c.call("=", topic, "phx_join", cfg); err != nil {
							fail(err)
							return
						}
						jr = fmt.Sprint(c.ref)
					}
					p := fmt.Sprintf(`{"type":"presence","event":"track","payload":{"n":%d}}`, n)
					if err := c.call(jr, topic, "presence", p); err != nil {
						if evicted(err) {
							c.ws.Close()
							c = nil
							continue
						}
						fail(fmt.Errorf("tracker: %w", err))
						return
					}
				}
			}()
		}
		for range churners {
			churnWG.Add(1)
			go func() {
				defer churnWG.Done()
				var c *rawConn
				defer func() {
					if c != nil {
						c.ws.Close()
					}
				}()
				for range rounds {
					if c == nil {
						var err error
						if c, err = dialRaw(ts); err != nil {
							fail(err)
							return
						}
					}
					err := c.call("=", topic, "phx_join", `{"config":{"presence":{"key":"c","enabled":true}}}`)
					jr := fmt.Sprint(c.ref)
					if err == nil {
						err = c.call(jr, topic, "presence", `{"type":"presence","event":"track","payload":{}}`)
					}
					if err == nil {
						err = c.call(jr, topic, "phx_leave", `{}`)
					}
					if evicted(err) {
						c.ws.Close()
						c = nil
						continue
					}
					if err != nil {
						fail(fmt.Errorf("churner: %w", err))
						return
					}
				}
			}()
		}
	}
	churnWG.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !healthy(ts) {
			ts.wedged.Store(true)
			t.Fatalf("server deadlocked (/healthz hangs); first error: %v", err)
		}
		t.Fatal(err)
	}
}

// TestRoomHandoff has one member leave a room while another joins it, over
// and over. When the leaver drops the (momentarily empty) room while the
// joiner is being added to it, the joiner must not end up in a room nobody
// else can reach: an HTTP broadcast to the topic must always reach it.
func TestRoomHandoff(t *testing.T) {
	ts := start(t, server.Config{EventsPerSecond: 1 << 20})
	const pairs, rounds = 4, 150
	var wg sync.WaitGroup
	errs := make(chan error, pairs)
	for p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := fmt.Sprintf("room:handoff-%d", p)
			full := "realtime:" + topic
			x, err := dialRaw(ts)
			if err != nil {
				errs <- err
				return
			}
			defer x.ws.Close()
			y, err := dialRaw(ts)
			if err != nil {
				errs <- err
				return
			}
			defer y.ws.Close()
			if err := x.call("=", full, "phx_join", `{}`); err != nil {
				errs <- err
				return
			}
			in, out := y, x // in joins while out leaves
			for i := range rounds {
				jref, err1 := in.send("=", full, "phx_join", `{}`)
				lref, err2 := out.send(fmt.Sprint(out.ref), full, "phx_leave", `{}`)
				if err1 != nil || err2 != nil {
					errs <- fmt.Errorf("write: %v %v", err1, err2)
					return
				}
				if _, err := in.await(jref); err != nil {
					errs <- err
					return
				}
				if _, err := out.await(lref); err != nil {
					errs <- err
					return
				}
				ev := fmt.Sprintf("h%d", i)
				resp, err := http.Post(ts.URL+"/api/broadcast", "application/json",
					strings.NewReader(fmt.Sprintf(`{"messages":[{"topic":%q,"event":%q,"payload":{}}]}`, topic, ev)))
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				// The HTTP fan-out is done before the 202; a heartbeat
				// round trip flushes it to us.
				if err := in.call("", "phoenix", "heartbeat", `{}`); err != nil {
					errs <- err
					return
				}
				if !in.seen[ev] {
					errs <- fmt.Errorf("round %d: member that just joined %s missed a broadcast to it (orphaned room?)", i, full)
					return
				}
				in, out = out, in
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
