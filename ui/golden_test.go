package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/watchium/watchium-tui/room"
)

// runGolden drives a real program through teatest: it sends msgs, waits
// until waitFor is on screen, quits, and compares the final model's view,
// stripped of ANSI, with testdata/<TestName>.golden (-update rewrites it).
// The raw output stream is not compared: it carries terminal-mode escapes
// that have nothing to do with the layout.
func runGolden(t *testing.T, w, h int, waitFor string, msgs ...tea.Msg) Root {
	t.Helper()
	fc := &fakeController{fail: map[string]error{}}
	m := New(Options{Controller: fc, RoomID: "movie-night", Server: "watch.example.org", SelfName: "bob", Now: clock})
	tm := teatest.NewTestModel(t, m,
		teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)),
	)
	for _, msg := range msgs {
		tm.Send(msg)
	}
	waitScreen(t, tm, waitFor)

	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final, ok := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Root)
	if !ok {
		t.Fatal("final model is not a Root")
	}
	content := final.View().Content
	checkFits(t, final, w, h)
	golden.RequireEqual(t, []byte(ansi.Strip(content)))
	return final
}

// waitScreen blocks until text has been drawn, with a deadline. The
// renderer interleaves styles and cursor moves and erases runs of blanks
// with escapes rather than spaces, so both sides are compared stripped of
// ANSI and of all whitespace. It also writes only the cells that changed
// since the last frame, so text is only reliably found in the stream when
// it lands on cells that were blank: callers wait for such text, sent last.
func waitScreen(t *testing.T, tm *teatest.TestModel, text string) {
	t.Helper()
	squash := func(s string) string { return strings.Join(strings.Fields(ansi.Strip(s)), "") }
	want := squash(text)
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return strings.Contains(squash(string(b)), want)
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

func TestGoldenEmptyRoom(t *testing.T) {
	s := aloneSnapshot()
	runGolden(t, 80, 24, "you joined movie-night as host", room.StateChanged{Snapshot: s},
		room.Notice{Text: "you joined movie-night as host", At: fixedNow})
}

func TestGoldenFourMembersOneOutOfSync(t *testing.T) {
	runGolden(t, 80, 24, "alice seeked to 12:30",
		room.StateChanged{Snapshot: fourSnapshot()},
		room.Notice{Text: "carol joined", At: fixedNow},
		chatAt(1, "alice", "starting in 3, 2, 1…"),
		chatAt(2, "carol", "wait, mine paused itself"),
		room.Notice{Text: "alice seeked to 12:30", At: fixedNow.Add(3 * time.Minute)},
	)
}

func TestGoldenLongChatScrolledUp(t *testing.T) {
	var msgs []tea.Msg
	for i := range 40 {
		msgs = append(msgs, chatAt(i, []string{"alice", "bob", "carol"}[i%3], fmt.Sprintf("message number %d", i)))
	}
	msgs = append(msgs, tea.KeyPressMsg{Code: tea.KeyPgUp})
	msgs = append(msgs, chatAt(41, "alice", "did everyone see that?"), chatAt(42, "carol", "yes"))
	// The snapshot goes last: its members fill blank cells, which makes
	// a reliable signal that everything before it was handled.
	msgs = append(msgs, room.StateChanged{Snapshot: fourSnapshot()})
	final := runGolden(t, 80, 24, "detached", msgs...)
	if final.chat.unread != 2 {
		t.Fatalf("unread = %d, want 2", final.chat.unread)
	}
}

func TestGoldenNarrow(t *testing.T) {
	runGolden(t, 60, 20, "carol: ok",
		room.StateChanged{Snapshot: fourSnapshot()},
		chatAt(1, "alice", "this line is long enough that a sixty column terminal has to wrap it"),
		chatAt(2, "carol", "ok"),
	)
}

func TestGoldenStacked(t *testing.T) {
	runGolden(t, 40, 24, "members go above",
		room.StateChanged{Snapshot: fourSnapshot()},
		chatAt(1, "alice", "members go above the chat when the window is this narrow"),
	)
}

func TestGoldenReconnecting(t *testing.T) {
	s := fourSnapshot()
	s.Conn = room.ConnState{State: "reconnecting", Attempt: 3, Reason: "EOF"}
	runGolden(t, 80, 24, "connection lost; reconnecting",
		room.StateChanged{Snapshot: s},
		room.Notice{Text: "connection lost; reconnecting", At: fixedNow},
	)
}

// TestProgramFlow types into a running program: a refused /pause explains
// itself without reaching the controller, a failed message comes back into
// the input, and ctrl+c ends the program.
func TestProgramFlow(t *testing.T) {
	fc := &fakeController{fail: map[string]error{"Say": errOffline}}
	m := New(Options{Controller: fc, RoomID: "movie-night", SelfName: "bob", Now: clock})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	tm.Send(room.StateChanged{Snapshot: fourSnapshot()})

	tm.Type("/pause")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, tm, "only the host (alice) can pause")

	tm.Type("hello")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	// Drawn by the same Update that puts the text back, so once it is on
	// screen the Say call has returned.
	waitScreen(t, tm, "message not sent: connection lost")

	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	final, ok := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Root)
	if !ok {
		t.Fatal("final model is not a Root")
	}
	if calls := fc.Calls(); len(calls) != 1 || calls[0] != "Say hello" {
		t.Fatalf("controller calls = %q, want [Say hello]", calls)
	}
	if got := final.input.Value(); got != "hello" {
		t.Fatalf("input = %q at exit, want the unsent message", got)
	}
}

func TestGoldenSeriesNight(t *testing.T) {
	runGolden(t, 80, 30, "Frieren - 04.mkv",
		room.StateChanged{Snapshot: seriesSnapshot()},
		room.Notice{Text: "alice jumped to 15:00", At: fixedNow},
	)
}
