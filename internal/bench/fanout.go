// Package bench measures the embedded realtime server the way a watch party
// loads it: how long a broadcast takes to reach every member of a room
// (fan-out latency, as percentiles over all deliveries) and how much memory
// the server spends per idle connection. `watchium-tui bench fanout` and the
// Go benchmarks of this package run it.
//
// It is a load generator, so it is deliberately fenced in: it only dials
// loopback addresses, bounds the number of connections and messages, caps
// its own run time, and stops by itself.
//
// The clients are raw gorilla WebSockets speaking vsn 2.0.0 with small
// buffers, so a thousand of them in one process stay cheap. Every member
// joins realtime:room:bench-N; one sender per room pushes broadcasts as
// binary kind-3 frames (as realtime-js does) whose JSON payload carries the
// send time in Unix nanoseconds, and every other member records receive time
// minus send time when the kind-4 frame comes off its socket. Sender and
// receivers share one clock, so the numbers include the server's work, the
// loopback network, and the scheduling delay of the receiving goroutines.
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
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/phx"
	"github.com/watchium/watchium-tui/realtime"
)

// Bounds on what one run may do.
const (
	MaxConns    = 5000            // connections per run
	MaxMessages = 100_000         // broadcasts per room
	MaxRunTime  = 5 * time.Minute // when ctx has no earlier deadline
	// PresencePeriod is how often each member re-tracks its presence when
	// FanoutConfig.Presence is set.
	PresencePeriod = 3 * time.Second
	drainTimeout   = 10 * time.Second // wait for stragglers after the last send
	dialParallel   = 32
)

// FanoutConfig describes one scenario.
type FanoutConfig struct {
	Rooms, Members int
	// Messages is the number of measured broadcasts per room.
	Messages int
	// Presence makes each member track its presence every PresencePeriod
	// (3 s), with a changed payload each time so every track fans out a
	// diff. The period is scaled down when the broadcast phase is shorter
	// than three periods, so every member still tracks about three times;
	// the tracks are spread evenly over the period, not fired together.
	Presence bool
	// Interval is the time between broadcasts in a room (open loop, as a
	// real sender). Zero means closed loop: the next broadcast leaves as
	// soon as every member has the previous one, which measures latency
	// without queueing. With the server's default limit of 100 events per
	// second per connection keep Interval ≥ 10 ms (20 ms leaves room for
	// presence), or the sender's channel is closed by the rate limit.
	Interval time.Duration
}

func (c FanoutConfig) String() string {
	s := fmt.Sprintf("%d room", c.Rooms)
	if c.Rooms != 1 {
		s += "s"
	}
	s += fmt.Sprintf(" × %d", c.Members)
	if c.Presence {
		s += " +presence"
	}
	return s
}

// FanoutResult is what a run measured. Latencies are over all deliveries.
type FanoutResult struct {
	Config     FanoutConfig
	Deliveries int // received broadcasts; Rooms×(Members−1)×Messages if none was lost
	P50, P95   time.Duration
	P99, Max   time.Duration
	// RSSPerIdleConnKiB is filled in by the caller from MeasureIdleRSS.
	RSSPerIdleConnKiB float64
}

// Expected is the number of deliveries a lossless run makes.
func (r FanoutResult) Expected() int {
	return r.Config.Rooms * (r.Config.Members - 1) * r.Config.Messages
}

// Scenarios are the standard runs: one room of 10, 100 and 1000 members,
// and 100 rooms of 10 members that also track presence.
func Scenarios() []FanoutConfig {
	return []FanoutConfig{
		{Rooms: 1, Members: 10, Messages: 100, Interval: 20 * time.Millisecond},
		{Rooms: 1, Members: 100, Messages: 100, Interval: 20 * time.Millisecond},
		{Rooms: 1, Members: 1000, Messages: 100, Interval: 20 * time.Millisecond},
		{Rooms: 100, Members: 10, Messages: 50, Interval: 100 * time.Millisecond, Presence: true},
	}
}

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

type benchRoom struct {
	topic   string
	members []*member
	// closed-loop mode: receivers count down, the last one wakes the sender
	pending atomic.Int64
	ack     chan struct{}
}

type run struct {
	cfg       FanoutConfig
	closing   atomic.Bool
	warmLeft  atomic.Int64
	warmed    chan struct{}
	measLeft  atomic.Int64
	measured  chan struct{}
	failed    chan struct{}
	failOnce  sync.Once
	failErr   error
	evictions atomic.Int64
}

func (r *run) fail(err error) {
	r.failOnce.Do(func() { r.failErr = err; close(r.failed) })
}

func (m *member) nextRef() string {
	m.ref++
	return strconv.Itoa(m.ref)
}

func (m *member) writeText(s string) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	_ = m.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return m.ws.WriteMessage(websocket.TextMessage, []byte(s))
}

func (m *member) writeBinary(b []byte) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	_ = m.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return m.ws.WriteMessage(websocket.BinaryMessage, b)
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

// delivery handles a kind-4 frame. It parses by hand, without allocating,
// so the clients' own cost stays small next to the server's.
func (m *member) delivery(r *run, data []byte, at time.Time) {
	if len(data) < 5 || data[0] != 4 {
		return
	}
	tl, el, ml := int(data[1]), int(data[2]), int(data[3])
	if len(data) < 5+tl+el+ml {
		return
	}
	event := data[5+tl : 5+tl+el]
	sent, ok := sendTime(data[5+tl+el+ml:])
	if !ok {
		return
	}
	switch string(event) {
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
	var parts [5]json.RawMessage
	var arr []json.RawMessage
	if json.Unmarshal(data, &arr) != nil || len(arr) < 5 {
		return
	}
	copy(parts[:], arr)
	var ref, event string
	_ = json.Unmarshal(parts[1], &ref)
	_ = json.Unmarshal(parts[3], &event)
	switch event {
	case phx.EventReply:
		if ref == m.joinRef && m.joined != nil {
			var p struct {
				Status   string          `json:"status"`
				Response json.RawMessage `json:"response"`
			}
			_ = json.Unmarshal(parts[4], &p)
			if p.Status == "ok" {
				m.joined <- nil
			} else {
				m.joined <- fmt.Errorf("bench: join %s refused: %s", m.room.topic, p.Response)
			}
			m.joined = nil
		}
	case phx.EventSystem, phx.EventClose, phx.EventError:
		var p realtime.SystemMessage
		_ = json.Unmarshal(parts[4], &p)
		if event != phx.EventSystem || p.Status == "error" {
			r.fail(fmt.Errorf("bench: server sent %s on %s: %s (is the sender over the server's events-per-second limit?)", event, m.room.topic, parts[4]))
		}
	}
}

// connect dials and joins every member, a few at a time.
func connect(ctx context.Context, wsURL string, r *run, rooms []*benchRoom) error {
	dialer := newDialer()
	jobs := make(chan *member)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range dialParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range jobs {
				if err := m.connect(ctx, dialer, wsURL, r); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		}()
	}
	var err error
feed:
	for _, rm := range rooms {
		for _, m := range rm.members {
			select {
			case jobs <- m:
			case err = <-errc:
				break feed
			case <-ctx.Done():
				err = ctx.Err()
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
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
	presence := "false"
	if r.cfg.Presence {
		presence = "true"
	}
	join := fmt.Sprintf(`[%q,%q,%q,"phx_join",{"config":{"broadcast":{"ack":false,"self":false},"presence":{"key":"","enabled":%s},"postgres_changes":[],"private":false}}]`,
		m.joinRef, m.joinRef, m.room.topic, presence)
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

// RunFanout runs one scenario against the server at url (http://127.0.0.1:PORT,
// optionally with ?apikey=…). On lost deliveries it returns the result so
// far together with an error.
func RunFanout(ctx context.Context, url string, cfg FanoutConfig) (FanoutResult, error) {
	return runFanout(ctx, url, cfg, nil)
}

// runFanout is RunFanout with a hook called right before the measured phase
// (benchmarks reset their timer there).
func runFanout(ctx context.Context, rawURL string, cfg FanoutConfig, measuring func()) (res FanoutResult, err error) {
	res.Config = cfg
	switch {
	case cfg.Rooms < 1 || cfg.Members < 2:
		return res, errors.New("bench: need at least 1 room of 2 members")
	case cfg.Rooms*cfg.Members > MaxConns:
		return res, fmt.Errorf("bench: %d connections is over the limit of %d", cfg.Rooms*cfg.Members, MaxConns)
	case cfg.Messages < 1 || cfg.Messages > MaxMessages:
		return res, fmt.Errorf("bench: messages per room must be 1..%d", MaxMessages)
	case cfg.Interval < 0:
		return res, errors.New("bench: negative interval")
	}
	if phase := time.Duration(cfg.Messages) * cfg.Interval; phase > MaxRunTime {
		return res, fmt.Errorf("bench: %d messages at %v would run %v, over the cap of %v", cfg.Messages, cfg.Interval, phase, MaxRunTime)
	}
	wsURL, err := socketURL(rawURL)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, MaxRunTime)
	defer cancel()

	r := &run{cfg: cfg, warmed: make(chan struct{}), measured: make(chan struct{}), failed: make(chan struct{})}
	receivers := int64(cfg.Rooms * (cfg.Members - 1))
	r.warmLeft.Store(receivers)
	r.measLeft.Store(receivers * int64(cfg.Messages))
	rooms := make([]*benchRoom, cfg.Rooms)
	for i := range rooms {
		rm := &benchRoom{topic: fmt.Sprintf("realtime:room:bench-%d", i), ack: make(chan struct{}, 1)}
		for range cfg.Members {
			rm.members = append(rm.members, &member{room: rm, done: make(chan struct{}), lat: make([]time.Duration, 0, cfg.Messages)})
		}
		rooms[i] = rm
	}
	defer func() {
		r.closing.Store(true)
		for _, rm := range rooms {
			for _, m := range rm.members {
				if m.ws != nil {
					_ = m.ws.Close()
				}
			}
		}
		for _, rm := range rooms {
			for _, m := range rm.members {
				if m.ws != nil {
					<-m.done
				}
			}
		}
	}()

	if err := connect(ctx, wsURL, r, rooms); err != nil {
		return res, err
	}

	// Warm-up: one broadcast per room that every member must see. It is
	// also the barrier that proves every member is in its room.
	for _, rm := range rooms {
		if err := rm.members[0].send("warm", 0); err != nil {
			return res, err
		}
	}
	select {
	case <-r.warmed:
	case <-r.failed:
		return res, r.failErr
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(drainTimeout):
		return res, fmt.Errorf("bench: warm-up broadcast did not reach %d members within %v", r.warmLeft.Load(), drainTimeout)
	}

	if measuring != nil {
		measuring()
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var wg sync.WaitGroup
	if cfg.Presence {
		period := PresencePeriod
		if phase := time.Duration(cfg.Messages) * cfg.Interval; phase < 3*period {
			period = max(phase/3, 100*time.Millisecond)
		}
		for i, rm := range rooms {
			wg.Add(1)
			// Rooms are offset within one step too, so the tracks of all
			// rooms are spread evenly instead of arriving in bursts.
			offset := period / time.Duration(cfg.Members) * time.Duration(i) / time.Duration(len(rooms))
			go func() { defer wg.Done(); rm.trackLoop(runCtx, r, period, offset) }()
		}
	}
	for i, rm := range rooms {
		wg.Add(1)
		// Stagger the rooms over one interval so they do not all fire at once.
		offset := time.Duration(0)
		if cfg.Interval > 0 {
			offset = cfg.Interval * time.Duration(i) / time.Duration(len(rooms))
		}
		go func() { defer wg.Done(); rm.sendLoop(runCtx, r, offset) }()
	}

	var waitErr error
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()
	select {
	case <-r.measured:
	case <-r.failed:
		waitErr = r.failErr
	case <-ctx.Done():
		waitErr = ctx.Err()
	case <-afterSenders(runCtx, sendersDone):
		waitErr = fmt.Errorf("bench: %d of %d deliveries missing %v after the last send", r.measLeft.Load(), receivers*int64(cfg.Messages), drainTimeout)
	}
	stopRun()
	<-sendersDone
	r.closing.Store(true)
	for _, rm := range rooms {
		for _, m := range rm.members {
			_ = m.ws.Close()
		}
	}
	var all []time.Duration
	for _, rm := range rooms {
		for _, m := range rm.members {
			<-m.done
			all = append(all, m.lat...)
		}
	}
	res.Deliveries = len(all)
	if len(all) > 0 {
		slices.Sort(all)
		res.P50, res.P95, res.P99 = pct(all, 50), pct(all, 95), pct(all, 99)
		res.Max = all[len(all)-1]
	}
	if n := r.evictions.Load(); n > 0 && waitErr != nil {
		waitErr = fmt.Errorf("%w (%d members evicted by the server as too slow)", waitErr, n)
	}
	return res, waitErr
}

// afterSenders fires drainTimeout after the senders finished.
func afterSenders(ctx context.Context, done <-chan struct{}) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
		t := time.NewTimer(drainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			close(out)
		case <-ctx.Done():
		}
	}()
	return out
}

// pct is the p-th percentile (nearest rank) of sorted d.
func pct(d []time.Duration, p int) time.Duration {
	i := (len(d)*p + 99) / 100
	return d[max(i-1, 0)]
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

func (rm *benchRoom) sendLoop(ctx context.Context, r *run, offset time.Duration) {
	sender := rm.members[0]
	if r.cfg.Interval == 0 {
		for i := range r.cfg.Messages {
			rm.pending.Store(int64(len(rm.members) - 1))
			if err := sender.send("tick", i); err != nil {
				r.fail(err)
				return
			}
			select {
			case <-rm.ack:
			case <-ctx.Done():
				return
			case <-time.After(drainTimeout):
				r.fail(fmt.Errorf("bench: broadcast %d in %s not delivered to all within %v", i, rm.topic, drainTimeout))
				return
			}
		}
		return
	}
	if !waitFor(ctx, offset) {
		return
	}
	tk := time.NewTicker(r.cfg.Interval)
	defer tk.Stop()
	for i := range r.cfg.Messages {
		if i > 0 {
			select {
			case <-tk.C:
			case <-ctx.Done():
				return
			}
		}
		if err := sender.send("tick", i); err != nil {
			r.fail(err)
			return
		}
	}
}

// trackLoop re-tracks each member's presence once per period, spread over
// the period and starting after offset, until ctx ends.
func (rm *benchRoom) trackLoop(ctx context.Context, r *run, period, offset time.Duration) {
	if !waitFor(ctx, offset) {
		return
	}
	step := period / time.Duration(len(rm.members))
	tk := time.NewTicker(step)
	defer tk.Stop()
	for n := 0; ; n++ {
		select {
		case <-tk.C:
		case <-ctx.Done():
			return
		}
		m := rm.members[n%len(rm.members)]
		m.wmu.Lock()
		m.ref++
		ref := strconv.Itoa(m.ref)
		m.wmu.Unlock()
		track := fmt.Sprintf(`[%q,%q,%q,"presence",{"type":"presence","event":"track","payload":{"n":%d,"online_at":%d}}]`,
			m.joinRef, ref, rm.topic, n, time.Now().UnixMilli())
		if err := m.writeText(track); err != nil && !r.closing.Load() {
			r.fail(fmt.Errorf("bench: track: %w", err))
			return
		}
	}
}

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
	if err := ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `["1","1",%q,"phx_join",{"config":{"broadcast":{"self":false},"presence":{"key":"","enabled":false},"postgres_changes":[],"private":false}}]`, topic)); err != nil {
		return ws, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return ws, fmt.Errorf("bench: waiting for join reply: %w", err)
		}
		if bytes.HasPrefix(data, []byte(`["1","1",`)) && bytes.Contains(data, []byte(`"phx_reply"`)) {
			if !bytes.Contains(data, []byte(`"status":"ok"`)) {
				return ws, fmt.Errorf("bench: join refused: %s", data)
			}
			_ = ws.SetReadDeadline(time.Time{})
			return ws, nil
		}
	}
}

// ProcRSS returns an rss func for MeasureIdleRSS that reads VmRSS of
// process pid from /proc (pid 0: this process). Linux only.
func ProcRSS(pid int) func() (int64, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	return func() (int64, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, fmt.Errorf("bench: reading RSS: %w", err)
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("bench: parsing %q: %w", line, err)
				}
				return kb * 1024, nil
			}
		}
		return 0, fmt.Errorf("bench: no VmRSS in %s", path)
	}
}

// FormatTable writes rs as an aligned table.
func FormatTable(w io.Writer, rs []FanoutResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tmsgs/room\tinterval\tdeliveries\tp50\tp95\tp99\tmax\tKiB/idle conn\t")
	for _, r := range rs {
		iv := "closed loop"
		if r.Config.Interval > 0 {
			iv = r.Config.Interval.String()
		}
		rss := "-"
		if r.RSSPerIdleConnKiB != 0 {
			rss = fmt.Sprintf("%.1f", r.RSSPerIdleConnKiB)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Config, r.Config.Messages, iv,
			r.Deliveries, r.Expected(), ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), rss)
	}
	_ = tw.Flush()
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

// waitFor waits d (nothing when d <= 0) unless ctx ends first.
func waitFor(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
