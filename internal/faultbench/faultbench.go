// Package faultbench is the fault suite behind `watchium-tui bench faults`:
// a real server process, real mpv players and real `join --headless`
// members on loopback, put through a flooding member, a server kill -9 and
// restart with chat flowing, a silent link, a host kill, a follower's mpv
// killed, and a member stopped with SIGSTOP. Each case measures how long
// the fault took to be noticed and to recover from, and how many
// acknowledged chat messages were lost or shown twice.
package faultbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchium/watchium-tui/internal/testmedia"
	"github.com/watchium/watchium-tui/phx"
	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/room"
)

// Config says what to run.
type Config struct {
	Binary string // the watchium-tui binary (serve, join, say, members)
	Media  string // video for the players; generated when empty
	Runs   int    // runs per case (default 3)
	// SilentFor are the silent-link durations (default 10 s and 40 s).
	SilentFor []time.Duration
	// StopFor is how long a member and its mpv stay stopped (default 30 s).
	StopFor time.Duration
	// Cases limits the run to these case names (all when empty).
	Cases    []string
	Progress io.Writer
}

// Sample is one run of one case. Negative durations and counts mean "does
// not apply".
type Sample struct {
	Detect, Recover time.Duration
	Lost, Dups      int
	Note            string
}

// Result is every run of one case.
type Result struct {
	Case    string
	What    string // what detection and recovery mean here
	Samples []Sample
	Errors  []string
}

type caseFn func(ctx context.Context, h *harness) (Sample, error)

type faultCase struct {
	name, what string
	run        caseFn
}

func (c Config) cases() []faultCase {
	cs := []faultCase{
		{"flood", "flooder told (system msg) / host pause reached follower during the flood", runFlood},
		{"server kill -9", "follower sees the drop / follower open again after restart", runServerRestart},
	}
	for _, d := range c.SilentFor {
		d := d
		cs = append(cs, faultCase{fmt.Sprintf("silent link %v", d), "follower notices / follower on host's paused frame after the link is back",
			func(ctx context.Context, h *harness) (Sample, error) { return runSilent(ctx, h, d) }})
	}
	cs = append(cs,
		faultCase{"host kill -9", "followers see the host gone / both agree on a new host", runHostKill},
		faultCase{"follower mpv killed", "room hears \"gone, not in sync\" / –", runMPVKill},
		faultCase{fmt.Sprintf("SIGSTOP %v", c.StopFor), "room shows not responding / follower back in sync after SIGCONT",
			func(ctx context.Context, h *harness) (Sample, error) { return runStop(ctx, h, c.StopFor) }},
	)
	if len(c.Cases) == 0 {
		return cs
	}
	var out []faultCase
	for _, fc := range cs {
		for _, want := range c.Cases {
			if strings.HasPrefix(fc.name, want) {
				out = append(out, fc)
				break
			}
		}
	}
	return out
}

// Run runs every case cfg.Runs times.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Runs <= 0 {
		cfg.Runs = 3
	}
	if cfg.SilentFor == nil {
		cfg.SilentFor = []time.Duration{10 * time.Second, 40 * time.Second}
	}
	if cfg.StopFor <= 0 {
		cfg.StopFor = 30 * time.Second
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Media == "" {
		dir, err := os.MkdirTemp("", "faultbench")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if cfg.Media, err = testmedia.Make(dir, testmedia.Spec{FPS: 50, Seconds: 300, KeyEvery: 50}); err != nil {
			return nil, fmt.Errorf("making the test video: %w", err)
		}
	}
	var out []Result
	for _, fc := range cfg.cases() {
		res := Result{Case: fc.name, What: fc.what}
		for i := 0; i < cfg.Runs; i++ {
			fmt.Fprintf(cfg.Progress, "%s, run %d/%d…\n", fc.name, i+1, cfg.Runs)
			h := &harness{cfg: cfg, room: fmt.Sprintf("fault-%d-%d", time.Now().UnixNano()%1e6, i)}
			s, err := fc.run(ctx, h)
			h.close()
			if err != nil {
				fmt.Fprintf(cfg.Progress, "  %s: %v\n", fc.name, err)
				res.Errors = append(res.Errors, err.Error())
				if ctx.Err() != nil {
					return append(out, res), ctx.Err()
				}
				continue
			}
			fmt.Fprintf(cfg.Progress, "  detect %v, recover %v, lost %d, dups %d %s\n", s.Detect.Round(time.Millisecond), s.Recover.Round(time.Millisecond), s.Lost, s.Dups, s.Note)
			res.Samples = append(res.Samples, s)
		}
		out = append(out, res)
	}
	return out, nil
}

// ---- the room under test ----

type member struct {
	name string
	mpv  *player.MPV
	join *proc
}

type harness struct {
	cfg   Config
	room  string
	dir   string
	srv   *serverProc
	proxy *silentProxy
	host  *member
	fols  []*member
	procs []*proc
	mpvs  []*player.MPV
}

func (h *harness) close() {
	for _, p := range h.procs {
		p.stop()
	}
	for _, m := range h.mpvs {
		if pid := m.PID(); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
		_ = m.Close()
	}
	if h.proxy != nil {
		h.proxy.Close()
	}
	if h.srv != nil {
		h.srv.kill9()
	}
	if h.dir != "" {
		os.RemoveAll(h.dir)
	}
}

// setup starts the server, a host and n followers (the first behind a
// silent proxy when proxied), and starts playback with everyone in sync.
func (h *harness) setup(ctx context.Context, n int, proxied bool) error {
	var err error
	if h.dir, err = os.MkdirTemp("", "faultbench-srv"); err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	h.srv = &serverProc{binary: h.cfg.Binary, addr: addr, dir: h.dir}
	if err := h.srv.start(ctx); err != nil {
		return err
	}
	if proxied {
		if h.proxy, err = startProxy(addr); err != nil {
			return err
		}
	}
	if h.host, err = h.member(ctx, "host", h.srv.url(), true); err != nil {
		return err
	}
	if _, err := h.host.join.waitLine(ctx, time.Time{}, 20*time.Second, isNotice("you are the host")); err != nil {
		return fmt.Errorf("host never hosted: %w", err)
	}
	for i := 0; i < n; i++ {
		url := h.srv.url()
		if proxied && i == 0 {
			url = h.proxy.URL()
		}
		f, err := h.member(ctx, fmt.Sprintf("f%d", i+1), url, false)
		if err != nil {
			return err
		}
		if _, err := f.join.waitLine(ctx, time.Time{}, 20*time.Second, isNotice("host is now the host")); err != nil {
			return fmt.Errorf("%s never followed the host: %w", f.name, err)
		}
		if _, err := h.host.join.waitLine(ctx, time.Time{}, 20*time.Second, isNotice(f.name+" joined")); err != nil {
			return fmt.Errorf("the host never saw %s: %w", f.name, err)
		}
		h.fols = append(h.fols, f)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.host.mpv.Play(pctx); err != nil {
		return err
	}
	start := time.Now()
	for _, f := range h.fols {
		if _, err := waitFor(ctx, 20*time.Second, func() bool { return playingInSync(h.host.mpv, f.mpv, start) }); err != nil {
			return fmt.Errorf("%s never synced with the host: %w", f.name, err)
		}
	}
	return nil
}

func (h *harness) member(ctx context.Context, name, url string, host bool) (*member, error) {
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	m, err := player.Launch(lctx, h.cfg.Media, player.Options{StartPaused: true})
	if err != nil {
		return nil, err
	}
	h.mpvs = append(h.mpvs, m)
	args := []string{"join", h.room, "--headless", "--mpv-socket", m.SocketPath(), "--server", url, "--name", name}
	if host {
		args = append(args, "--host")
	}
	p, err := startProc(name, h.cfg.Binary, args...)
	if err != nil {
		return nil, err
	}
	h.procs = append(h.procs, p)
	return &member{name: name, mpv: m, join: p}, nil
}

// inSyncTolerance is what counts as "back in sync" for recovery: well
// inside the spec's 2 s, about what a follower shows in steady state.
const inSyncTolerance = 0.1

// playingInSync reports both players playing within inSyncTolerance, with
// positions read after since (a stopped mpv's last reading says nothing).
func playingInSync(host, f *player.MPV, since time.Time) bool {
	hs, fs := host.State(), f.State()
	if hs.Paused || fs.Paused || !hs.PosAt.After(since) || !fs.PosAt.After(since) {
		return false
	}
	now := time.Now()
	return math.Abs(hs.PositionAt(now)-fs.PositionAt(now)) < inSyncTolerance
}

// waitFor polls cond every 10 ms until it holds or d passes; it returns
// when it held.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) (time.Time, error) {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("not within %v", d)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(10 * time.Millisecond): // polling player state, bounded by the deadline
		}
	}
}

// chatter posts chat with `say` every interval until stopped, and keeps
// what the server acknowledged (say exited 0).
type chatter struct {
	mu    sync.Mutex
	acked []string
	stop  chan struct{}
	done  chan struct{}
}

func (h *harness) chat(url string, every time.Duration) *chatter {
	c := &chatter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		// One chatter, signed in once, for the whole run.
		env, cleanup, err := ownIdentity("chatter")
		if err != nil {
			return
		}
		defer cleanup()
		for i := 0; ; i++ {
			select {
			case <-c.stop:
				return
			case <-time.After(every):
			}
			text := fmt.Sprintf("msg-%s-%d", h.room, i)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			say := exec.CommandContext(ctx, h.cfg.Binary, "say", h.room, text, "--server", url, "--name", "chatter")
			say.Env = env
			err := say.Run()
			cancel()
			if err == nil {
				c.mu.Lock()
				c.acked = append(c.acked, text)
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *chatter) finish() []string {
	close(c.stop)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked
}

// chatAudit counts acknowledged messages p never showed, and comments p
// showed more than once.
func chatAudit(p *proc, acked []string) (lost, dups int) {
	seen := map[string]int{}
	shown := map[string]bool{}
	for _, l := range p.all() {
		if l.typ() != "new_comment" {
			continue
		}
		pl := l.payload()
		id, _ := pl["id"].(string)
		content, _ := pl["content"].(string)
		seen[id]++
		shown[content] = true
	}
	for _, a := range acked {
		if !shown[a] {
			lost++
		}
	}
	for _, n := range seen {
		dups += n - 1
	}
	return lost, dups
}

// settleChat waits until p showed every acked message (or d passed).
func settleChat(ctx context.Context, p *proc, acked []string, d time.Duration) {
	_, _ = waitFor(ctx, d, func() bool { lost, _ := chatAudit(p, acked); return lost == 0 })
	select { // duplicates, if any, arrive right behind
	case <-time.After(500 * time.Millisecond):
	case <-ctx.Done():
	}
}

// ---- the cases ----

func runFlood(ctx context.Context, h *harness) (Sample, error) {
	if err := h.setup(ctx, 1, false); err != nil {
		return Sample{}, err
	}
	f := h.fols[0]
	chat := h.chat(h.srv.url(), 200*time.Millisecond)
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+h.srv.addr+"/realtime/v1/websocket?vsn=1.0.0", nil)
	if err != nil {
		chat.finish()
		return Sample{}, err
	}
	defer ws.Close()
	topic := "realtime:room:" + h.room
	told := make(chan time.Time, 1)
	joined := make(chan struct{})
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if m, err := phx.DecodeText(data); err == nil && m.Event == phx.EventReply && m.Ref == "1" {
				close(joined)
				continue
			}
			if strings.Contains(string(data), "Too many messages per second") {
				told <- time.Now()
				return
			}
		}
	}()
	send := func(m phx.Message) error {
		frame, err := phx.EncodeText(phx.VSN1, m)
		if err != nil {
			return err
		}
		return ws.WriteMessage(websocket.TextMessage, frame)
	}
	if err := send(phx.Message{Topic: topic, Event: phx.EventJoin, Ref: "1", JoinRef: "1", Payload: json.RawMessage(`{"config":{}}`)}); err != nil {
		chat.finish()
		return Sample{}, err
	}
	select {
	case <-joined:
	case <-time.After(10 * time.Second):
		chat.finish()
		return Sample{}, fmt.Errorf("the flooding client's join was never answered")
	}
	t0 := time.Now()
	go func() {
		body, _ := json.Marshal(map[string]any{"type": "broadcast", "event": "spam", "payload": map[string]string{"x": strings.Repeat("x", 200)}})
		for i := 0; i < 10000; i++ {
			if send(phx.Message{Topic: topic, Event: phx.EventBroadcast, Ref: strconv.Itoa(i + 2), JoinRef: "1", Payload: body}) != nil {
				return
			}
		}
	}()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	pauseAt := time.Now()
	err = h.host.mpv.Pause(pctx)
	cancel()
	if err != nil {
		chat.finish()
		return Sample{}, err
	}
	paused, perr := waitFor(ctx, 10*time.Second, func() bool { return f.mpv.State().Paused })
	var s Sample
	select {
	case at := <-told:
		s.Detect = at.Sub(t0)
	case <-time.After(10 * time.Second):
		s.Detect = -1
	}
	time.Sleep(2 * time.Second) // chat keeps flowing after the flood (the window is the measurement)
	acked := chat.finish()
	settleChat(ctx, f.join, acked, 10*time.Second)
	s.Lost, s.Dups = chatAudit(f.join, acked)
	if perr != nil {
		return s, fmt.Errorf("the host's pause never reached the follower: %w", perr)
	}
	s.Recover = paused.Sub(pauseAt)
	dropped := 0
	for _, p := range []*proc{h.host.join, f.join} {
		for _, l := range p.all() {
			if l.at.After(t0) && isConn("reconnecting")(l) {
				dropped++
			}
		}
	}
	s.Note = fmt.Sprintf("members dropped: %d", dropped)
	return s, nil
}

func runServerRestart(ctx context.Context, h *harness) (Sample, error) {
	if err := h.setup(ctx, 1, false); err != nil {
		return Sample{}, err
	}
	f := h.fols[0]
	chat := h.chat(h.srv.url(), 300*time.Millisecond)
	time.Sleep(1500 * time.Millisecond) // chat flowing before the kill
	t0 := time.Now()
	h.srv.kill9()
	det, derr := f.join.waitLine(ctx, t0, 15*time.Second, isConn("reconnecting"))
	time.Sleep(2 * time.Second) // the server stays down a while
	t1 := time.Now()
	if err := h.srv.start(ctx); err != nil {
		chat.finish()
		return Sample{}, err
	}
	back, berr := f.join.waitLine(ctx, t1, 20*time.Second, isConn("open"))
	time.Sleep(3 * time.Second) // chat flowing after the restart
	acked := chat.finish()
	settleChat(ctx, f.join, acked, 15*time.Second)
	var s Sample
	s.Lost, s.Dups = chatAudit(f.join, acked)
	if derr != nil || berr != nil {
		return s, errors.Join(derr, berr)
	}
	s.Detect, s.Recover = det.Sub(t0), back.Sub(t1)
	_, synced := waitFor(ctx, 10*time.Second, func() bool { return playingInSync(h.host.mpv, f.mpv, t1) })
	s.Note = fmt.Sprintf("%d acked; in sync after: %v", len(acked), synced == nil)
	return s, nil
}

func runSilent(ctx context.Context, h *harness, d time.Duration) (Sample, error) {
	if err := h.setup(ctx, 1, true); err != nil {
		return Sample{}, err
	}
	f := h.fols[0]
	chat := h.chat(h.srv.url(), 500*time.Millisecond)
	t0 := time.Now()
	h.proxy.freeze()
	time.Sleep(time.Second) // the host pauses a second into the outage
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := h.host.mpv.Pause(pctx)
	cancel()
	if err != nil {
		chat.finish()
		return Sample{}, err
	}
	det, derr := f.join.waitLine(ctx, t0, d, isConn("reconnecting"))
	room, rerr := h.host.join.waitLine(ctx, t0, d, isNotice("f1 is not responding"))
	if rest := time.Until(t0.Add(d)); rest > 0 {
		time.Sleep(rest) // the outage lasts d
	}
	t1 := time.Now()
	h.proxy.thaw()
	hostPos := h.host.mpv.State().Pos
	back, berr := waitFor(ctx, 30*time.Second, func() bool {
		st := f.mpv.State()
		return st.Paused && !st.Seeking && math.Abs(st.Pos-hostPos) < 0.05
	})
	time.Sleep(time.Second)
	acked := chat.finish()
	settleChat(ctx, f.join, acked, 15*time.Second)
	var s Sample
	s.Lost, s.Dups = chatAudit(f.join, acked)
	if derr != nil || berr != nil {
		return s, errors.Join(derr, berr)
	}
	s.Detect, s.Recover = det.Sub(t0), back.Sub(t1)
	if rerr == nil {
		s.Note = fmt.Sprintf("room saw it not responding after %.1f s", room.Sub(t0).Seconds())
	} else {
		s.Note = "room never saw it not responding"
	}
	return s, nil
}

func runHostKill(ctx context.Context, h *harness) (Sample, error) {
	if err := h.setup(ctx, 2, false); err != nil {
		return Sample{}, err
	}
	t0 := time.Now()
	h.host.join.kill9()
	var detect time.Time
	var recover time.Time
	for _, f := range h.fols {
		at, err := f.join.waitLine(ctx, t0, 15*time.Second, isNotice("host left"))
		if err != nil {
			return Sample{}, fmt.Errorf("%s never saw the host go: %w", f.name, err)
		}
		if detect.IsZero() || at.Before(detect) {
			detect = at
		}
		at, err = f.join.waitLine(ctx, t0, 15*time.Second, func(l line) bool {
			return isNotice("you are now the host")(l) || isNotice("f1 is now the host")(l) || isNotice("f2 is now the host")(l)
		})
		if err != nil {
			return Sample{}, fmt.Errorf("%s never got a new host: %w", f.name, err)
		}
		if at.After(recover) {
			recover = at
		}
	}
	return Sample{Detect: detect.Sub(t0), Recover: recover.Sub(t0), Lost: -1, Dups: -1}, nil
}

func runMPVKill(ctx context.Context, h *harness) (Sample, error) {
	if err := h.setup(ctx, 1, false); err != nil {
		return Sample{}, err
	}
	f := h.fols[0]
	obs, err := observe(ctx, h.srv.url(), h.room)
	if err != nil {
		return Sample{}, err
	}
	defer obs.close()
	t0 := time.Now()
	_ = syscall.Kill(f.mpv.PID(), syscall.SIGKILL)
	at, err := obs.waitBeat(ctx, t0, 10*time.Second, func(b beat) bool {
		return obs.named(b.UserID, "f1") && b.PlayerState == "gone" && !b.IsSynced && !b.IsPlaying
	})
	if err != nil {
		return Sample{}, fmt.Errorf("no heartbeat saying f1's mpv is gone: %w", err)
	}
	members := exec.CommandContext(ctx, h.cfg.Binary, "members", h.room, "--json", "--server", h.srv.url())
	env, cleanup, err := ownIdentity("onlooker")
	if err != nil {
		return Sample{}, err
	}
	defer cleanup()
	members.Env = env
	out, merr := members.Output()
	verdict := membersVerdict(out, merr)
	s := Sample{Detect: at.Sub(t0), Recover: -1, Lost: -1, Dups: -1, Note: "members --json: " + verdict}
	if verdict != "f1 player_state=gone in_sync=false is_playing=false" {
		return s, fmt.Errorf("members --json says %s", verdict)
	}
	select {
	case <-f.join.exited:
		return s, errors.New("the --mpv-socket join exited with its mpv (it should stay for chat)")
	default:
	}
	return s, nil
}

func runStop(ctx context.Context, h *harness, d time.Duration) (Sample, error) {
	if err := h.setup(ctx, 1, false); err != nil {
		return Sample{}, err
	}
	f := h.fols[0]
	chat := h.chat(h.srv.url(), time.Second)
	pids := []int{f.join.cmd.Process.Pid, f.mpv.PID()}
	t0 := time.Now()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	det, derr := h.host.join.waitLine(ctx, t0, d, isNotice("f1 is not responding"))
	if derr != nil {
		derr = fmt.Errorf("%w; the host printed %q", derr, h.host.join.notices())
	}
	if rest := time.Until(t0.Add(d)); rest > 0 {
		time.Sleep(rest) // stopped for d
	}
	t1 := time.Now()
	for _, pid := range []int{pids[1], pids[0]} {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	back, berr := waitFor(ctx, 20*time.Second, func() bool { return playingInSync(h.host.mpv, f.mpv, t1) })
	time.Sleep(time.Second)
	acked := chat.finish()
	settleChat(ctx, f.join, acked, 15*time.Second)
	var s Sample
	s.Lost, s.Dups = chatAudit(f.join, acked)
	if derr != nil || berr != nil {
		return s, errors.Join(derr, berr)
	}
	s.Detect, s.Recover = det.Sub(t0), back.Sub(t1)
	return s, nil
}

// ---- a silent observer of heartbeats ----

type beat struct {
	at          time.Time
	UserID      string `json:"user_id"`
	IsSynced    bool   `json:"is_synced"`
	IsPlaying   bool   `json:"is_playing"`
	PlayerState string `json:"player_state"`
}

type observer struct {
	c     *realtime.Client
	ch    *realtime.Channel
	mu    sync.Mutex
	beats []beat
}

// named reports whether userID is the member called name (ids are the
// signed-in users' ids; presence carries the names).
func (o *observer) named(userID, name string) bool {
	if strings.HasPrefix(userID, name+"-") {
		return true // a server without sign-in: made-up ids start with the name
	}
	for _, m := range room.MembersFromPresence(o.ch.PresenceState()) {
		if m.UserID == userID && m.Username == name {
			return true
		}
	}
	return false
}

func observe(ctx context.Context, url, roomID string) (*observer, error) {
	c, err := realtime.NewClient(url, realtime.Options{})
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		return nil, err
	}
	o := &observer{c: c}
	ch := c.Channel("room:"+roomID, realtime.ChannelConfig{})
	o.ch = ch
	ch.OnBroadcast("heartbeat", func(b realtime.Broadcast) {
		var env struct {
			Payload beat `json:"payload"`
		}
		if jsonUnmarshal(b.Payload, &env) == nil {
			env.Payload.at = b.At
			o.mu.Lock()
			o.beats = append(o.beats, env.Payload)
			o.mu.Unlock()
		}
	})
	if err := ch.Subscribe(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return o, nil
}

func (o *observer) close() { o.c.Close() }

func (o *observer) waitBeat(ctx context.Context, after time.Time, d time.Duration, pred func(beat) bool) (time.Time, error) {
	var at time.Time
	_, err := waitFor(ctx, d, func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, b := range o.beats {
			if b.at.After(after) && pred(b) {
				at = b.at
				return true
			}
		}
		return false
	})
	return at, err
}

// ---- the table ----

func stats(xs []float64) (median, worst float64, ok bool) {
	if len(xs) == 0 {
		return 0, 0, false
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		median = s[n/2]
	} else {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median, s[n-1], true
}

// FormatTable prints median and worst of each figure per case.
func FormatTable(w io.Writer, rs []Result) {
	fmt.Fprintln(w, "| case | runs | detection (s) median / worst | recovery (s) median / worst | messages lost median / worst | duplicates median / worst | notes |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range rs {
		var det, rec, lost, dups []float64
		var notes []string
		for _, s := range r.Samples {
			if s.Detect >= 0 {
				det = append(det, s.Detect.Seconds())
			}
			if s.Recover >= 0 {
				rec = append(rec, s.Recover.Seconds())
			}
			if s.Lost >= 0 {
				lost = append(lost, float64(s.Lost))
			}
			if s.Dups >= 0 {
				dups = append(dups, float64(s.Dups))
			}
			if s.Note != "" {
				notes = append(notes, s.Note)
			}
		}
		for _, e := range r.Errors {
			notes = append(notes, "FAILED: "+e)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s |\n", r.Case, len(r.Samples),
			cell(det, "%.2f"), cell(rec, "%.2f"), cell(lost, "%.0f"), cell(dups, "%.0f"), strings.Join(dedupeNotes(notes), "; "))
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		fmt.Fprintf(w, "- %s: %s\n", r.Case, r.What)
	}
}

func cell(xs []float64, f string) string {
	m, w, ok := stats(xs)
	if !ok {
		return "–"
	}
	return fmt.Sprintf(f+" / "+f, m, w)
}

func dedupeNotes(ns []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range ns {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func (p *proc) notices() []string {
	var out []string
	for _, l := range p.all() {
		if l.typ() == "notice" || l.typ() == "connection" {
			out = append(out, l.str("text")+l.str("state"))
		}
	}
	return out
}
