package ui

import (
	"fmt"
	"image/color"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/watchium/watchium-tui/room"
)

func wantCalls(t *testing.T, fc *fakeController, want ...string) {
	t.Helper()
	got := fc.Calls()
	if len(want) == 0 {
		want = nil
	}
	if !slices.Equal(got, want) {
		t.Fatalf("controller calls = %q, want %q", got, want)
	}
	if fc.undeadlined > 0 {
		t.Fatalf("%d controller calls had no deadline", fc.undeadlined)
	}
}

func wantScreen(t *testing.T, r Root, subs ...string) {
	t.Helper()
	s := screen(r)
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Fatalf("screen lacks %q:\n%s", sub, s)
		}
	}
}

// wantChat checks the chat's unwrapped entries, which is where messages go
// regardless of how the pane wraps them.
func wantChat(t *testing.T, r Root, sub string) {
	t.Helper()
	for _, e := range r.chat.entries {
		if strings.Contains(e.text, sub) {
			return
		}
	}
	var all []string
	for _, e := range r.chat.entries {
		all = append(all, e.text)
	}
	t.Fatalf("no chat line contains %q; lines:\n%s", sub, strings.Join(all, "\n"))
}

func TestPauseAsHostCallsPause(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	r = update(t, r, room.StateChanged{Snapshot: hostedByBob()})
	r = submit(t, r, "/pause")
	wantCalls(t, fc, "Pause")
	if v := r.input.Value(); v != "" {
		t.Fatalf("input = %q after a sent command, want empty", v)
	}
}

func TestHostOnlyCommandsRefusedForNonHost(t *testing.T) {
	for _, tt := range []struct{ line, verb string }{
		{"/pause", "pause"},
		{"/play", "play"},
		{"/seek 12:30", "seek"},
		{"/seek +10", "seek"},
		{"/host carol", "hand over hosting"},
	} {
		t.Run(tt.line, func(t *testing.T) {
			r, fc := newRoot(t, 80, 24)
			r = update(t, r, room.StateChanged{Snapshot: fourSnapshot()}) // alice hosts, we are bob
			r = submit(t, r, tt.line)
			wantCalls(t, fc)
			wantChat(t, r, "only the host (alice) can "+tt.verb+"; /sync to follow, or ask them for /host")
		})
	}
}

func TestPauseWithoutSnapshotLeavesItToTheRoom(t *testing.T) {
	// Before the first snapshot nobody knows who hosts; the room decides.
	r, fc := newRoot(t, 80, 24)
	r = submit(t, r, "/pause")
	wantCalls(t, fc, "Pause")
}

func TestSeekForms(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	r = update(t, r, room.StateChanged{Snapshot: hostedByBob()})
	for _, line := range []string{"/seek 12:30", "/seek 1:02:03", "/seek 90", "/seek +10", "/seek -5"} {
		r = submit(t, r, line)
	}
	wantCalls(t, fc, "Seek 750", "Seek 3723", "Seek 90", "SeekRelative 10", "SeekRelative -5")
}

func TestBadSeekKeepsInputAndExplains(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	r = update(t, r, room.StateChanged{Snapshot: hostedByBob()})
	r = submit(t, r, "/seek 1:75")
	wantCalls(t, fc)
	wantChat(t, r, `bad time "1:75"`)
	if v := r.input.Value(); v != "/seek 1:75" {
		t.Fatalf("input = %q; a mistyped command should stay for fixing", v)
	}
	wantScreen(t, r, "! bad time")
}

func TestSayTrimsAndIgnoresBlank(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	r = submit(t, r, "   ")
	r = submit(t, r, "  hello there  ")
	r = submit(t, r, "//shrug")
	wantCalls(t, fc, "Say hello there", "Say /shrug")
	if v := r.input.Value(); v != "" {
		t.Fatalf("input = %q, want empty after sending", v)
	}
}

func TestFailedSayPutsTextBack(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	fc.fail["Say"] = errOffline
	r = submit(t, r, "see you at 9")
	wantCalls(t, fc, "Say see you at 9")
	if v := r.input.Value(); v != "see you at 9" {
		t.Fatalf("input = %q, want the unsent message back", v)
	}
	wantChat(t, r, "message not sent: connection lost")
	wantScreen(t, r, "message not sent", "> see you at 9")

	// Retrying with enter sends it again.
	fc.fail["Say"] = nil
	r, cmd := updateCmd(t, r, tea.KeyPressMsg{Code: tea.KeyEnter})
	r = run(t, r, cmd)
	wantCalls(t, fc, "Say see you at 9", "Say see you at 9")
	if v := r.input.Value(); v != "" {
		t.Fatalf("input = %q after a successful retry", v)
	}
}

func TestFailedSayWhileTypingKeepsBoth(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	fc.fail["Say"] = errOffline
	r = typeText(t, r, "first")
	r, cmd := updateCmd(t, r, tea.KeyPressMsg{Code: tea.KeyEnter})
	// The person starts the next message before the failure comes back.
	r = typeText(t, r, "second")
	r = run(t, r, cmd)
	if v := r.input.Value(); v != "second" {
		t.Fatalf("input = %q; what was typed since must not be overwritten", v)
	}
	wantChat(t, r, "it was: first")
}

func TestFailedSlashSayIsReescaped(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	fc.fail["Say"] = errOffline
	r = submit(t, r, "//me waves")
	if v := r.input.Value(); v != "//me waves" {
		t.Fatalf("input = %q; restored text must still send as chat, not run a command", v)
	}
}

func TestTooLongMessageStays(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	long := strings.Repeat("é", room.MaxCommentLength/2+1) // fits in runes, not in bytes
	r.input.SetValue(long)
	r, cmd := updateCmd(t, r, tea.KeyPressMsg{Code: tea.KeyEnter})
	r = run(t, r, cmd)
	wantCalls(t, fc)
	wantChat(t, r, "message too long")
	if r.input.Value() != long {
		t.Fatal("a too-long message was dropped from the input")
	}
}

func TestHostHandOver(t *testing.T) {
	tests := []struct {
		line, call, msg string
	}{
		{line: "/host CAROL", call: "HandOver u3"},
		{line: "/host u3", call: "HandOver u3"},
		{line: "/host zoe", msg: `nobody called "zoe" is in the room (here: alice, bob, carol, dave)`},
		{line: "/host dave", msg: "dave is offline"},
		{line: "/host bob", msg: "you are already the host"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			r, fc := newRoot(t, 80, 24)
			r = update(t, r, room.StateChanged{Snapshot: hostedByBob()})
			r = submit(t, r, tt.line)
			if tt.call != "" {
				wantCalls(t, fc, tt.call)
				return
			}
			wantCalls(t, fc)
			wantChat(t, r, tt.msg)
		})
	}
}

func TestHostAmbiguousName(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	s := hostedByBob()
	s.Members = append(s.Members, member("u5", "Carol"))
	r = update(t, r, room.StateChanged{Snapshot: s})
	r = submit(t, r, "/host carol")
	wantCalls(t, fc)
	wantChat(t, r, "use their id: /host u3 or /host u5")
}

func TestSyncAndNick(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	r = update(t, r, room.StateChanged{Snapshot: fourSnapshot()})
	r = submit(t, r, "/sync")
	r = submit(t, r, "/nick Robert")
	wantCalls(t, fc, "Resync", "SetName Robert")
	wantChat(t, r, "following the host again")
	wantChat(t, r, "you are now Robert")

	// As host there is nobody to follow.
	r, fc = newRoot(t, 80, 24)
	r = update(t, r, room.StateChanged{Snapshot: hostedByBob()})
	r = submit(t, r, "/sync")
	wantCalls(t, fc)
	wantChat(t, r, "you are the host")
}

func TestControllerErrorsBecomeChatLines(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	r = update(t, r, room.StateChanged{Snapshot: hostedByBob()})
	for _, c := range []string{"Pause", "Play", "Seek", "SeekRelative", "HandOver", "Resync", "SetName"} {
		fc.fail[c] = errOffline
	}
	for _, line := range []string{"/pause", "/play", "/seek 1:00", "/seek +10", "/host carol", "/nick x"} {
		r = submit(t, r, line)
	}
	for _, want := range []string{
		"couldn't pause: connection lost",
		"couldn't play: connection lost",
		"couldn't seek to 01:00: connection lost",
		"couldn't skip +10 s: connection lost",
		"couldn't hand hosting to carol: connection lost",
		"couldn't change your name: connection lost",
	} {
		wantChat(t, r, want)
	}
}

func TestNilControllerSaysNotConnected(t *testing.T) {
	r, _ := newRoot(t, 80, 24, func(o *Options) { o.Controller = nil })
	r = submit(t, r, "/pause")
	wantChat(t, r, "couldn't pause: not connected")
	r = submit(t, r, "hi")
	if r.input.Value() != "hi" {
		t.Fatal("message lost without a controller")
	}
}

func TestUnknownCommandSuggestsHelp(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	r = submit(t, r, "/dance")
	wantCalls(t, fc)
	wantChat(t, r, "unknown command /dance — type /help for the list")
	wantScreen(t, r, "! unknown command /dance")
}

func TestHelpListsCommands(t *testing.T) {
	r, fc := newRoot(t, 80, 24)
	r = submit(t, r, "/help")
	wantCalls(t, fc)
	for _, c := range []string{"/play", "/pause", "/seek 12:30", "/seek +10", "/host NAME", "/sync", "/nick NAME", "/quit"} {
		wantChat(t, r, c)
	}
	for _, e := range r.chat.entries {
		if e.kind != entrySystem {
			t.Fatalf("help line %q is not a system line", e.text)
		}
	}
}

func TestQuit(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	_, cmd := updateCmd(t, r, tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	if cmd == nil {
		t.Fatal("ctrl+c returned no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("ctrl+c did not quit")
	}

	r = typeText(t, r, "/quit")
	_, cmd = updateCmd(t, r, tea.KeyPressMsg{Code: tea.KeyEnter})
	if cmd == nil {
		t.Fatal("/quit returned no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("/quit did not quit")
	}
}

func TestEscClearsInput(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	r = typeText(t, r, "half a thought")
	r = update(t, r, tea.KeyPressMsg{Code: tea.KeyEscape})
	if v := r.input.Value(); v != "" {
		t.Fatalf("input = %q after esc", v)
	}
}

func TestFocusCycle(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	r = update(t, r, room.StateChanged{Snapshot: fourSnapshot()})
	tab := tea.KeyPressMsg{Code: tea.KeyTab}
	backtab := tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}

	// The focused pane is drawn with a heavy border.
	heavyAt := func(r Root) []int {
		var cols []int
		for _, line := range strings.Split(screen(r), "\n") {
			for i, c := range []rune(line) {
				if c == '┏' {
					cols = append(cols, i)
				}
			}
		}
		return cols
	}

	steps := []struct {
		key   tea.KeyPressMsg
		focus focusArea
	}{
		{tab, focusChat}, {tab, focusMembers}, {tab, focusInput},
		{backtab, focusMembers}, {backtab, focusChat}, {backtab, focusInput},
	}
	for i, s := range steps {
		r = update(t, r, s.key)
		if r.focus != s.focus {
			t.Fatalf("step %d: focus = %v, want %v", i, r.focus, s.focus)
		}
		heavy := heavyAt(r)
		if len(heavy) != 1 {
			t.Fatalf("step %d: %d panes look focused, want 1:\n%s", i, len(heavy), screen(r))
		}
		if r.View().Cursor != nil != (s.focus == focusInput) {
			t.Fatalf("step %d: cursor shown = %v with focus on %v", i, r.View().Cursor != nil, s.focus)
		}
	}
}

func TestTypingInAPaneGoesToInput(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	r = update(t, r, tea.KeyPressMsg{Code: tea.KeyTab})
	r = typeText(t, r, "hi")
	if r.focus != focusInput || r.input.Value() != "hi" {
		t.Fatalf("focus %v, input %q; want typing to land in the input", r.focus, r.input.Value())
	}
}

func fillChat(t *testing.T, r Root, n int) Root {
	t.Helper()
	for i := range n {
		r = update(t, r, chatAt(i%50, "alice", fmt.Sprintf("line %02d", i)))
	}
	return r
}

func TestChatStaysPinnedUnlessScrolledUp(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	r = fillChat(t, r, 40)
	wantScreen(t, r, "line 39")
	if !r.chat.vp.AtBottom() {
		t.Fatal("chat not pinned to the bottom while nobody scrolled")
	}

	r = update(t, r, tea.KeyPressMsg{Code: tea.KeyPgUp})
	if r.chat.vp.AtBottom() {
		t.Fatal("pgup did not scroll")
	}
	offset := r.chat.vp.YOffset()
	r = update(t, r, chatAt(1, "carol", "are you there?"))
	r = update(t, r, chatAt(1, "carol", "hello?"))
	if r.chat.vp.YOffset() != offset {
		t.Fatal("new messages moved a scrolled-up chat")
	}
	wantScreen(t, r, "↓ 2 new")

	for range 10 {
		r = update(t, r, tea.KeyPressMsg{Code: tea.KeyPgDown})
	}
	wantScreen(t, r, "hello?")
	if s := screen(r); strings.Contains(s, "new") {
		t.Fatalf("badge still shown at the bottom:\n%s", s)
	}
}

func TestArrowsScrollChatOnlyWhenFocused(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	r = fillChat(t, r, 40)
	up := tea.KeyPressMsg{Code: tea.KeyUp}
	r = update(t, r, up)
	if !r.chat.vp.AtBottom() {
		t.Fatal("up scrolled the chat while the input had focus")
	}
	r = update(t, r, tea.KeyPressMsg{Code: tea.KeyTab})
	r = update(t, r, up)
	r = update(t, r, up)
	if got := r.chat.vp.YOffset(); got != r.chat.vp.TotalLineCount()-r.chat.vp.Height()-2 {
		t.Fatalf("two ups moved the chat to %d", got)
	}
	wantScreen(t, r, "↓ more below")
	r = update(t, r, tea.KeyPressMsg{Code: tea.KeyEnd})
	if !r.chat.vp.AtBottom() {
		t.Fatal("end did not return to the newest line")
	}
}

func TestMembersPaneMarkers(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	s := fourSnapshot()
	s.Members = append(s.Members, member("u5", "erin", func(m *room.Member) { m.MediaMismatch = true }))
	r = update(t, r, room.StateChanged{Snapshot: s})
	wantScreen(t, r,
		"Members (5)", "★ alice", "host ▶", "bob (you)", "✓ +12 ms", "✗ -1.6 s", "⏸",
		"detached", "rtt 120 ms", "offline", "⚠ different file",
	)
}

func TestStatusBar(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	wantScreen(t, r, "room movie-night", "connecting…")

	r = update(t, r, room.StateChanged{Snapshot: fourSnapshot()})
	wantScreen(t, r, "● connected", "you 12:30 · host 12:31", "★ alice")

	s := fourSnapshot()
	s.Conn = room.ConnState{State: "reconnecting", Attempt: 3, Reason: "EOF"}
	r = update(t, r, room.StateChanged{Snapshot: s})
	wantScreen(t, r, "reconnecting, attempt 3")

	s.Conn = room.ConnState{State: "closed", Reason: "kicked"}
	r = update(t, r, room.StateChanged{Snapshot: s})
	wantScreen(t, r, "disconnected")

	s = fourSnapshot()
	s.SelfPosition, s.HostPosition = 3723, 3724
	r = update(t, r, room.StateChanged{Snapshot: s})
	wantScreen(t, r, "you 1:02:03 · host 1:02:04")

	r = update(t, r, room.StateChanged{Snapshot: hostedByBob()})
	wantScreen(t, r, "★ you host")
}

func TestReconnectingFitsNarrow(t *testing.T) {
	s := fourSnapshot()
	s.Conn = room.ConnState{State: "reconnecting", Attempt: 3, Reason: "dial tcp: connection refused"}
	for _, w := range []int{80, 60} {
		r, _ := newRoot(t, w, 20)
		r = update(t, r, room.StateChanged{Snapshot: s})
		wantScreen(t, r, "reconnecting, attempt 3")
	}
	r, _ := newRoot(t, 30, 20)
	r = update(t, r, room.StateChanged{Snapshot: s})
	wantScreen(t, r, "retry 3")
}

// TestLinesFitWidth draws awkward content at many sizes and checks that no
// row is wider than the terminal and no more rows than it has.
func TestLinesFitWidth(t *testing.T) {
	s := fourSnapshot()
	s.RoomID = "a-room-with-an-exceedingly-long-identifier-0123456789"
	s.Members = append(s.Members,
		member("u5", strings.Repeat("Bartholomew", 6), func(m *room.Member) { m.MediaMismatch, m.Detached = true, true }),
		member("u6", "名前がとても長いユーザー名前がとても長いユーザー"),
		member("u7", "🎬🍿 emoji fan 🍿🎬"),
	)
	msgs := []tea.Msg{
		room.StateChanged{Snapshot: s},
		chatAt(1, "alice", strings.Repeat("word ", 60)),
		chatAt(2, "名前がとても長いユーザー名前", strings.Repeat("長い", 80)),
		chatAt(3, "bob", strings.Repeat("x", 300)),
		chatAt(4, "carol", "tabs\tand\nnewlines\nand 🎉🎉🎉 wide glyphs"),
		room.Notice{Text: strings.Repeat("notice ", 40), At: fixedNow},
	}
	sizes := [][2]int{{80, 24}, {60, 20}, {40, 24}, {59, 20}, {100, 40}, {30, 12}, {20, 8}, {12, 5}, {1, 1}}
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			r, _ := newRoot(t, sz[0], sz[1])
			for _, m := range msgs {
				r = update(t, r, m)
			}
			r = typeText(t, r, strings.Repeat("typing a long line ", 10))
			for range focusAreas { // each pane focused in turn
				checkFits(t, r, sz[0], sz[1])
				r = update(t, r, tea.KeyPressMsg{Code: tea.KeyTab})
			}
			r = update(t, r, tea.KeyPressMsg{Code: tea.KeyPgUp})
			checkFits(t, r, sz[0], sz[1])
		})
	}
}

func checkFits(t *testing.T, r Root, w, h int) {
	t.Helper()
	content := r.View().Content
	lines := strings.Split(content, "\n")
	if len(lines) > h {
		t.Fatalf("%d rows on a %d-row terminal:\n%s", len(lines), h, ansi.Strip(content))
	}
	for i, l := range lines {
		if got := lipgloss.Width(l); got > w {
			t.Fatalf("row %d is %d cells wide on a %d-column terminal:\n%s", i, got, w, ansi.Strip(content))
		}
	}
}

func TestResizeKeepsStateAndRelayouts(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	r = update(t, r, room.StateChanged{Snapshot: fourSnapshot()})
	r = fillChat(t, r, 30)
	for _, sz := range [][2]int{{60, 20}, {40, 24}, {120, 40}, {80, 24}} {
		r = update(t, r, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		checkFits(t, r, sz[0], sz[1])
		wantScreen(t, r, "line 29")
		if got := len(strings.Split(r.View().Content, "\n")); got != sz[1] {
			t.Fatalf("%dx%d: drew %d rows, want the full height", sz[0], sz[1], got)
		}
	}
	r = update(t, r, tea.WindowSizeMsg{Width: 40, Height: 24})
	if !r.layout.stacked {
		t.Fatal("40 columns should stack members above chat")
	}
	r = update(t, r, tea.WindowSizeMsg{Width: 40, Height: 12})
	if !r.layout.membersHidden {
		t.Fatal("a 40x12 window has no room for members")
	}
	wantScreen(t, r, "members hidden")
	// Focus skips the hidden pane.
	r = update(t, r, tea.KeyPressMsg{Code: tea.KeyTab})
	r = update(t, r, tea.KeyPressMsg{Code: tea.KeyTab})
	if r.focus != focusInput {
		t.Fatalf("focus = %v, want input after two tabs with members hidden", r.focus)
	}
}

var escapeRE = regexp.MustCompile("\x1b")

func TestRemoteTextIsSanitized(t *testing.T) {
	r, _ := newRoot(t, 80, 24, func(o *Options) { o.NoColor = true })
	s := fourSnapshot()
	s.Members[2].Username = "car\x1b[31mol\x07"
	r = update(t, r, room.StateChanged{Snapshot: s})
	r = update(t, r, room.ChatReceived{Comment: room.Comment{
		UserID: "u3", Username: "eve\x1b]0;pwned\x07", Content: "hi\x1b[2J\x1b]52;c;ZXZpbA==\x07 there\u202e",
		CreatedAt: fixedNow.Format(time.RFC3339),
	}})
	r = update(t, r, room.Notice{Text: "\x1b[H\x1b[2Jboom", At: fixedNow})
	content := r.View().Content
	if strings.Contains(content, "pwned") || strings.Contains(content, "52;") || strings.Contains(content, "[2J") || strings.Contains(content, "\x07") || strings.Contains(content, "\u202e") {
		t.Fatalf("remote escape sequences reached the screen: %q", content)
	}
	wantScreen(t, r, "carol", "eve: hi there", "boom")
	// With NO_COLOR the only escapes left are our own bold/faint/reverse.
	for _, m := range regexp.MustCompile("\x1b\\[[0-9;:]*m").FindAllString(content, -1) {
		content = strings.Replace(content, m, "", 1)
	}
	if escapeRE.MatchString(content) {
		t.Fatalf("non-SGR escape in output: %q", content)
	}
}

// colourSGR finds SGR parameters that set a colour: 30–39, 40–49, 90–97,
// 100–107 (38/48 cover 256-colour and true colour).
func colourSGR(s string) []string {
	var found []string
	for _, seq := range regexp.MustCompile("\x1b\\[([0-9;:]*)m").FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(seq[1], func(r rune) bool { return r == ';' || r == ':' }) {
			var n int
			fmt.Sscan(p, &n)
			if (n >= 30 && n <= 49) || (n >= 90 && n <= 97) || (n >= 100 && n <= 107) {
				found = append(found, seq[0])
				break
			}
		}
	}
	return found
}

func TestNoColor(t *testing.T) {
	draw := func(noColor bool) string {
		r, _ := newRoot(t, 80, 24, func(o *Options) { o.NoColor = noColor })
		r = update(t, r, room.StateChanged{Snapshot: fourSnapshot()})
		r = update(t, r, chatAt(1, "alice", "hello"))
		r = update(t, r, room.Notice{Text: "carol joined", At: fixedNow})
		r = submit(t, r, "/nope")
		r = update(t, r, tea.KeyPressMsg{Code: tea.KeyTab})
		return r.View().Content
	}
	if len(colourSGR(draw(false))) == 0 {
		t.Fatal("colour mode drew no colour; the NO_COLOR check below would prove nothing")
	}
	plain := draw(true)
	if c := colourSGR(plain); len(c) > 0 {
		t.Fatalf("NO_COLOR output sets colours: %q", c[:min(5, len(c))])
	}
	// Meaning must survive without colour: text markers for every state.
	s := ansi.Strip(plain)
	for _, want := range []string{"★ alice", "host", "(you)", "✓", "✗", "detached", "offline", "! unknown command", "• carol joined", "┏"} {
		if !strings.Contains(s, want) {
			t.Errorf("NO_COLOR screen lacks %q", want)
		}
	}
}

func TestBackgroundColorSwitchesPalette(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	r = update(t, r, chatAt(1, "alice", "hello"))
	dark := r.View().Content
	r = update(t, r, tea.BackgroundColorMsg{Color: color.White})
	if r.common.IsDark {
		t.Fatal("white background still treated as dark")
	}
	light := r.View().Content
	if dark == light {
		t.Fatal("palette did not change for a light background")
	}
	if ansi.Strip(dark) != ansi.Strip(light) {
		t.Fatal("theme change altered the text")
	}
}

func TestTicksOnlyWhilePlaying(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	paused := fourSnapshot()
	paused.Playing = false
	for i := range paused.Members {
		paused.Members[i].Playing = false
	}
	r, cmd := updateCmd(t, r, room.StateChanged{Snapshot: paused})
	if cmd != nil || r.ticking {
		t.Fatal("a paused room started a tick")
	}

	r, cmd = updateCmd(t, r, room.StateChanged{Snapshot: fourSnapshot()})
	if cmd == nil || !r.ticking {
		t.Fatal("playing did not start the position tick")
	}
	gen := r.tickGen
	r, cmd = updateCmd(t, r, room.StateChanged{Snapshot: fourSnapshot()})
	if cmd != nil {
		t.Fatal("a second snapshot started a second tick chain")
	}

	r, cmd = updateCmd(t, r, tickMsg{gen: gen})
	if cmd == nil {
		t.Fatal("tick not re-armed while playing")
	}
	r, _ = updateCmd(t, r, tickMsg{gen: gen - 1})
	r, _ = updateCmd(t, r, room.StateChanged{Snapshot: paused})
	r, cmd = updateCmd(t, r, tickMsg{gen: r.tickGen})
	if cmd != nil || r.ticking {
		t.Fatal("tick re-armed after pausing")
	}
}

func TestPositionAdvancesWhilePlaying(t *testing.T) {
	now := fixedNow
	r, _ := newRoot(t, 80, 24, func(o *Options) { o.Now = func() time.Time { return now } })
	s := fourSnapshot()
	s.SelfPosition, s.HostPosition = 100, 100.5
	r = update(t, r, room.StateChanged{Snapshot: s})
	wantScreen(t, r, "you 01:40 · host 01:40")
	now = now.Add(5 * time.Second)
	r = update(t, r, tickMsg{gen: r.tickGen})
	wantScreen(t, r, "you 01:45 · host 01:45")
}

func TestViewModes(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	v := r.View()
	if !v.AltScreen || v.WindowTitle != "watchium · movie-night" {
		t.Fatalf("AltScreen %v, title %q", v.AltScreen, v.WindowTitle)
	}
	if v.Cursor == nil || v.Cursor.Y != 21 || v.Cursor.X != 4 {
		t.Fatalf("cursor %+v, want at the input (4,21)", v.Cursor)
	}
	r = typeText(t, r, "abc")
	if c := r.View().Cursor; c == nil || c.X != 7 {
		t.Fatalf("cursor %+v after typing, want x=7", c)
	}
	if r.Init() == nil {
		t.Fatal("Init should ask for the background colour")
	}
}

func TestChatTimestampsAndAuthors(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	r = update(t, r, room.StateChanged{Snapshot: fourSnapshot()})
	r = update(t, r, room.ChatReceived{Comment: room.Comment{UserID: "u2", Username: "bob", Content: "mine", CreatedAt: "2025-03-14T21:07:00Z"}})
	r = update(t, r, room.ChatReceived{Comment: room.Comment{UserID: "u1", Username: "alice", Content: "odd clock", CreatedAt: "yesterday"}})
	r = update(t, r, room.ChatReceived{Comment: room.Comment{Content: "server says hi", IsSystemMessage: true, CreatedAt: "2025-03-14T20:30:00+01:00"}})
	wantScreen(t, r, "21:07 bob: mine", "20:15 alice: odd clock", "19:30 • server says hi")
	if r.chat.entries[0].kind != entrySelf {
		t.Fatal("our own echoed message is not marked as ours")
	}
}

func TestScrollbackIsBounded(t *testing.T) {
	r, _ := newRoot(t, 80, 24)
	r.chat.limit = 100
	r = fillChat(t, r, 150)
	if n := len(r.chat.entries); n > 100 {
		t.Fatalf("%d entries kept, want at most 100", n)
	}
	wantScreen(t, r, "line 149")
	if !r.chat.vp.AtBottom() {
		t.Fatal("trimming unpinned the chat")
	}

	// Scrolled up, trimming must not jump the view to other lines.
	r = update(t, r, tea.KeyPressMsg{Code: tea.KeyPgUp})
	before := screen(r)
	for range 20 {
		r = update(t, r, chatAt(1, "carol", "more"))
	}
	withoutTitle := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.Contains(l, "Chat") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if got := withoutTitle(screen(r)); got != withoutTitle(before) {
		t.Fatalf("the scrolled-up view moved while old lines were trimmed:\n%s\nwas:\n%s", got, before)
	}
	wantScreen(t, r, "↓ 20 new")
}

func TestInviteAndKick(t *testing.T) {
	tests := []struct {
		line, call, msg string
	}{
		{line: "/invite", call: "Invite false", msg: "invite code abcdefghijklmnopqrstuvwxyz"},
		{line: "/invite new", call: "Invite true", msg: "new invite code abcdefghijklmnopqrstuvwxyz (the old one no longer works)"},
		{line: "/invite old", msg: "usage: /invite"},
		{line: "/kick carol", call: "Kick u3", msg: "carol was removed from the room"},
		{line: "/kick dave", call: "Kick u4", msg: "dave was removed"}, // offline members too
		{line: "/kick bob", msg: "you cannot remove yourself"},
		{line: "/kick", msg: "usage: /kick NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			r, fc := newRoot(t, 80, 24)
			r = update(t, r, room.StateChanged{Snapshot: hostedByBob()})
			r = submit(t, r, tt.line)
			if tt.call != "" {
				wantCalls(t, fc, tt.call)
			} else {
				wantCalls(t, fc)
			}
			wantChat(t, r, tt.msg)
		})
	}
}
