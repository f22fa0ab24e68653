package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/watchium/watchium-tui/internal/testmedia"
	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/roomrest"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
)

// demoRoom is the room every demo runs in (on its own private server).
const demoRoom = "demo"

const demoIntro = "welcome to the demo! you host: /play to start everyone, /seek 1:00, type to chat; dave will wander off in a bit"

type demoFlags struct {
	name     string
	headless bool
}

func newDemoCmd() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Try a live watch party on your own: you host, three simulated friends follow",
		Long: `Runs a whole watch party on this machine, with nothing to set up but mpv and
ffmpeg: a private server on 127.0.0.1 (a random free port, nothing kept on
disk), a generated 5-minute test video (made once with ffmpeg and kept in your
cache directory), and three simulated friends, each with their own hidden mpv
following yours:

  bob    joins at once and chats
  carol  joins a few seconds late and catches up
  dave   follows, then pauses his own mpv (he shows as detached and out of
         sync) and later re-syncs

You host in room "demo" with your own mpv window and the usual terminal UI:
/play, /pause, /seek 1:00, /host NAME, chat, /help, /quit (or Ctrl-C). On exit
everything the demo started is stopped: the friends, their mpv, the server.

--headless plays your mpv without a window (for machines without a display);
the terminal UI is the same.`,
		Example: `  watchium-tui demo
  watchium-tui demo --name ana
  watchium-tui demo --headless    # over SSH, no display`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", defaultName(), "your name in the room (env WATCHIUM_NAME)")
	fl.BoolVar(&f.headless, "headless", false, "run your mpv without a window (no display needed); the terminal UI stays")
	return cmd
}

func runDemo(cmd *cobra.Command, f demoFlags) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stderr := cmd.ErrOrStderr()

	notes := make(chan string, 16)
	note := func(s string) {
		select {
		case notes <- s:
		default: // the UI is behind; a hint is not worth blocking the script
		}
	}
	fmt.Fprintln(stderr, "watchium demo: preparing the video and a private server on 127.0.0.1…")
	d, err := startDemo(ctx, demoConfig{Note: note})
	if err != nil {
		return err
	}
	defer d.Close()

	var opts player.Options
	if f.headless {
		opts.Headless = true
	} else {
		// The demo video is tiny; give the window a watchable size.
		opts.ExtraArgs = []string{"--autofit=640x360", "--title=watchium demo: you host"}
	}
	host, err := d.JoinHost(ctx, f.name, opts)
	if err != nil {
		return err
	}
	note(demoIntro)
	d.StartScript()

	err = runTUI(ctx, host, demoRoom, joinFlags{globalFlags: globalFlags{server: d.URL, name: f.name}}, notes, nil, nil)
	cancel()
	if cerr := d.Close(); err == nil && cerr != nil {
		err = cerr
	}
	fmt.Fprintln(stderr, "watchium demo: stopped the simulated friends, their mpv and the server")
	return err
}

// demoConfig tunes the demo; zero values mean what `watchium-tui demo` uses.
type demoConfig struct {
	// MediaDir is where the video is made (and reused). Empty means the
	// user cache dir, or a temp dir removed on Close when there is none.
	MediaDir     string
	MediaSeconds int // default 300
	// Scale multiplies every delay of the script (0 means 1); tests use a
	// small one.
	Scale  float64
	Script []demoStep // default demoScript
	// Note tells the person what the simulated friends are up to.
	Note   func(string)
	Logger *slog.Logger
}

type demoAction int

const (
	demoJoin   demoAction = iota // start the member: client, room, headless mpv
	demoSay                      // chat Text
	demoWander                   // take over their own mpv (pause it, or seek when paused)
	demoResync                   // follow the host again, like /sync
)

// demoStep is one line of the script: At after the script starts, Who
// does Action.
type demoStep struct {
	At     time.Duration
	Who    string
	Action demoAction
	Text   string
}

var demoScript = []demoStep{
	{0, "bob", demoJoin, ""},
	{0, "dave", demoJoin, ""},
	{2 * time.Second, "bob", demoSay, "hi!"},
	{4 * time.Second, "dave", demoSay, "popcorn ready"},
	{5 * time.Second, "carol", demoJoin, ""},
	{7 * time.Second, "carol", demoSay, "sorry I'm late, did I miss anything?"},
	{10 * time.Second, "bob", demoSay, "is everyone in sync?"},
	{20 * time.Second, "dave", demoWander, ""},
	{21 * time.Second, "dave", demoSay, "brb, getting snacks"},
	{26 * time.Second, "carol", demoSay, "dave is out of sync again..."},
	{35 * time.Second, "dave", demoResync, ""},
	{36 * time.Second, "dave", demoSay, "back! synced up again"},
	{45 * time.Second, "bob", demoSay, "try /seek 2:00, we all follow you"},
}

// demo is a running demo: server, video, simulated members and their
// script. Close stops all of it.
type demo struct {
	cfg   demoConfig
	log   *slog.Logger
	URL   string // the private server
	Media string // the video everyone plays

	srv    *runningServer
	st     *store.Store
	tmpDir string // removed on Close

	ctx    context.Context // ends on Close; everything runs under it
	cancel context.CancelFunc

	mu         sync.Mutex
	members    map[string]*demoMember
	host       *demoMember
	scriptDone chan struct{} // nil until StartScript

	closeOnce sync.Once
	closeErr  error
}

// demoMember is one client in the room: realtime client, room, mpv.
type demoMember struct {
	name    string
	client  *realtime.Client
	mpv     *player.MPV
	room    *room.Room
	cancel  context.CancelFunc
	runDone chan struct{}
	// drained is closed once the room's events are all read; nil when the
	// caller reads them (the host: the UI does).
	drained chan struct{}
}

// startDemo checks for mpv and ffmpeg, makes the video and starts the
// server on a random loopback port. Then JoinHost, then StartScript.
func startDemo(ctx context.Context, cfg demoConfig) (_ *demo, err error) {
	if _, err := exec.LookPath("mpv"); err != nil {
		return nil, fmt.Errorf("the demo plays in mpv: %w", player.ErrNotInstalled)
	}
	if cfg.MediaSeconds <= 0 {
		cfg.MediaSeconds = 300
	}
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	if cfg.Script == nil {
		cfg.Script = demoScript
	}
	if cfg.Note == nil {
		cfg.Note = func(string) {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &demo{cfg: cfg, log: cfg.Logger, members: map[string]*demoMember{}}
	d.ctx, d.cancel = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()

	dir := cfg.MediaDir
	if dir == "" {
		dir = demoCacheDir()
		if dir == "" {
			if dir, err = os.MkdirTemp("", "watchium-demo"); err != nil {
				return nil, fmt.Errorf("demo: making a temp dir for the video: %w", err)
			}
			d.tmpDir = dir
		}
	}
	d.Media, err = testmedia.Make(dir, testmedia.Spec{FPS: 25, Seconds: cfg.MediaSeconds, KeyEvery: 25})
	if err != nil {
		if errors.Is(err, testmedia.ErrNoFFmpeg) {
			return nil, fmt.Errorf("the demo makes its video with ffmpeg: %w", err)
		}
		return nil, fmt.Errorf("demo: making the video in %s: %w", dir, err)
	}

	// Loopback and a port the kernel picks: never in anyone's way, never
	// reachable from the network.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: cannot listen on 127.0.0.1: %w", err)
	}
	d.st, err = store.Open(":memory:")
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	d.srv, err = startServer(d.ctx, ln, server.Config{Store: d.st, Logger: d.log})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	d.URL = "http://" + ln.Addr().String()
	return d, nil
}

// demoCacheDir is where the video is kept between runs, "" if none.
func demoCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	dir := filepath.Join(base, "watchium", "demo")
	if os.MkdirAll(dir, 0o700) != nil {
		return ""
	}
	return dir
}

// JoinHost joins the room as the host with an mpv started with opts (on
// the demo video, paused) and returns once the role is ours. The caller
// reads the room's Events until they close; Close stops the room.
func (d *demo) JoinHost(ctx context.Context, name string, opts player.Options) (*room.Room, error) {
	opts.StartPaused = true
	if opts.Logger == nil {
		opts.Logger = d.log
	}
	m, err := d.join(ctx, name, true, opts)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.host = m
	d.mu.Unlock()
	// The friends join only once we host, or the first of them would.
	wait := time.NewTimer(10 * time.Second)
	defer wait.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := m.room.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		if s.HostID != "" && s.HostID == s.SelfID {
			return m.room, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait.C:
			return nil, errors.New("demo: the server never confirmed you as the host")
		case <-tick.C:
		}
	}
}

// join starts one member: mpv on the demo video, a realtime client, and
// the room running under d.ctx.
func (d *demo) join(ctx context.Context, name string, host bool, opts player.Options) (_ *demoMember, err error) {
	lctx, lcancel := context.WithTimeout(ctx, 20*time.Second)
	defer lcancel()
	m := &demoMember{name: name, runDone: make(chan struct{})}
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	m.mpv, err = player.Launch(lctx, d.Media, opts)
	if err != nil {
		return nil, fmt.Errorf("starting mpv for %s: %w", name, err)
	}
	m.client, err = realtime.NewClient(d.URL, realtime.Options{Logger: d.log})
	if err != nil {
		return nil, err
	}
	if err := m.client.Connect(lctx); err != nil {
		return nil, fmt.Errorf("%s connecting to the demo server: %w", name, err)
	}
	cfg := room.Config{
		RoomID: demoRoom, UserID: newUserID(name), Username: name,
		WantHost: host, Server: d.URL, Logger: d.log,
	}
	if rc, err := rest.New(d.URL, ""); err == nil {
		cfg.Store = roomrest.Store{C: rc}
	}
	m.room, err = room.Join(lctx, m.client, cfg, m.mpv)
	if err != nil {
		return nil, err
	}
	rctx, rcancel := context.WithCancel(d.ctx)
	m.cancel = rcancel
	go func() {
		defer close(m.runDone)
		_ = m.room.Run(rctx)
	}()
	if !host {
		m.drained = make(chan struct{})
		go func() {
			defer close(m.drained)
			for range m.room.Events() {
			}
		}()
	}
	return m, nil
}

// close stops the room, then the client and mpv. Safe on a member whose
// join failed part way.
func (m *demoMember) close() {
	if m.cancel != nil {
		m.cancel()
		<-m.runDone
		if m.drained != nil {
			<-m.drained
		}
	}
	if m.client != nil {
		_ = m.client.Close()
	}
	if m.mpv != nil {
		_ = m.mpv.Close()
	}
}

// StartScript runs the simulated members' script in the background until
// it ends or Close is called.
func (d *demo) StartScript() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.scriptDone != nil {
		return
	}
	d.scriptDone = make(chan struct{})
	go func() {
		defer close(d.scriptDone)
		d.runScript(d.ctx)
	}()
}

// ScriptDone is closed once every step has run (or Close stopped it).
func (d *demo) ScriptDone() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.scriptDone
}

func (d *demo) scaled(t time.Duration) time.Duration {
	return time.Duration(float64(t) * d.cfg.Scale)
}

// sleep waits t (scaled) or until ctx ends; false when ctx ended.
func (d *demo) sleep(ctx context.Context, t time.Duration) bool {
	timer := time.NewTimer(d.scaled(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func (d *demo) runScript(ctx context.Context) {
	start := time.Now()
	for _, st := range d.cfg.Script {
		if wait := d.scaled(st.At) - time.Since(start); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		d.step(ctx, st)
	}
}

func (d *demo) step(ctx context.Context, st demoStep) {
	if st.Action == demoJoin {
		m, err := d.join(ctx, st.Who, false, player.Options{Headless: true, StartPaused: true, Logger: d.log})
		if err != nil {
			if ctx.Err() == nil {
				d.cfg.Note(fmt.Sprintf("demo: %s could not join: %v", st.Who, err))
			}
			return
		}
		d.mu.Lock()
		d.members[st.Who] = m
		d.mu.Unlock()
		return
	}
	d.mu.Lock()
	m := d.members[st.Who]
	d.mu.Unlock()
	if m == nil {
		return // never joined
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var err error
	switch st.Action {
	case demoSay:
		err = m.room.Say(cctx, st.Text)
	case demoWander:
		err = d.wander(cctx, m)
	case demoResync:
		err = d.resync(cctx, m)
	}
	if err != nil && ctx.Err() == nil {
		d.log.Warn("demo step failed", "who", st.Who, "action", st.Action, "err", err)
	}
}

// wander does what a person does in their own mpv: a raw call, which the
// driver reports as the person's action, so the room shows them detached.
func (d *demo) wander(ctx context.Context, m *demoMember) error {
	paused, err := m.mpv.Paused(ctx)
	if err != nil {
		return err
	}
	if !paused {
		if _, err := m.mpv.Call(ctx, "set_property", "pause", true); err != nil {
			return err
		}
		d.cfg.Note(m.name + " paused his own mpv: he shows as detached and out of sync until he re-syncs")
		return nil
	}
	// Everyone is paused, so pausing would change nothing: skip ahead.
	if _, err := m.mpv.Call(ctx, "seek", 30, "relative"); err != nil {
		return err
	}
	d.cfg.Note(m.name + " skipped ahead in his own mpv: he shows as detached and out of sync until he re-syncs")
	return nil
}

// resync is the member typing /sync; the room may still be waiting for
// the host's timeline, so it is retried a few times.
func (d *demo) resync(ctx context.Context, m *demoMember) error {
	var err error
	for range 5 {
		if err = m.room.Resync(ctx); err == nil {
			d.cfg.Note(m.name + " typed /sync: he follows you again")
			return nil
		}
		if !d.sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
	return err
}

// Close stops the script, the simulated members and their mpv, the host
// (if JoinHost ran), the server, and removes a temp video. Idempotent.
func (d *demo) Close() error {
	d.closeOnce.Do(func() {
		d.cancel()
		d.mu.Lock()
		done := d.scriptDone
		d.mu.Unlock()
		if done != nil {
			<-done
		}
		d.mu.Lock()
		members, host := d.members, d.host
		d.members, d.host = nil, nil
		d.mu.Unlock()
		var wg sync.WaitGroup
		for _, m := range members {
			wg.Go(m.close)
		}
		wg.Wait()
		if host != nil {
			host.close()
		}
		if d.srv != nil {
			d.closeErr = d.srv.stop()
		}
		if d.st != nil {
			_ = d.st.Close()
		}
		if d.tmpDir != "" {
			_ = os.RemoveAll(d.tmpDir)
		}
	})
	return d.closeErr
}
