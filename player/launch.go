package player

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Options configures Launch.
type Options struct {
	Headless    bool     // --vo=null --ao=null and no user config (tests, servers); default is a normal window
	ExtraArgs   []string // appended to mpv's argv, e.g. --ao-null-speed=1.001
	MPVPath     string   // default "mpv" from PATH
	StartPaused bool     // --pause
	Logger      *slog.Logger
}

const (
	connectTimeout = 5 * time.Second
	quitGrace      = 2 * time.Second
)

type process struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // set before exited is closed
	logPath string
}

// Launch starts mpv, connects to it and, if media is not empty, loads it and
// returns once the first frame is shown. ctx bounds only the startup; the
// mpv lives until Close (or until it quits).
func Launch(ctx context.Context, media string, opts Options) (*MPV, error) {
	bin := opts.MPVPath
	if bin == "" {
		bin = "mpv"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w (looked for %q: %v)", ErrNotInstalled, bin, err)
	}
	if media != "" && !strings.Contains(media, "://") {
		if _, err := os.Stat(media); err != nil {
			return nil, fmt.Errorf("player: cannot play %q: %w", media, err)
		}
	}
	// A fresh private dir under /tmp: socket paths must stay under 108 bytes
	// and nobody else may reach the socket (mpv's `run` executes programs).
	dir, err := os.MkdirTemp("/tmp", "mpv")
	if err != nil {
		return nil, fmt.Errorf("player: creating the mpv socket dir: %w", err)
	}
	sock := filepath.Join(dir, "ipc.sock")
	logPath := filepath.Join(dir, "mpv.log")
	args := []string{"--input-ipc-server=" + sock, "--idle=yes", "--keep-open=yes", "--no-terminal", "--log-file=" + logPath}
	if opts.StartPaused {
		args = append(args, "--pause")
	}
	if opts.Headless {
		// Only headless: a person's window keeps their config and key bindings.
		args = append(args, "--no-config", "--vo=null", "--ao=null", "--load-scripts=no", "--osc=no", "--ytdl=no", "--input-default-bindings=no")
	}
	args = append(args, opts.ExtraArgs...)

	p, err := startProcess(path, args, logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("player: starting %s: %w", path, err)
	}
	fail := func(err error) (*MPV, error) {
		p.kill()
		os.RemoveAll(dir)
		return nil, err
	}
	conn, err := dialLaunched(ctx, sock, p)
	if err != nil {
		return fail(err)
	}
	m := newMPV(conn, opts.Logger)
	m.proc, m.dir = p, dir
	m.log.Debug("mpv started", "pid", p.cmd.Process.Pid, "args", args)
	if err := m.observe(ctx); err != nil {
		m.Close()
		return nil, err
	}
	if media != "" {
		if err := m.load(ctx, media); err != nil {
			err = fmt.Errorf("%w%s", err, p.logTail())
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

func startProcess(path string, args []string, logPath string) (*process, error) {
	cmd := exec.Command(path, args...)
	setDeathSignal(cmd)
	p := &process{cmd: cmd, exited: make(chan struct{}), logPath: logPath}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that started mpv exits, so this
		// goroutine keeps that thread for as long as mpv runs.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, <-started
}

// kill ends mpv by its own pid and reaps it.
func (p *process) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// logTail returns the end of mpv's log for error messages: with
// --no-terminal mpv reports nothing anywhere else.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil || len(b) == 0 {
		return ""
	}
	b = bytes.TrimSpace(b)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return "\nend of mpv log:\n" + string(b)
}

func dialLaunched(ctx context.Context, sock string, p *process) (net.Conn, error) {
	deadline := time.Now().Add(connectTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	giveUp := time.NewTimer(time.Until(deadline))
	defer giveUp.Stop()
	retry := time.NewTicker(10 * time.Millisecond)
	defer retry.Stop()
	for {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			return conn, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%w: mpv exited during startup (%v)%s", ErrClosed, p.waitErr, p.logTail())
		case <-ctx.Done():
			return nil, ctxErr(ctx, "startup (opening the IPC socket)")
		case <-giveUp.C:
			return nil, fmt.Errorf("%w: mpv did not open its IPC socket %s within %v (check ExtraArgs)%s", ErrTimeout, sock, connectTimeout, p.logTail())
		case <-retry.C:
		}
	}
}

func (m *MPV) load(ctx context.Context, media string) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	ch := make(chan error, 1)
	m.mu.Lock()
	m.loadWait = ch
	m.mu.Unlock()
	if _, err := m.Call(ctx, "loadfile", media, "replace"); err != nil {
		return err
	}
	select {
	case err := <-ch:
		if err != nil {
			return fmt.Errorf("player: loading %q: %w", media, err)
		}
		return nil
	case <-ctx.Done():
		return ctxErr(ctx, fmt.Sprintf("loadfile %q (waiting for the first frame)", media))
	}
}

// Attach drives an mpv the person started with --input-ipc-server=socketPath.
// Close only disconnects; it never stops that mpv or removes its socket.
func Attach(ctx context.Context, socketPath string) (*MPV, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no mpv is listening on %s: start mpv with --input-ipc-server=%s", socketPath, socketPath)
		}
		return nil, fmt.Errorf("cannot connect to mpv at %s: %w", socketPath, err)
	}
	m := newMPV(conn, nil)
	if _, err := m.Call(ctx, "get_property", "mpv-version"); err != nil {
		m.Close()
		return nil, fmt.Errorf("%s does not answer like an mpv IPC socket (start mpv with --input-ipc-server=%s): %w", socketPath, socketPath, err)
	}
	if err := m.observe(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Close disconnects. For a launched mpv it also asks it to quit, kills it by
// pid if it has not exited within 2 s, and removes its socket dir. Idempotent.
func (m *MPV) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closing = true
		m.mu.Unlock()
		if p := m.proc; p != nil {
			grace := time.NewTimer(quitGrace)
			defer grace.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), quitGrace)
			_, _ = m.Call(ctx, "quit")
			cancel()
			select {
			case <-p.exited:
			case <-grace.C:
				m.log.Warn("mpv did not quit in time; killing it", "pid", p.cmd.Process.Pid)
				p.kill()
			}
		}
		m.conn.Close()
		<-m.done
		if m.dir != "" {
			m.closeErr = os.RemoveAll(m.dir)
		}
	})
	return m.closeErr
}

// ProcessExit says how a launched mpv ended, waiting up to wait for its
// process to be reaped: nil when it exited cleanly (the person quit it), an
// error when it crashed or was killed. ok is false for an attached mpv or
// one still running.
func (m *MPV) ProcessExit(wait time.Duration) (err error, ok bool) {
	p := m.proc
	if p == nil {
		return nil, false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-p.exited:
		return p.waitErr, true
	case <-t.C:
		return nil, false
	}
}

// PID is a launched mpv's process id (0 for an attached one), for fault
// tests that stop or kill it.
func (m *MPV) PID() int {
	if m.proc == nil {
		return 0
	}
	return m.proc.cmd.Process.Pid
}

// SocketPath is a launched mpv's IPC socket ("" for an attached one), so
// another client (a `join --mpv-socket`) can drive the same mpv.
func (m *MPV) SocketPath() string {
	if m.dir == "" {
		return ""
	}
	return filepath.Join(m.dir, "ipc.sock")
}
