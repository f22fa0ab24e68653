package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/server"
	"github.com/watchium/watchium-tui/server/auth"
	"github.com/watchium/watchium-tui/server/store"
	"github.com/watchium/watchium-tui/session"
)

// authServer runs the embedded server with sign-in on 127.0.0.1.
func authServer(t *testing.T, cfg auth.Config) string {
	t.Helper()
	st, err := store.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.Store, cfg.Secret = st, []byte("cli-test-secret-0123456789abcdef-xx")
	return testServer(t, server.Config{Store: st, Auth: auth.New(cfg)})
}

// runAs runs the binary as one person, whose sessions live in config.
func runAs(t *testing.T, config string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + config, "XDG_CONFIG_HOME=" + config}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func whoamiJSON(t *testing.T, config, url string) whoami {
	t.Helper()
	out, stderr, code := runAs(t, config, "whoami", "--json", "--server", url)
	var w whoami
	if code != 0 || json.Unmarshal([]byte(out), &w) != nil {
		t.Fatalf("whoami: exit %d %q %s", code, out, stderr)
	}
	return w
}

func TestLoginWhoamiLogout(t *testing.T) {
	url := authServer(t, auth.Config{})
	me := t.TempDir()
	if _, stderr, code := runAs(t, me, "whoami", "--server", url); code == 0 || !strings.Contains(stderr, "not signed in") {
		t.Fatalf("whoami before login: exit %d %s", code, stderr)
	}
	out, stderr, code := runAs(t, me, "login", "--server", url, "--name", "ana")
	if code != 0 || !strings.Contains(out, "anonymous user") {
		t.Fatalf("login: exit %d %q %s", code, out, stderr)
	}
	w := whoamiJSON(t, me, url)
	if w.ID == "" || !w.IsAnonymous || w.Username != "ana" || w.Server != url {
		t.Fatalf("whoami: %+v", w)
	}
	// The session file is private and holds tokens nobody printed.
	files, _ := filepath.Glob(filepath.Join(me, "watchium", "sessions", "*.json"))
	if len(files) != 1 {
		t.Fatalf("session files: %v", files)
	}
	fi, _ := os.Stat(files[0])
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file mode %v", fi.Mode())
	}
	data, _ := os.ReadFile(files[0])
	var saved struct {
		Session struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		} `json:"session"`
	}
	_ = json.Unmarshal(data, &saved)
	if saved.Session.AccessToken == "" || strings.Contains(out, saved.Session.AccessToken) || strings.Contains(out, saved.Session.RefreshToken) {
		t.Fatal("login printed a token, or saved none")
	}
	// Logging in again keeps the same user; --name renames it.
	runAs(t, me, "login", "--server", url, "--name", "ana2")
	if again := whoamiJSON(t, me, url); again.ID != w.ID || again.Username != "ana2" {
		t.Fatalf("second login: %+v, want the same id %s named ana2", again, w.ID)
	}
	if out, _, code := runAs(t, me, "logout", "--server", url); code != 0 || !strings.Contains(out, "signed out") {
		t.Fatalf("logout: %d %s", code, out)
	}
	if files, _ := filepath.Glob(filepath.Join(me, "watchium", "sessions", "*.json")); len(files) != 0 {
		t.Fatalf("session files after logout: %v", files)
	}
	if _, stderr, code := runAs(t, me, "whoami", "--server", url); code == 0 {
		t.Fatalf("whoami after logout succeeded: %s", stderr)
	}
}

func TestSayIsStampedWithTheSignedInUser(t *testing.T) {
	url := authServer(t, auth.Config{})
	ana := t.TempDir()
	if _, stderr, code := runAs(t, ana, "login", "--server", url, "--name", "ana"); code != 0 {
		t.Fatal(stderr)
	}
	id := whoamiJSON(t, ana, url).ID
	lines := startTail(t, url, "movie")
	deadline := time.After(15 * time.Second)
	for {
		// No --name: the name comes from ana's user metadata.
		if _, stderr, code := runAs(t, ana, "say", "movie", "hi", "--server", url); code != 0 {
			t.Fatalf("say: %d %s", code, stderr)
		}
		select {
		case m := <-lines:
			p := m["payload"].(map[string]any)
			if p["user_id"] != id || p["username"] != "ana" {
				t.Fatalf("comment from %v (%v), want %s (ana)", p["user_id"], p["username"], id)
			}
			return
		case <-time.After(500 * time.Millisecond):
		case <-deadline:
			t.Fatal("tail never printed the message")
		}
	}
}

func TestNoAnonymousSignInsIsExplained(t *testing.T) {
	url := authServer(t, auth.Config{NoAnonymousSignIns: true})
	// Commands go on as a guest (the anon role) and say how to sign in.
	_, stderr, code := runAs(t, t.TempDir(), "say", "movie", "hi", "--server", url)
	if code != 0 || !strings.Contains(stderr, "does not allow anonymous sign-ins") || !strings.Contains(stderr, "login --server") {
		t.Fatalf("say on a server without anonymous sign-ins: exit %d %s", code, stderr)
	}
	_, stderr, code = runAs(t, t.TempDir(), "login", "--server", url)
	if code == 0 || !strings.Contains(stderr, "--email") {
		t.Fatalf("login on a server without anonymous sign-ins: exit %d %s", code, stderr)
	}
	_, stderr, code = runAs(t, t.TempDir(), "login", "--server", url, "--email", "ana@example.com")
	if code == 0 || !strings.Contains(stderr, "does not sign in by email") {
		t.Fatalf("login --email on the embedded server: exit %d %s", code, stderr)
	}
}

func TestServeKeepsItsJWTSecret(t *testing.T) {
	data := t.TempDir()
	addr := freeAddr(t)
	serve := exec.Command(binary, "serve", "--addr", addr, "--data", data)
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = serve.Process.Signal(os.Interrupt); _ = serve.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(filepath.Join(data, auth.SecretFile)); err == nil {
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("secret file mode %v", fi.Mode())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("serve wrote no JWT secret")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A member's presence key and user_id are the signed-in user's id, and its
// name comes from the user's metadata.
func TestJoinUsesTheSignedInUser(t *testing.T) {
	url := authServer(t, auth.Config{})
	ana := t.TempDir()
	if _, stderr, code := runAs(t, ana, "login", "--server", url, "--name", "ana"); code != 0 {
		t.Fatal(stderr)
	}
	id := whoamiJSON(t, ana, url).ID
	join := exec.Command(binary, "join", "movie", "--headless", "--server", url, "--avatar-url", "https://example.com/ana.png")
	join.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + ana, "XDG_CONFIG_HOME=" + ana}
	var stderr bytes.Buffer
	join.Stderr = &stderr
	if err := join.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = join.Process.Signal(os.Interrupt); _ = join.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _, _ := runAs(t, t.TempDir(), "members", "movie", "--json", "--server", url)
		var rows []struct {
			UserID   string `json:"user_id"`
			Username string `json:"username"`
		}
		_ = json.Unmarshal([]byte(out), &rows)
		if len(rows) == 1 {
			if rows[0].UserID != id || rows[0].Username != "ana" {
				t.Fatalf("member %+v, want %s (ana)", rows[0], id)
			}
			// --avatar-url went into the user's metadata.
			c, _ := session.NewClient(url, "")
			k, _ := session.Store{Dir: filepath.Join(ana, "watchium")}.Load(url)
			u, err := c.GetUser(t.Context(), k.AccessToken)
			if err != nil || u.UserMetadata["avatar_url"] != "https://example.com/ana.png" || u.Name() != "ana" {
				t.Fatalf("metadata after join: %+v %v", u, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ana never appeared in members: %q %s", out, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A server restarted with --data :memory: has forgotten its users and its
// secret; an anonymous session saved before must not lock its owner out.
func TestAServerThatForgotTheSessionSignsInAgain(t *testing.T) {
	addr := freeAddr(t)
	url := "http://" + addr
	serve := func() func() {
		cmd := exec.Command(binary, "serve", "--addr", addr, "--data", ":memory:")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("serve did not come up")
			}
			time.Sleep(20 * time.Millisecond)
		}
		return func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }
	}
	me := t.TempDir()
	stop := serve()
	if _, stderr, code := runAs(t, me, "login", "--server", url, "--name", "ana"); code != 0 {
		t.Fatal(stderr)
	}
	before := whoamiJSON(t, me, url)
	stop()
	defer serve()()
	// whoami reports the lost session instead of minting a new user.
	if _, stderr, code := runAs(t, me, "whoami", "--server", url); code == 0 || !strings.Contains(stderr, "has ended") {
		t.Fatalf("whoami after the server forgot the session: exit %d %s", code, stderr)
	}
	_, stderr, code := runAs(t, me, "say", "movie", "back again", "--server", url)
	if code != 0 || !strings.Contains(stderr, "signed in as a new user") {
		t.Fatalf("say after the server forgot the session: exit %d %s", code, stderr)
	}
	if after := whoamiJSON(t, me, url); after.ID == before.ID || after.ID == "" {
		t.Fatalf("after: %+v, before: %+v", after, before)
	}
}

func TestServeSignsWithTheGivenSecret(t *testing.T) {
	const secret = "given-secret-given-secret-given-secret"
	data := t.TempDir()
	addr := freeAddr(t)
	serve := exec.Command(binary, "serve", "--addr", addr, "--data", data)
	serve.Env = append(os.Environ(), "WATCHIUM_JWT_SECRET="+secret)
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = serve.Process.Signal(os.Interrupt); _ = serve.Wait() }()
	var resp *http.Response
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		resp, err = http.Post("http://"+addr+"/auth/v1/signup", "application/json", strings.NewReader(`{}`))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer resp.Body.Close()
	var s struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.NewVerifier([]byte(secret), "").Verify(s.AccessToken); err != nil {
		t.Fatalf("token not signed with WATCHIUM_JWT_SECRET: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, auth.SecretFile)); err == nil {
		t.Fatal("a secret file was written although a secret was given")
	}
}
