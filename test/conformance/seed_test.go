package conformance

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/internal/testmedia"
	"github.com/watchium/watchium-tui/player"
	"github.com/watchium/watchium-tui/realtime"
	"github.com/watchium/watchium-tui/rest"
	"github.com/watchium/watchium-tui/room"
	"github.com/watchium/watchium-tui/roomrest"
	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/store"
)

// The seed's spec, beside the repository as shared/ is laid out for every
// checkout (CI included).
var specPath = filepath.Join("..", "..", "..", "shared", "spec", "websocket-events.md")

var (
	mediaOnce sync.Once
	mediaPath string
	mediaErr  error
)

func needSeed(t *testing.T) string {
	t.Helper()
	_, nodeErr := exec.LookPath("node")
	need(t, nodeErr == nil, "node")
	_, modErr := os.Stat("node_modules/@supabase/realtime-js/package.json")
	need(t, modErr == nil, "test/conformance/node_modules (npm ci in test/conformance)")
	_, specErr := os.Stat(specPath)
	need(t, specErr == nil, "the seed's spec at "+specPath)
	_, mpvErr := exec.LookPath("mpv")
	need(t, mpvErr == nil, "mpv")
	mediaOnce.Do(func() {
		dir, err := os.MkdirTemp("", "seed-media")
		if err != nil {
			mediaErr = err
			return
		}
		mediaPath, mediaErr = testmedia.Make(dir, testmedia.Default)
	})
	if mediaErr != nil {
		t.Fatalf("test media: %v", mediaErr)
	}
	return mediaPath
}

// storedServer is the embedded server with its store, as `serve` runs it.
func storedServer(t *testing.T) string {
	t.Helper()
	st, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{Store: st})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
		_ = st.Close()
	})
	return hs.URL
}

// seedLine is one report of seed.mjs.
type seedLine struct {
	Ev          string  `json:"ev"`
	T           float64 `json:"t"` // wall ms
	CurrentTime float64 `json:"current_time"`
	Paused      bool    `json:"paused"`
	Kind        string  `json:"kind"`
	OK          bool    `json:"ok"`
	Cmd         string  `json:"cmd"`
	Status      int     `json:"status"`
	Body        string  `json:"body"`
}

// position is the web video's position at wall time now, from this report.
func (l seedLine) position(now time.Time) float64 {
	if l.Paused {
		return l.CurrentTime
	}
	return l.CurrentTime + (float64(now.UnixNano())/1e6-l.T)/1000
}

type seedPage struct {
	t     *testing.T
	stdin io.WriteCloser
	lines chan seedLine
	mu    sync.Mutex
	all   []seedLine
}

func startSeed(t *testing.T, url, roomID, userID, mode string) *seedPage {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", "seed.mjs")
	cmd.Env = append(os.Environ(), "SERVER_URL="+url, "API_KEY=anon", "SPEC="+specPath, "ROOM="+roomID, "USER_ID="+userID, "MODE="+mode)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &seedPage{t: t, stdin: stdin, lines: make(chan seedLine, 1000)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l seedLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Logf("seed %s: %s", mode, sc.Text())
				continue
			}
			p.mu.Lock()
			p.all = append(p.all, l)
			p.mu.Unlock()
			p.lines <- l
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		fmt.Fprintln(stdin, `{"cmd":"quit"}`)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	p.await("subscribed", func(l seedLine) bool { return l.Ev == "subscribed" })
	return p
}

func (p *seedPage) send(cmd string, args ...any) seedLine {
	p.t.Helper()
	m := map[string]any{"cmd": cmd}
	for i := 0; i+1 < len(args); i += 2 {
		m[args[i].(string)] = args[i+1]
	}
	b, _ := json.Marshal(m)
	fmt.Fprintf(p.stdin, "%s\n", b)
	return p.await(cmd, func(l seedLine) bool { return l.Ev == "done" && l.Cmd == cmd })
}

func (p *seedPage) await(what string, pred func(seedLine) bool) seedLine {
	p.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("seed page exited waiting for %s", what)
			}
			if pred(l) {
				return l
			}
		case <-deadline:
			p.t.Fatalf("seed page: timed out waiting for %s", what)
		}
	}
}

// assignments are the values the manager wrote to video.currentTime.
func (p *seedPage) assignments() []seedLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []seedLine
	for _, l := range p.all {
		if l.Ev == "set" {
			out = append(out, l)
		}
	}
	return out
}

type watchiumPeer struct {
	room *room.Room
	mpv  *player.MPV
	id   string
}

func joinWatchium(t *testing.T, url, roomID, userID string, host bool, media string) *watchiumPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := player.Launch(ctx, media, player.Options{Headless: true, StartPaused: true})
	if err != nil {
		t.Fatalf("launch mpv: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	c, err := realtime.NewClient(url, realtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	rc, err := rest.New(url, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := room.Join(ctx, c, room.Config{RoomID: roomID, UserID: userID, Username: userID, WantHost: host, Store: roomrest.Store{C: rc}}, m)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(rctx); close(done) }()
	go func() {
		for range r.Events() {
		}
	}()
	t.Cleanup(func() { stop(); <-done; _ = c.Close() })
	return &watchiumPeer{room: r, mpv: m, id: userID}
}

func (w *watchiumPeer) snap(t *testing.T) room.Snapshot {
	s, err := w.room.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling a condition, with a deadline
	}
	return time.Now()
}

// A watchium host and the seed's web client as a follower: the page's video
// plays, lands on the seek target and rests paused with the host, and is
// never handed anything but a number.
func TestSeedWebFollowerFollowsWatchiumHost(t *testing.T) {
	media := needSeed(t)
	url := storedServer(t)
	host := joinWatchium(t, url, "seedroom", "ana", true, media)
	waitFor(t, "ana hosts", 10*time.Second, func() bool { return host.snap(t).HostID == "ana" })
	web := startSeed(t, url, "seedroom", "web-follower", "follower")
	waitFor(t, "the web member in ana's room", 10*time.Second, func() bool {
		for _, m := range host.snap(t).Members {
			if m.UserID == "web-follower" {
				return true
			}
		}
		return false
	})
	ctx := context.Background()

	if err := host.room.Play(ctx); err != nil {
		t.Fatal(err)
	}
	played := web.await("play", func(l seedLine) bool { return l.Ev == "play" })
	hostPos := host.mpv.State().PositionAt(time.Now())
	t.Logf("play: web at %.3f s, host at %.3f s", played.position(time.Now()), hostPos)

	waitFor(t, "the host to play on", 10*time.Second, func() bool { return host.mpv.State().PositionAt(time.Now()) > 2 })
	if err := host.room.Seek(ctx, 60); err != nil {
		t.Fatal(err)
	}
	landed := web.await("seek to 60", func(l seedLine) bool { return l.Ev == "set" && l.OK && math.Abs(l.CurrentTime-60) < 0.5 })
	t.Logf("seek: web set to %.3f s (target 60)", landed.CurrentTime)

	waitFor(t, "the host to play past 61", 10*time.Second, func() bool { return host.mpv.State().PositionAt(time.Now()) > 61 })
	if err := host.room.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	paused := web.await("pause", func(l seedLine) bool { return l.Ev == "pause" })
	// The pause event's own current_time lands after the pause itself.
	rest := web.await("rest on the host's frame", func(l seedLine) bool { return l.Ev == "set" && l.OK && l.T >= paused.T })
	hostAt := host.mpv.State().Pos
	t.Logf("pause: web rests at %.3f s, host at %.3f s (Δ %.0f ms)", rest.CurrentTime, hostAt, (rest.CurrentTime-hostAt)*1000)
	if math.Abs(rest.CurrentTime-hostAt) > 0.5 {
		t.Fatalf("web rests at %.3f, host at %.3f", rest.CurrentTime, hostAt)
	}
	for _, a := range web.assignments() {
		if !a.OK || a.Kind != "number" {
			t.Fatalf("the web video was handed currentTime of type %s", a.Kind)
		}
	}

	// The web member as `members --json` shows it: its position and the
	// spec's in-sync verdict, worked out from its presence.
	out, err := exec.Command(buildBinary(t), "members", "seedroom", "--json", "--server", url).Output()
	if err != nil {
		t.Fatalf("members: %v", err)
	}
	var rows []room.RosterMember
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("members --json: %v\n%s", err, out)
	}
	i := slices.IndexFunc(rows, func(m room.RosterMember) bool { return m.UserID == "web-follower" })
	if i < 0 {
		t.Fatalf("web member missing from %s", out)
	}
	w := rows[i]
	if w.Client != "web" || !w.InSync || w.IsPlaying || math.Abs(w.CurrentTime-hostAt) > 0.5 || !rows[0].IsHost || rows[0].UserID != "ana" {
		t.Fatalf("members --json: %s", out)
	}
}

// The seed's web client as the host, through sync/control, and a watchium
// follower with real mpv: play, seek and pause are followed within the
// spec's tolerance, and drift is corrected from the page's 3 s presence.
func TestSeedWebHostLeadsWatchiumFollower(t *testing.T) {
	media := needSeed(t)
	url := storedServer(t)
	web := startSeed(t, url, "webhosted", "web-host", "host")
	bob := joinWatchium(t, url, "webhosted", "bob", false, media)
	waitFor(t, "the web host in bob's room", 10*time.Second, func() bool {
		for _, m := range bob.snap(t).Members {
			if m.UserID == "web-host" {
				return true
			}
		}
		return false
	})
	var figures []string
	offset := func(l seedLine) float64 {
		now := time.Now()
		return bob.mpv.State().PositionAt(now) - l.position(now)
	}
	apply := func(what string, l seedLine, cond func() bool) {
		t.Helper()
		at := waitFor(t, what, 10*time.Second, cond)
		figures = append(figures, fmt.Sprintf("%-6s applied %6.1f ms after the page acted, offset %+6.1f ms",
			what, float64(at.UnixNano())/1e6-l.T, offset(l)*1000))
	}

	played := web.send("play")
	if c := web.await("control reply", func(l seedLine) bool { return l.Ev == "control" }); c.Status != 200 {
		t.Fatalf("sync/control refused the web host: %d %s", c.Status, c.Body)
	}
	apply("play", played, func() bool { return !bob.mpv.State().Paused })
	waitFor(t, "bob to follow web-host", 5*time.Second, func() bool { return bob.snap(t).HostID == "web-host" })

	// Playing: sample the offset for 7 s, across two presence reports.
	var offs []float64
	for end := time.Now().Add(7 * time.Second); time.Now().Before(end); {
		offs = append(offs, math.Abs(offset(played)))
		time.Sleep(100 * time.Millisecond) // a sampling interval, not a wait for a condition
	}
	slices.Sort(offs)
	figures = append(figures, fmt.Sprintf("|offset| while playing: p50 %.1f ms, p95 %.1f ms, max %.1f ms (%d samples)",
		offs[len(offs)/2]*1000, offs[len(offs)*95/100]*1000, offs[len(offs)-1]*1000, len(offs)))
	if offs[len(offs)-1] > room.SyncTolerance {
		t.Fatalf("bob drifted %.3f s from the web host", offs[len(offs)-1])
	}

	seeked := web.send("seek", "to", 50.0)
	apply("seek", seeked, func() bool { return math.Abs(offset(seeked)) < 0.2 })

	waitFor(t, "the page to play past 51", 10*time.Second, func() bool { return seeked.position(time.Now()) > 51 })
	pausedAt := web.send("pause")
	apply("pause", pausedAt, func() bool { st := bob.mpv.State(); return st.Paused && !st.Seeking })
	// Resting on the page's frame: within one frame of the 100 fps clip.
	waitFor(t, "bob to rest on the page's frame", 5*time.Second, func() bool {
		st := bob.mpv.State()
		return st.Paused && !st.Seeking && math.Abs(offset(pausedAt)) <= 0.011
	})
	figures = append(figures, fmt.Sprintf("paused: bob rests %+.1f ms from the page", offset(pausedAt)*1000))
	t.Logf("web host → watchium follower (real mpv):\n  %s", strings.Join(figures, "\n  "))
	if math.Abs(offset(pausedAt)) > room.SyncTolerance {
		t.Fatalf("paused %.3f s apart", offset(pausedAt))
	}
	s := bob.snap(t)
	if h, ok := s.Host(); !ok || h.UserID != "web-host" || !h.InSync {
		t.Fatalf("bob sees host %+v", h)
	}
}
