package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/phx"
	"github.com/watchium/watchium-tui/realtime"
)

// socketURL turns a server URL into the vsn 2.0.0 WebSocket URL and refuses
// anything but loopback.
func socketURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("bench: bad server URL %q: %w", raw, err)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("bench: refusing to load %q: only loopback servers (127.0.0.1, ::1, localhost) may be benchmarked", host)
	}
	return realtime.SocketURL(raw, u.Query().Get("apikey"), phx.VSN2)
}

func newDialer() *websocket.Dialer {
	return &websocket.Dialer{
		ReadBufferSize:   512,
		WriteBufferSize:  512,
		WriteBufferPool:  &sync.Pool{},
		HandshakeTimeout: 10 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return nil, fmt.Errorf("bench: refusing to dial non-loopback %s", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// member is one client socket.
type member struct {
	ws      *websocket.Conn
	room    *benchRoom
	joinRef string
	ref     int
	wmu     sync.Mutex // sender and presence goroutines share the socket

	buf    bytes.Buffer
	joined chan error
	lat    []time.Duration
	warm   bool
	done   chan struct{} // reader ended
	err    error         // why the reader ended, if not by our close
}

func (m *member) nextRef() string {
	m.ref++
	return strconv.Itoa(m.ref)
}

func (m *member) writeText(b []byte) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	_ = m.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return m.ws.WriteMessage(websocket.TextMessage, b)
}

// joinFrame is the phx_join realtime-js sends for a public channel without
// acks, with presence as asked.
func joinFrame(joinRef, topic string, presence bool) ([]byte, error) {
	payload, err := json.Marshal(map[string]any{"config": map[string]any{
		"broadcast":        map[string]bool{"ack": false, "self": false},
		"presence":         map[string]any{"key": "", "enabled": presence},
		"postgres_changes": []any{},
		"private":          false,
	}})
	if err != nil {
		return nil, err
	}
	return phx.EncodeText(phx.VSN2, phx.Message{JoinRef: joinRef, Ref: joinRef, Topic: topic, Event: phx.EventJoin, Payload: payload})
}

// trackFrame is a presence track whose payload changes with n, so every
// track fans out a diff.
func trackFrame(joinRef, ref, topic string, n int, at time.Time) ([]byte, error) {
	payload := fmt.Appendf(nil, `{"type":"presence","event":"track","payload":{"n":%d,"online_at":%d}}`, n, at.UnixMilli())
	return phx.EncodeText(phx.VSN2, phx.Message{JoinRef: joinRef, Ref: ref, Topic: topic, Event: phx.EventPresence, Payload: payload})
}

// readLoop handles everything a member receives.
func (m *member) readLoop(r *run) {
	defer close(m.done)
	for {
		kind, rd, err := m.ws.NextReader()
		if err != nil {
			if !r.closing.Load() {
				m.err = err
				if websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
					r.evictions.Add(1)
				}
				r.fail(fmt.Errorf("bench: member of %s disconnected: %w", m.room.topic, err))
			}
			return
		}
		at := time.Now()
		m.buf.Reset()
		if _, err := m.buf.ReadFrom(rd); err != nil {
			continue
		}
		data := m.buf.Bytes()
		if kind == websocket.BinaryMessage {
			m.delivery(r, data, at)
		} else {
			m.text(r, data)
		}
	}
}

// delivery handles a kind-4 frame. It only slices the frame (no copies, no
// JSON), so the clients' own cost stays small next to the server's.
func (m *member) delivery(r *run, data []byte, at time.Time) {
	b, err := phx.SplitUserBroadcast(data)
	if err != nil {
		return
	}
	sent, ok := sendTime(b.Payload)
	if !ok {
		return
	}
	switch string(b.Event) {
	case "warm":
		if !m.warm {
			m.warm = true
			if r.warmLeft.Add(-1) == 0 {
				close(r.warmed)
			}
		}
	case "tick":
		if len(m.lat) >= r.cfg.Messages {
			return
		}
		m.lat = append(m.lat, at.Sub(time.Unix(0, sent)))
		if r.cfg.Interval == 0 && m.room.pending.Add(-1) == 0 {
			m.room.ack <- struct{}{}
		}
		if r.measLeft.Add(-1) == 0 {
			close(r.measured)
		}
	}
}

// sendTime reads t from the payload {"t":<unix ns>,…} that send writes.
func sendTime(p []byte) (int64, bool) {
	rest, ok := bytes.CutPrefix(p, []byte(`{"t":`))
	if !ok {
		return 0, false
	}
	var n int64
	i := 0
	for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
		n = n*10 + int64(rest[i]-'0')
	}
	return n, i > 0
}

func (m *member) text(r *run, data []byte) {
	msg, err := phx.DecodeText(data)
	if err != nil {
		return
	}
	switch msg.Event {
	case phx.EventReply:
		if msg.Ref == m.joinRef && m.joined != nil {
			var p struct {
				Status   string          `json:"status"`
				Response json.RawMessage `json:"response"`
			}
			_ = json.Unmarshal(msg.Payload, &p)
			if p.Status == "ok" {
				m.joined <- nil
			} else {
				m.joined <- fmt.Errorf("bench: join %s refused: %s", m.room.topic, p.Response)
			}
			m.joined = nil
		}
	case phx.EventSystem, phx.EventClose, phx.EventError:
		var p struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal(msg.Payload, &p)
		if msg.Event != phx.EventSystem || p.Status == "error" {
			r.fail(fmt.Errorf("bench: server sent %s on %s: %s (is the sender over the server's events-per-second limit?)", msg.Event, m.room.topic, msg.Payload))
		}
	}
}

func (m *member) connect(ctx context.Context, d *websocket.Dialer, wsURL string, r *run) error {
	ws, resp, err := d.DialContext(ctx, wsURL, nil)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			return fmt.Errorf("bench: dial: HTTP %d %s", resp.StatusCode, bytes.TrimSpace(body))
		}
		return fmt.Errorf("bench: dial: %w", err)
	}
	m.ws = ws
	m.joinRef = m.nextRef()
	m.joined = make(chan error, 1)
	joined := m.joined
	go m.readLoop(r)
	join, err := joinFrame(m.joinRef, m.room.topic, r.cfg.Presence)
	if err != nil {
		return err
	}
	if err := m.writeText(join); err != nil {
		return fmt.Errorf("bench: join: %w", err)
	}
	select {
	case err := <-joined:
		return err
	case <-m.done:
		return fmt.Errorf("bench: connection closed while joining: %v", m.err)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return errors.New("bench: no join reply within 10 s")
	}
}

// send pushes one broadcast whose payload carries its send time.
func (m *member) send(event string, seq int) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.ref++
	now := time.Now().UnixNano()
	payload := fmt.Appendf(nil, `{"t":%d,"s":%d}`, now, seq)
	frame, err := phx.EncodeUserPush(m.joinRef, strconv.Itoa(m.ref), m.room.topic, event, nil, phx.EncodingJSON, payload)
	if err != nil {
		return err
	}
	_ = m.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := m.ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		return fmt.Errorf("bench: send: %w", err)
	}
	return nil
}
