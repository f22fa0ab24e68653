package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/internal/testmedia"
	"github.com/watchium/watchium-tui/player"
)

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI (.ci/run installs it)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

// tmux runs tmux on a private socket, so the test touches no one else's
// sessions.
type tmux struct {
	t      *testing.T
	socket string
}

func (x tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (x tmux) screen(session string) string { return x.run("capture-pane", "-p", "-t", session) }

// waitScreen polls the pane until want appears.
func (x tmux) waitScreen(session, want string) {
	x.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := x.screen(session)
		if strings.Contains(s, want) {
			return
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("%q never appeared in %s:\n%s", want, session, s)
		}
		time.Sleep(50 * time.Millisecond) // polling the screen, with a deadline
	}
}

func TestTwoTerminalsUnderTmux(t *testing.T) {
	need(t, "tmux", "mpv", "ffmpeg")
	dir := t.TempDir()
	media, err := testmedia.Make(dir, testmedia.Spec{FPS: 25, Seconds: 60, KeyEvery: 25})
	if err != nil {
		t.Fatal(err)
	}
	// The server, as a user would run it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	serve := exec.Command(binary, "serve", "--addr", addr, "--data", filepath.Join(dir, "data"))
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Process.Signal(os.Interrupt); _ = serve.Wait() })
	url := "http://" + addr
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Bob's mpv is one he started himself; the test watches it too.
	sock := filepath.Join(dir, "bob.sock")
	bobMPV := exec.Command("mpv", "--idle=yes", "--pause", "--keep-open=yes", "--vo=null", "--ao=null", "--no-terminal", "--no-config", "--input-ipc-server="+sock, media)
	if err := bobMPV.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bobMPV.Process.Kill(); _ = bobMPV.Wait() })
	var watch *player.MPV
	for deadline := time.Now().Add(10 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		watch, err = player.Attach(ctx, sock)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("attach to bob's mpv: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { _ = watch.Close() })

	x := tmux{t: t, socket: fmt.Sprintf("watchium-test-%d", os.Getpid())}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", x.socket, "kill-server").Run() })
	// Alice and Bob are two people: each signs in with a config dir of their own.
	env := "env WATCHIUM_SERVER=" + url + " NO_COLOR=1 "
	aliceEnv := env + "XDG_CONFIG_HOME=" + filepath.Join(dir, "alice-config") + " "
	bobEnv := env + "XDG_CONFIG_HOME=" + filepath.Join(dir, "bob-config") + " "
	x.run("new-session", "-d", "-s", "alice", "-x", "80", "-y", "24",
		aliceEnv+binary+" join movie --host --name alice --media "+media+" --mpv-arg=--vo=null --mpv-arg=--ao=null")
	x.waitScreen("alice", "you are the host")
	x.run("new-session", "-d", "-s", "bob", "-x", "80", "-y", "24", bobEnv+binary+" join movie --name bob --mpv-socket "+sock)
	x.waitScreen("alice", "bob joined")
	x.waitScreen("bob", "alice")

	// Chat typed in one terminal appears in the other.
	x.run("send-keys", "-t", "bob", "hello from bob", "Enter")
	x.waitScreen("alice", "bob: hello from bob")

	// /play and /pause from the host drive bob's mpv.
	x.run("send-keys", "-t", "alice", "/play", "Enter")
	waitMPV(t, watch, false)
	x.run("send-keys", "-t", "alice", "/pause", "Enter")
	waitMPV(t, watch, true)

	// A non-host is told why it cannot pause.
	x.run("send-keys", "-t", "bob", "/pause", "Enter")
	x.waitScreen("bob", "only the host")

	// Ctrl-C leaves; alice's own mpv goes with her.
	x.run("send-keys", "-t", "alice", "C-c")
	x.waitScreen("bob", "alice left")
}

func waitMPV(t *testing.T, m *player.MPV, paused bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for m.State().Paused != paused {
		if time.Now().After(deadline) {
			t.Fatalf("bob's mpv never became paused=%v", paused)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
