package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchium/watchium-tui/server/auth"
)

// A private room from the command line: the owner creates it with join
// --private, prints the invite, an outsider is refused with a clear error
// and a non-zero exit, a friend redeems the invite once and is a member
// from then on.
func TestPrivateRoomFromTheCommandLine(t *testing.T) {
	url := authServer(t, auth.Config{SignUpsPerHour: -1})
	ana, friend, outsider := t.TempDir(), t.TempDir(), t.TempDir()

	// Signed in first, so join and invite below are the same user.
	if _, stderr, code := runAs(t, ana, "login", "--server", url, "--name", "ana"); code != 0 {
		t.Fatalf("login: %s", stderr)
	}
	join := exec.Command(binary, "join", "den", "--private", "--headless", "--server", url, "--name", "ana")
	join.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + ana, "XDG_CONFIG_HOME=" + ana}
	joinErr := &lockedBuffer{}
	join.Stderr = joinErr
	if err := join.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = join.Process.Signal(os.Interrupt); _ = join.Wait() })

	var inv struct {
		RoomID  string `json:"room_id"`
		Invite  string `json:"invite"`
		Command string `json:"command"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, stderr, code := runAs(t, ana, "invite", "den", "--json", "--server", url)
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &inv); err != nil {
				t.Fatalf("invite --json: %q", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("invite never worked: %s; join: %s", stderr, joinErr.String())
		}
		time.Sleep(100 * time.Millisecond) // polling until join has created the room, with a deadline
	}
	if inv.RoomID != "den" || len(inv.Invite) < 20 || !strings.Contains(inv.Command, "join den --invite "+inv.Invite) || !strings.Contains(inv.Command, "--server "+url) {
		t.Fatalf("invite --json: %+v", inv)
	}
	// join prints its notes from its own loop: wait for it.
	for !strings.Contains(joinErr.String(), "private room den created; invite friends with: watchium-tui join den --invite "+inv.Invite) {
		if time.Now().After(deadline) {
			t.Fatalf("join --private did not print the invite: %s", joinErr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the child's stderr, with a deadline
	}

	for _, args := range [][]string{
		{"members", "den", "--json"}, {"say", "den", "let me in"}, {"tail", "den"}, {"invite", "den"},
	} {
		_, stderr, code := runAs(t, outsider, append(args, "--server", url)...)
		if code == 0 || !strings.Contains(stderr, "private") {
			t.Errorf("outsider %v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if _, stderr, code := runAs(t, outsider, "say", "den", "hi", "--invite", "aaaaaaaaaaaaaaaaaaaaaaaaaa", "--server", url); code == 0 || !strings.Contains(stderr, "does not open") {
		t.Errorf("wrong invite: exit %d %q", code, stderr)
	}
	if _, stderr, code := runAs(t, friend, "say", "den", "hello", "--invite", inv.Invite, "--server", url, "--name", "bob"); code != 0 {
		t.Fatalf("friend with the invite: exit %d %s", code, stderr)
	}
	// Remembered: no code needed any more.
	out, stderr, code := runAs(t, friend, "members", "den", "--json", "--server", url)
	if code != 0 || !strings.Contains(out, `"ana"`) {
		t.Fatalf("friend's members: exit %d %s %s", code, out, stderr)
	}
	if out, _, code := runAs(t, friend, "invite", "den", "--server", url); code != 0 || !strings.Contains(out, inv.Invite) {
		t.Errorf("a member prints the invite: exit %d %s", code, out)
	}
	// The owner replaces the code; the old one stops working.
	out, stderr, code = runAs(t, ana, "invite", "den", "--new", "--json", "--server", url)
	var fresh struct{ Invite string }
	if code != 0 || json.Unmarshal([]byte(out), &fresh) != nil || fresh.Invite == inv.Invite {
		t.Fatalf("invite --new: exit %d %s %s", code, out, stderr)
	}
	if _, stderr, code := runAs(t, outsider, "say", "den", "hi", "--invite", inv.Invite, "--server", url); code == 0 || !strings.Contains(stderr, "does not open") {
		t.Errorf("the old invite still works: exit %d %q", code, stderr)
	}
	// A public room name is not taken over by --private.
	if _, stderr, code := runAs(t, friend, "say", "lobby", "public hello", "--server", url); code != 0 {
		t.Fatalf("public say: %s", stderr)
	}
	if _, stderr, code := runAs(t, outsider, "join", "lobby", "--private", "--headless", "--server", url); code == 0 || !strings.Contains(stderr, "public") {
		t.Errorf("join --private of a public room: exit %d %q", code, stderr)
	}
}

// lockedBuffer is a bytes.Buffer a child process writes while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
