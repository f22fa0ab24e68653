package player

import (
	"bufio"
	"context"
	"errors"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const frame = 0.04 // 25 fps test media

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %.3f", what, got, want, tol)
	}
}

// rawClient is a second IPC connection standing in for the person at the
// keyboard: mpv cannot tell it apart from its own input.
func rawClient(t *testing.T, sock string) func(line string) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() { // mpv also sends this client events; keep its buffer empty
		br := bufio.NewReader(c)
		for {
			if _, err := br.ReadSlice('\n'); err != nil && err != bufio.ErrBufferFull {
				return
			}
		}
	}()
	return func(line string) {
		t.Helper()
		if _, err := c.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLaunchControl(t *testing.T) {
	m := launchTest(t, false)
	ctx := tctx(t)
	st := m.State()
	if !st.Loaded || !st.Paused || st.Speed != 1 {
		t.Fatalf("state after Launch = %+v, want loaded, paused, speed 1", st)
	}
	near(t, "State.Duration", st.Duration, 60, 0.5)
	pos, err := m.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Position after Launch", pos, 0, 0.2)
	mi, err := m.Media(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Filename != "x.mkv" || mi.Size <= 0 || math.Abs(mi.Duration-60) > 0.5 {
		t.Errorf("Media = %+v", mi)
	}

	drain(m)
	if err := m.Play(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, m, EventUnpaused); !ev.Ours {
		t.Errorf("our Play gave %+v, want Ours", ev)
	}
	for ev := waitEvent(t, m, EventPosition); ev.Position <= pos; ev = waitEvent(t, m, EventPosition) {
	}
	if p, _ := m.Paused(ctx); p {
		t.Error("Paused() = true after Play")
	}
	if err := m.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, m, EventPaused)

	if err := m.Seek(ctx, 12.33); err != nil {
		t.Fatal(err)
	}
	pos, err = m.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Position after Seek(12.33)", pos, 12.33, frame)
	ev := waitEvent(t, m, EventSeeked)
	if !ev.Ours || ev.Position != pos {
		t.Errorf("EventSeeked = %+v, want Ours at %.3f (the shown frame, not the target)", ev, pos)
	}
	if err := m.SeekRelative(ctx, 5); err != nil {
		t.Fatal(err)
	}
	pos, _ = m.Position(ctx)
	near(t, "Position after SeekRelative(5)", pos, 17.33, 2*frame)

	if err := m.SetSpeed(ctx, 1.5); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, m, EventSpeedChanged); !ev.Ours || ev.Speed != 1.5 {
		t.Errorf("speed event = %+v", ev)
	}
	if s, err := m.Speed(ctx); err != nil || s != 1.5 {
		t.Errorf("Speed() = %v, %v", s, err)
	}
	if err := m.ShowText(ctx, "hello ${path}", time.Second); err != nil {
		t.Error(err)
	}
	if _, err := m.Call(ctx, "get_property", "no-such-property"); err == nil || !strings.Contains(err.Error(), "property not found") {
		t.Errorf("unknown property: err = %v", err)
	}
}

func TestEventsInOrder(t *testing.T) {
	m := launchTest(t, true)
	ctx := tctx(t)
	var got []Event
	collect := func(until EventKind) {
		t.Helper()
		for {
			ev := waitAny(t, m)
			got = append(got, ev)
			if ev.Kind == until {
				return
			}
		}
	}
	if err := m.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	// mpv would merge a pause and an immediate unpause into no change at all.
	collect(EventPaused)
	if err := m.Play(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Seek(ctx, 30); err != nil {
		t.Fatal(err)
	}
	collect(EventSeeked)
	collect(EventPosition)

	var kinds []EventKind
	for i, ev := range got {
		if i > 0 && ev.At.Before(got[i-1].At) {
			t.Errorf("event %d (%v) arrived at %v, before event %d", i, ev.Kind, ev.At, i-1)
		}
		if ev.Kind != EventPosition && ev.Kind != EventFileLoaded {
			kinds = append(kinds, ev.Kind)
		}
	}
	if len(kinds) != 4 || kinds[0] != EventPaused || kinds[1] != EventUnpaused || kinds[2] != EventSeekStarted || kinds[3] != EventSeeked {
		t.Errorf("events = %v, want [paused unpaused seek-started seeked]", kinds)
	}
	for _, ev := range got {
		if ev.Kind == EventSeekStarted && (ev.Position != 30 || !ev.Ours) {
			t.Errorf("seek-started at %.3f (ours %v), want the target 30, ours", ev.Position, ev.Ours)
		}
	}
	if last := got[len(got)-1]; last.Position < 30 {
		t.Errorf("frame step after the seek at %.3f, want >= 30", last.Position)
	}
}

func waitAny(t *testing.T, m *MPV) Event {
	t.Helper()
	select {
	case ev := <-m.Events():
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
		return Event{}
	}
}

func TestOursAttribution(t *testing.T) {
	m := launchTest(t, false)
	ctx := tctx(t)
	person := rawClient(t, filepath.Join(m.dir, "ipc.sock"))
	check := func(k EventKind, ours bool) Event {
		t.Helper()
		ev := waitEvent(t, m, k)
		if ev.Ours != ours {
			t.Errorf("%v: Ours = %v, want %v", k, ev.Ours, ours)
		}
		return ev
	}

	if err := m.Play(ctx); err != nil {
		t.Fatal(err)
	}
	check(EventUnpaused, true)
	person(`{"command":["set_property","pause",true]}`)
	check(EventPaused, false)

	// Already paused: mpv reports nothing, so no expectation may linger to
	// claim the person's next pause.
	if err := m.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	person(`{"command":["set_property","pause",false]}`)
	check(EventUnpaused, false)
	person(`{"command":["set_property","pause",true]}`)
	check(EventPaused, false)

	if err := m.Seek(ctx, 5); err != nil {
		t.Fatal(err)
	}
	near(t, "our seek", check(EventSeeked, true).Position, 5, frame)
	person(`{"command":["seek",20,"absolute"]}`)
	near(t, "person's seek", check(EventSeeked, false).Position, 20, frame)

	if err := m.SetSpeed(ctx, 1.25); err != nil {
		t.Fatal(err)
	}
	check(EventSpeedChanged, true)
	person(`{"command":["set_property","speed",0.8]}`)
	if ev := check(EventSpeedChanged, false); ev.Speed != 0.8 {
		t.Errorf("person's speed = %v", ev.Speed)
	}
}

func TestConcurrentCalls(t *testing.T) {
	m := launchTest(t, true)
	ctx := tctx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if _, err := m.Position(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestKilledMidRequest(t *testing.T) {
	m := launchTest(t, true)
	pid := m.proc.cmd.Process.Pid
	// Stopped, mpv cannot answer, so the call below is surely in flight.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		_, err := m.Position(context.Background())
		res <- err
	}()
	waitPending(t, m)
	if err := m.proc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("pending call: err = %v, want ErrClosed", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("pending call did not return after mpv was killed")
	}
	select {
	case <-m.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("Done not closed")
	}
	if !errors.Is(m.Err(), ErrClosed) {
		t.Errorf("Err() = %v", m.Err())
	}
	start := time.Now()
	if err := m.Play(tctx(t)); !errors.Is(err, ErrClosed) || time.Since(start) > time.Second {
		t.Errorf("call after death: %v after %v, want ErrClosed at once", err, time.Since(start))
	}
	var last Event
	for ev := range m.Events() {
		last = ev
	}
	if last.Kind != EventShutdown {
		t.Errorf("last event = %v, want shutdown", last.Kind)
	}
}

func waitPending(t *testing.T, m *MPV) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	timeout := time.After(3 * time.Second)
	for {
		m.mu.Lock()
		n := len(m.pending)
		m.mu.Unlock()
		if n > 0 {
			return
		}
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatal("call never became pending")
		}
	}
}

func TestCloseAndQuit(t *testing.T) {
	m := launchTest(t, true)
	dir := m.dir
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.proc.exited:
	default:
		t.Error("mpv still running after Close")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("socket dir left behind: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := m.Position(tctx(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Position after Close: %v", err)
	}

	m = launchTest(t, false)
	if err := m.Quit(tctx(t)); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(m.Err(), ErrClosed) {
		t.Errorf("Err after Quit = %v", m.Err())
	}
}

func TestAttach(t *testing.T) {
	needMPV(t)
	dir, err := os.MkdirTemp("/tmp", "mpvt")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s")
	cmd := exec.Command("mpv", "--no-config", "--idle=yes", "--pause", "--keep-open=yes", "--vo=null", "--ao=null",
		"--no-terminal", "--load-scripts=no", "--input-ipc-server="+sock, testMedia)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { // the test started it, so the test ends it, by its pid
		cmd.Process.Kill()
		cmd.Wait()
	}()

	var m *MPV
	deadline := time.Now().Add(5 * time.Second)
	for m == nil {
		m, err = Attach(tctx(t), sock)
		if err != nil && time.Now().After(deadline) {
			t.Fatalf("Attach: %v", err)
		}
		if err != nil {
			time.Sleep(10 * time.Millisecond) // retry: mpv has not created the socket yet
		}
	}
	ctx := tctx(t)
	waitLoaded(t, m)
	if err := m.Seek(ctx, 7); err != nil {
		t.Fatal(err)
	}
	pos, err := m.Position(ctx)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Position", pos, 7, frame)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("Close stopped the person's mpv: %v", err)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("Close removed the person's socket: %v", err)
	}
	m2, err := Attach(ctx, sock)
	if err != nil {
		t.Fatalf("re-Attach: %v", err)
	}
	defer m2.Close()
	if p, err := m2.Paused(ctx); err != nil || !p {
		t.Errorf("Paused = %v, %v", p, err)
	}
}

// waitLoaded waits for the attached mpv to have its file open.
func waitLoaded(t *testing.T, m *MPV) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for !m.State().Loaded {
		select {
		case <-m.Events():
		case <-timeout:
			t.Fatal("file never loaded")
		}
	}
}

func TestAttachMissing(t *testing.T) {
	dir, err := os.MkdirTemp("/tmp", "mpvt")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	missing := filepath.Join(dir, "none.sock")
	stale := filepath.Join(dir, "stale.sock") // left behind by an mpv that quit
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	for _, p := range []string{missing, stale} {
		_, err := Attach(tctx(t), p)
		if err == nil || !strings.Contains(err.Error(), "no mpv is listening on "+p) || !strings.Contains(err.Error(), "--input-ipc-server="+p) {
			t.Errorf("Attach(%s) error = %v", p, err)
		}
	}
	if _, err := os.Stat(stale); err != nil {
		t.Errorf("Attach removed a socket it does not own: %v", err)
	}
}

func TestLaunchErrors(t *testing.T) {
	_, err := Launch(tctx(t), "", Options{MPVPath: "/nonexistent/mpv", Headless: true})
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "apt-get install mpv") {
		t.Errorf("missing binary: %v", err)
	}
	needMPV(t)
	if _, err := Launch(tctx(t), "/nonexistent/x.mkv", Options{Headless: true}); err == nil {
		t.Error("missing file: no error")
	}
	junk := filepath.Join(t.TempDir(), "junk.mkv")
	if err := os.WriteFile(junk, []byte("not a video"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Launch(tctx(t), junk, Options{Headless: true}); err == nil || !strings.Contains(err.Error(), "could not open") {
		t.Errorf("junk file: %v", err)
	}
	// An empty media starts an idle mpv; times are unavailable until a file loads.
	m, err := Launch(tctx(t), "", Options{Headless: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Position(tctx(t)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Position while idle: %v, want ErrUnavailable", err)
	}
	if m.State().Loaded {
		t.Error("idle mpv reports Loaded")
	}
}

// At the end of the file mpv (--keep-open) pauses by itself; consumers must
// see the end first so they do not take it for the person's pause.
func TestEndOfFile(t *testing.T) {
	m := launchTest(t, true)
	ctx := tctx(t)
	if err := m.Seek(ctx, 59.5); err != nil {
		t.Fatal(err)
	}
	var kinds []EventKind
	for {
		ev := waitAny(t, m)
		if ev.Kind == EventEndOfFile || ev.Kind == EventPaused {
			kinds = append(kinds, ev.Kind)
		}
		if ev.Kind == EventPaused {
			if ev.Ours {
				t.Error("pause at the end marked Ours")
			}
			break
		}
	}
	if len(kinds) != 2 || kinds[0] != EventEndOfFile {
		t.Errorf("events = %v, want [end-of-file paused]", kinds)
	}
	// keep-open: seeking back after the end works. (A seek past the end
	// while paused sets no eof-reached in mpv 0.35, so no event to test.)
	if err := m.Seek(ctx, 10); err != nil {
		t.Fatal(err)
	}
	near(t, "Position after seeking back", m.State().Pos, 10, frame)
}

// LoadFile replaces a playing file and returns once the new one shows,
// paused if asked, without the pause counting as the person's.
func TestLoadFile(t *testing.T) {
	m := launchTest(t, false)
	ctx := tctx(t)
	if err := m.Play(ctx); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(t.TempDir(), "second.mkv")
	b, err := os.ReadFile(testMedia)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(second, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// mpv reports a property only when it differs from what it reported
	// last: a pause set before it noticed the play would go unreported.
	waitEvent(t, m, EventUnpaused)
	drain(m)
	if err := m.LoadFile(ctx, second, true); err != nil {
		t.Fatal(err)
	}
	st := m.State()
	if !st.Loaded || !st.Paused || st.Pos > 0.1 {
		t.Fatalf("after LoadFile: %+v, want loaded, paused at the start", st)
	}
	if mi, err := m.Media(ctx); err != nil || mi.Filename != "second.mkv" {
		t.Fatalf("Media = %+v, %v", mi, err)
	}
	if ev := waitEvent(t, m, EventPaused); !ev.Ours {
		t.Errorf("the pause before loading was taken for the person's: %+v", ev)
	}
	if err := m.LoadFile(ctx, filepath.Join(t.TempDir(), "nope.mkv"), true); err == nil {
		t.Fatal("loading a missing file succeeded")
	}
	if err := m.LoadFile(ctx, "", true); err == nil {
		t.Fatal("an empty path was accepted")
	}
}
