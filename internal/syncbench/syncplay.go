package syncbench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/watchium/watchium-tui/internal/testmedia"
	"github.com/watchium/watchium-tui/player"
)

// ErrNoSyncplay means Debian's syncplay and syncplay-server are missing.
var ErrNoSyncplay = errors.New("syncplay is not installed (apt-get install -y syncplay syncplay-server)")

// RunSyncplaySeeks measures Syncplay the same way as RunSeeks: the same
// media, the same number of clients, each with the headless mpv Syncplay
// starts itself, the "host" (the client whose mpv is seeked) driven through
// that mpv's own IPC socket, as a person pressing keys in mpv would be.
func RunSyncplaySeeks(ctx context.Context, cfg SeekConfig) (SeekResult, error) {
	res := SeekResult{Config: cfg}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	for _, bin := range []string{"syncplay", "syncplay-server"} {
		if _, err := exec.LookPath(bin); err != nil {
			return res, ErrNoSyncplay
		}
	}
	media, err := testmedia.Cached(cfg.Media)
	if err != nil {
		return res, err
	}
	port, err := freePort()
	if err != nil {
		return res, err
	}
	srv := exec.CommandContext(ctx, "syncplay-server", "--port", strconv.Itoa(port), "--disable-ready", "--disable-chat")
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		return res, err
	}
	defer stopProcess(srv)
	if err := waitUntil(ctx, 10*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	}); err != nil {
		return res, fmt.Errorf("syncplay-server did not listen on %d", port)
	}
	room := fmt.Sprintf("bench%d", port)
	home, err := os.MkdirTemp("", "syncplay-home")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(home)
	var players []*player.MPV
	var clients []*exec.Cmd
	defer func() {
		for _, p := range players {
			_ = p.Close()
		}
		for _, c := range clients {
			stopProcess(c)
		}
	}()
	for i := 0; i <= cfg.Followers; i++ {
		name := fmt.Sprintf("c%d", i)
		c := exec.CommandContext(ctx, "syncplay", "--no-gui", "--no-store", "-a", fmt.Sprintf("127.0.0.1:%d", port),
			"-n", name, "-r", room, "--player-path", "/usr/bin/mpv", media, "--", "--vo=null", "--ao=null")
		c.Env = append(os.Environ(), "HOME="+home, "QT_QPA_PLATFORM=offscreen")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			return res, err
		}
		clients = append(clients, c)
		sock, err := mpvSocketOf(ctx, c.Process.Pid)
		if err != nil {
			return res, fmt.Errorf("syncplay client %s: %w", name, err)
		}
		var p *player.MPV
		if err := waitUntil(ctx, 15*time.Second, func() bool {
			actx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			p, err = player.Attach(actx, sock)
			return err == nil
		}); err != nil {
			return res, fmt.Errorf("attaching to syncplay's mpv at %s: %v", sock, err)
		}
		players = append(players, p)
		if err := waitUntil(ctx, 15*time.Second, func() bool { return p.State().Loaded }); err != nil {
			return res, fmt.Errorf("syncplay's mpv never loaded %s", media)
		}
	}
	host := players[0]
	// Let Syncplay see everyone in the room before the first command.
	pauseFor(ctx, 3*time.Second)
	if err := host.Seek(ctx, 5); err != nil {
		return res, err
	}
	if err := host.Play(ctx); err != nil {
		return res, err
	}
	if err := waitUntil(ctx, 15*time.Second, func() bool {
		for _, p := range players[1:] {
			if p.State().Paused {
				return false
			}
		}
		return true
	}); err != nil {
		return res, errors.New("syncplay clients never started playing with the host")
	}
	pauseFor(ctx, 3*time.Second)
	logf("  %d syncplay followers playing %s", cfg.Followers, cfg.MediaName)
	var fols []seekPlayer
	for _, p := range players[1:] {
		fols = append(fols, p)
	}
	res.HostSeek, res.Within, res.Settled, res.After, res.Excess = measureSeeks(ctx, host, fols, host.State().Duration, cfg, logf)
	res.Config.NoConverge = true
	return res, nil
}

// mpvSocketOf finds the IPC socket of the mpv that Syncplay client pid
// started (Syncplay passes --input-ipc-server on its command line).
func mpvSocketOf(ctx context.Context, pid int) (string, error) {
	var sock string
	err := waitUntil(ctx, 15*time.Second, func() bool {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			child, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err != nil {
				continue
			}
			// pid (comm) state ppid …; comm may hold spaces.
			rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
			f := strings.Fields(rest)
			if len(f) < 2 || f[1] != strconv.Itoa(pid) {
				continue
			}
			cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(child), "cmdline"))
			for _, arg := range strings.Split(string(cmdline), "\x00") {
				if s, ok := strings.CutPrefix(arg, "--input-ipc-server="); ok {
					if _, err := os.Stat(s); err == nil {
						sock = s
						return true
					}
				}
			}
		}
		return false
	})
	if err != nil {
		return "", errors.New("no mpv with an IPC socket appeared")
	}
	return sock, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// stopProcess ends a process we started and its group (Syncplay's mpv),
// by pid: SIGTERM, then SIGKILL if it lingers.
func stopProcess(c *exec.Cmd) {
	if c.Process == nil {
		return
	}
	pgid := c.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

// Ratio is ours / theirs, for the comparison table.
func Ratio(ours, theirs float64) string {
	if theirs == 0 || math.IsNaN(ours/theirs) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", ours/theirs)
}
