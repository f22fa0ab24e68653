package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/watchium/watchium-tui/room"
)

func TestPlaylistCommandsAsHost(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	r = update(t, r, room.StateChanged{Snapshot: hostedByBob()})
	for _, line := range []string{"/add Show - 02.mkv", "/next", "/prev", "/goto 3", "/remove 2", "/accept", "/accept 2", "/speed 1.25"} {
		r = submit(t, r, line)
	}
	wantCalls(t, fc, "Add Show - 02.mkv", "Next", "Prev", "Goto 3", "Remove 2", "Accept 0", "Accept 2", "SetSpeed 1.25")
}

func TestPlaylistCommandsAsFollower(t *testing.T) {
	for _, tt := range []struct{ line, verb string }{
		{"/next", "change the episode"},
		{"/goto 2", "change the episode"},
		{"/remove 1", "edit the playlist"},
		{"/accept", "accept proposals"},
		{"/speed 1.5", "change the speed"},
	} {
		t.Run(tt.line, func(t *testing.T) {
			r, fc := newRoot(t, 80, 24)
			r = update(t, r, room.StateChanged{Snapshot: fourSnapshot()}) // alice hosts, we are bob
			r = submit(t, r, tt.line)
			wantCalls(t, fc)
			wantChat(t, r, "only the host (alice) can "+tt.verb)
		})
	}
	// Anyone may /add: a follower's goes to the host as a proposal.
	r, fc := newRoot(t, 80, 24)
	r = update(t, r, room.StateChanged{Snapshot: fourSnapshot()})
	r = submit(t, r, "/add ep3.mkv")
	wantCalls(t, fc, "Add ep3.mkv")
}

func TestPlaylistCommandErrors(t *testing.T) {
	for line, want := range map[string]string{
		"/add":       "usage: /add FILE",
		"/goto":      "usage: /goto N",
		"/goto two":  "usage: /goto N",
		"/remove 0":  "usage: /remove N",
		"/speed":     "usage: /speed X",
		"/speed 10":  "usage: /speed X",
		"/speed NaN": "usage: /speed X",
		"/next 2":    "/next takes no arguments",
	} {
		if _, err := parseCommand(line); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseCommand(%q) error %v, want %q", line, err, want)
		}
	}
}

func TestListShowsPlaylistCurrentAndMissing(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	s := fourSnapshot()
	s.Playlist = room.Playlist{Entries: []room.PlaylistEntry{{Name: "Show - 01.mkv", Duration: 1420}, {Name: "Show - 02.mkv"}}, Current: 1}
	for i := range s.Members {
		if s.Members[i].Username == "carol" {
			s.Members[i].Missing = "Show - 02.mkv"
		}
	}
	s.Proposals = []room.Proposal{{UserID: "dave", Username: "dave", Entry: room.PlaylistEntry{Name: "Show - 03.mkv"}}}
	r = update(t, r, room.StateChanged{Snapshot: s})
	r = submit(t, r, "/list")
	wantChat(t, r, "1. Show - 01.mkv (23:40)")
	wantChat(t, r, "▶ 2. Show - 02.mkv — missing for carol")
	wantChat(t, r, "proposal 1 from dave: Show - 03.mkv (/accept 1)")
}

func TestSeriesPanes(t *testing.T) {
	r, _ := newRoot(t, 80, 30)
	r = update(t, r, room.StateChanged{Snapshot: seriesSnapshot()})
	wantScreen(t, r,
		"Playlist (3)", "▶ 2. Frieren - 02.mkv", "⚠ missing: carol", "? Frieren - 04.mkv (da", // the pane (truncated to its width)
		"12:31", "23:40", "→ 15:00", "1.5×", // the timeline
		spinnerFrame(fixedNow)+" buffering 40%", // the spinner
		"⚠ missing Frieren - …",                 // carol, in the members pane
	)
	// Tab reaches the playlist, after the members.
	tab := tea.KeyPressMsg{Code: tea.KeyTab}
	for _, want := range []focusArea{focusChat, focusMembers, focusPlaylist, focusInput} {
		r = update(t, r, tab)
		if r.focus != want {
			t.Fatalf("focus %v, want %v", r.focus, want)
		}
	}
	// Without a playlist, Tab skips the pane.
	r = update(t, r, room.StateChanged{Snapshot: fourSnapshot()})
	for _, want := range []focusArea{focusChat, focusMembers, focusInput} {
		r = update(t, r, tab)
		if r.focus != want {
			t.Fatalf("no playlist: focus %v, want %v", r.focus, want)
		}
	}
	// A busy member keeps the spinner turning; a failed playlist command
	// says why.
	paused := seriesSnapshot()
	paused.Playing = false
	for i := range paused.Members {
		paused.Members[i].Playing = false
	}
	fresh, _ := newRoot(t, 80, 30)
	if _, cmd := updateCmd(t, fresh, room.StateChanged{Snapshot: paused}); cmd == nil {
		t.Fatal("no tick armed while a member buffers, nothing playing")
	}
	r = update(t, r, PlaylistDoneMsg{What: "next", Err: errOffline})
	wantChat(t, r, "couldn't next: connection lost")
}
