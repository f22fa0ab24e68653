package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/watchium/watchium-tui/room"
)

// fixedNow is the pinned clock for every test: 2025-03-14 20:15 UTC.
var fixedNow = time.Date(2025, 3, 14, 20, 15, 0, 0, time.UTC)

func clock() time.Time { return fixedNow }

// fakeController records every call and fails those named in fail.
type fakeController struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]error
	// undeadlined counts calls whose context had no deadline: every call
	// may block on the network, so each must be bounded.
	undeadlined int
}

func (f *fakeController) record(ctx context.Context, call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		f.undeadlined++
	}
	f.calls = append(f.calls, call)
	name, _, _ := strings.Cut(call, " ")
	return f.fail[name]
}

func (f *fakeController) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeController) Play(ctx context.Context) error  { return f.record(ctx, "Play") }
func (f *fakeController) Pause(ctx context.Context) error { return f.record(ctx, "Pause") }
func (f *fakeController) Seek(ctx context.Context, s float64) error {
	return f.record(ctx, fmt.Sprintf("Seek %g", s))
}
func (f *fakeController) SeekRelative(ctx context.Context, d float64) error {
	return f.record(ctx, fmt.Sprintf("SeekRelative %g", d))
}
func (f *fakeController) Say(ctx context.Context, t string) error { return f.record(ctx, "Say "+t) }
func (f *fakeController) HandOver(ctx context.Context, id string) error {
	return f.record(ctx, "HandOver "+id)
}
func (f *fakeController) Resync(ctx context.Context) error { return f.record(ctx, "Resync") }
func (f *fakeController) SetName(ctx context.Context, n string) error {
	return f.record(ctx, "SetName "+n)
}
func (f *fakeController) SetWaitForEveryone(ctx context.Context, on bool) error {
	return f.record(ctx, fmt.Sprintf("SetWait %v", on))
}
func (f *fakeController) Invite(ctx context.Context, rotate bool) (string, error) {
	return "abcdefghijklmnopqrstuvwxyz", f.record(ctx, fmt.Sprintf("Invite %v", rotate))
}
func (f *fakeController) Kick(ctx context.Context, id string) error {
	return f.record(ctx, "Kick "+id)
}

func (f *fakeController) SetSpeed(ctx context.Context, v float64) error {
	return f.record(ctx, fmt.Sprintf("SetSpeed %g", v))
}
func (f *fakeController) Add(ctx context.Context, w string) error { return f.record(ctx, "Add "+w) }
func (f *fakeController) Accept(ctx context.Context, n int) error {
	return f.record(ctx, fmt.Sprintf("Accept %d", n))
}
func (f *fakeController) Remove(ctx context.Context, n int) error {
	return f.record(ctx, fmt.Sprintf("Remove %d", n))
}
func (f *fakeController) Goto(ctx context.Context, n int) error {
	return f.record(ctx, fmt.Sprintf("Goto %d", n))
}
func (f *fakeController) Next(ctx context.Context) error { return f.record(ctx, "Next") }
func (f *fakeController) Prev(ctx context.Context) error { return f.record(ctx, "Prev") }

var errOffline = errors.New("connection lost")

// Snapshots used across tests.

func member(id, name string, mods ...func(*room.Member)) room.Member {
	m := room.Member{UserID: id, Username: name, Online: true, InSync: true, Playing: true, RTT: 40 * time.Millisecond}
	for _, f := range mods {
		f(&m)
	}
	return m
}

func asHost(m *room.Member) { m.IsHost = true; m.OffsetMS = 0 }
func asSelf(m *room.Member) { m.IsSelf = true }

func aloneSnapshot() room.Snapshot {
	return room.Snapshot{
		RoomID: "movie-night", Server: "watch.example.org", SelfID: "u2", HostID: "u2",
		Members:      []room.Member{member("u2", "bob", asHost, asSelf, func(m *room.Member) { m.Playing = false })},
		Conn:         room.ConnState{State: "open"},
		SelfPosition: 0, HostPosition: 0, Playing: false,
		RTT: 35 * time.Millisecond,
	}
}

// fourSnapshot is a room of four hosted by alice, seen by bob, with carol
// out of sync and detached and dave offline.
func fourSnapshot() room.Snapshot {
	return room.Snapshot{
		RoomID: "movie-night", Server: "watch.example.org", SelfID: "u2", HostID: "u1",
		Members: []room.Member{
			member("u1", "alice", asHost),
			member("u2", "bob", asSelf, func(m *room.Member) { m.OffsetMS = 12 }),
			member("u3", "carol", func(m *room.Member) {
				m.InSync, m.OffsetMS, m.Detached, m.Playing = false, -1600, true, false
				m.RTT = 120 * time.Millisecond
			}),
			member("u4", "dave", func(m *room.Member) { m.Online, m.MediaMismatch = false, true }),
		},
		Conn:         room.ConnState{State: "open"},
		SelfPosition: 750.2, HostPosition: 751.0, Playing: true,
		RTT: 41 * time.Millisecond,
	}
}

// hostedByBob is fourSnapshot seen by bob when bob hosts.
func hostedByBob() room.Snapshot {
	s := fourSnapshot()
	for i := range s.Members {
		s.Members[i].IsHost = s.Members[i].UserID == "u2"
	}
	s.HostID = "u2"
	return s
}

// newRoot builds a sized Root with a fake controller.
func newRoot(t *testing.T, w, h int, opts ...func(*Options)) (Root, *fakeController) {
	t.Helper()
	fc := &fakeController{fail: map[string]error{}}
	o := Options{Controller: fc, RoomID: "movie-night", Server: "watch.example.org", SelfName: "bob", Now: clock}
	for _, f := range opts {
		f(&o)
	}
	r := New(o)
	r = update(t, r, tea.WindowSizeMsg{Width: w, Height: h})
	return r, fc
}

// update feeds one msg and returns the new Root, dropping the Cmd.
func update(t *testing.T, r Root, msg tea.Msg) Root {
	t.Helper()
	r, _ = updateCmd(t, r, msg)
	return r
}

func updateCmd(t *testing.T, r Root, msg tea.Msg) (Root, tea.Cmd) {
	t.Helper()
	m, cmd := r.Update(msg)
	nr, ok := m.(Root)
	if !ok {
		t.Fatalf("Update returned %T, want Root", m)
	}
	return nr, cmd
}

// run executes a Cmd returned for a key press and feeds every resulting
// msg back, the way the program would. Only call it on Cmds known not to
// be ticks (key handling never returns one).
func run(t *testing.T, r Root, cmd tea.Cmd) Root {
	t.Helper()
	if cmd == nil {
		return r
	}
	msg := cmd()
	if batch, ok := msg.(tea.BatchMsg); ok {
		for _, c := range batch {
			r = run(t, r, c)
		}
		return r
	}
	var next tea.Cmd
	r, next = updateCmd(t, r, msg)
	if _, isDone := msg.(SayDoneMsg); isDone || next == nil {
		return r
	}
	return run(t, r, next)
}

func typeText(t *testing.T, r Root, s string) Root {
	t.Helper()
	for _, c := range s {
		r = update(t, r, tea.KeyPressMsg{Code: c, Text: string(c)})
	}
	return r
}

// submit types s and presses enter, running whatever the UI asks for.
func submit(t *testing.T, r Root, s string) Root {
	t.Helper()
	r = typeText(t, r, s)
	r, cmd := updateCmd(t, r, tea.KeyPressMsg{Code: tea.KeyEnter})
	return run(t, r, cmd)
}

func screen(r Root) string { return ansi.Strip(r.View().Content) }

func chatAt(min int, name, text string) room.ChatReceived {
	return room.ChatReceived{Comment: room.Comment{
		ID: fmt.Sprint("c", min), UserID: "u-" + name, Username: name, Content: text,
		CreatedAt: fixedNow.Add(time.Duration(min) * time.Minute).Format(time.RFC3339),
	}}
}

// seriesSnapshot is fourSnapshot on a series night: a playlist on its
// second episode (carol lacks it, dave proposed the next), the room at
// 1.5× while alice's seek to 15:00 is still landing, carol buffering.
func seriesSnapshot() room.Snapshot {
	s := fourSnapshot()
	s.Playlist = room.Playlist{Current: 1, Entries: []room.PlaylistEntry{
		{Name: "Frieren - 01.mkv", Duration: 1420}, {Name: "Frieren - 02.mkv", Duration: 1420}, {Name: "Frieren - 03.mkv"},
	}}
	s.Proposals = []room.Proposal{{UserID: "u4", Username: "dave", Entry: room.PlaylistEntry{Name: "Frieren - 04.mkv"}}}
	s.Duration, s.Speed = 1420, 1.5
	s.Seeking, s.SeekTarget = true, 900
	for i := range s.Members {
		switch s.Members[i].Username {
		case "carol":
			s.Members[i].Missing = "Frieren - 02.mkv"
			s.Members[i].Detached = false
		case "bob":
			s.Members[i].PlayerState, s.Members[i].BufferPercent = "buffering", 40
		}
	}
	return s
}
