package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/watchium/watchium-tui/room"
)

// Options configures the room screen.
type Options struct {
	// Controller carries out what the person asks for; *room.Room
	// implements it. Nil is allowed (every action then reports "not
	// connected"), which keeps previews and tests simple.
	Controller Controller
	// RoomID and Server label the status bar until the first snapshot,
	// which then takes precedence.
	RoomID, Server string
	// SelfName is shown in the members pane until the first snapshot.
	SelfName string
	// NoColor renders without any colour, keeping text markers, bold and
	// reverse video. The caller decides (os.Getenv("NO_COLOR") != "") so
	// the package never reads the environment and tests stay deterministic.
	NoColor bool
	// Now is the clock for chat timestamps and position projection; nil
	// means time.Now. Tests pin it.
	Now func() time.Time
}

type focusArea int

const (
	focusInput focusArea = iota
	focusChat
	focusMembers
	focusPlaylist
	focusAreas
)

func (f focusArea) String() string {
	switch f {
	case focusInput:
		return "input"
	case focusChat:
		return "chat"
	case focusMembers:
		return "members"
	case focusPlaylist:
		return "playlist"
	}
	return fmt.Sprintf("focusArea(%d)", int(f))
}

// layout is where each pane goes for the current terminal size.
type layout struct {
	stacked       bool // members above chat, for narrow terminals
	membersHidden bool // no room for members at all
	membersW      int
	membersH      int
	playlistH     int  // under the members; 0: hidden
	timeline      bool // the timeline bar under the status line
	chatW, chatH  int
	inputY        int // first row of the input box
	showHelp      bool
}

// Root is the room screen and the program's only tea.Model. It composes the
// members, chat, status and input panes, which share one *Common.
type Root struct {
	common *Common
	ctrl   Controller
	roomID string

	snap    room.Snapshot
	hasSnap bool

	status   statusModel
	members  membersModel
	playlist playlistModel
	chat     chatModel
	input    inputModel
	help     help.Model

	focus  focusArea
	layout layout

	// One tick chain at most, and only while something plays: an idle room
	// costs no wake-ups.
	ticking bool
	tickGen int
}

// New builds the room screen. Room state arrives later as room.StateChanged,
// room.ChatReceived and room.Notice messages sent with p.Send.
func New(opts Options) Root {
	c := newCommon(opts.NoColor, opts.Now)
	r := Root{
		common:   c,
		ctrl:     opts.Controller,
		roomID:   opts.RoomID,
		status:   newStatus(c, opts.RoomID, opts.Server),
		members:  newMembers(c, opts.SelfName),
		playlist: playlistModel{common: c},
		chat:     newChat(c),
		input:    newInput(c),
		help:     help.New(),
	}
	r.input.Focus()
	return r
}

// Init asks the terminal for its background so colours suit it.
func (r Root) Init() tea.Cmd {
	return tea.RequestBackgroundColor
}

// Update routes each message to the handler for its source.
func (r Root) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		r.common.Width, r.common.Height = msg.Width, msg.Height
		r.relayout()
		return r, nil
	case tea.BackgroundColorMsg:
		if r.common.setDark(msg.IsDark()) {
			r.input.Restyle()
			r.chat.rewrap()
		}
		return r, nil
	case tea.KeyPressMsg:
		return r.handleKey(msg)
	case tea.PasteMsg:
		cmd := r.setFocus(focusInput)
		var icmd tea.Cmd
		r.input, icmd = r.input.Update(msg)
		return r, tea.Batch(cmd, icmd)
	case tickMsg:
		return r.handleTick(msg)
	case room.StateChanged, room.ChatReceived, room.Notice, room.EventReceived:
		return r.handleRoomEvent(msg)
	case PlayDoneMsg, PauseDoneMsg, SeekDoneMsg, SayDoneMsg, HandOverDoneMsg, ResyncDoneMsg, SetNameDoneMsg, SetWaitDoneMsg, PlaylistDoneMsg, InviteDoneMsg, KickDoneMsg:
		return r.handleDone(msg)
	}
	// Anything else (the text input's own clipboard results, say) belongs
	// to the input.
	var cmd tea.Cmd
	r.input, cmd = r.input.Update(msg)
	return r, cmd
}

func (r Root) handleRoomEvent(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case room.StateChanged:
		r.snap, r.hasSnap = msg.Snapshot, true
		r.members.SetSnapshot(msg.Snapshot)
		r.playlist.SetSnapshot(msg.Snapshot)
		r.status.SetSnapshot(msg.Snapshot, r.common.Now())
		r.members.spin = spinnerFrame(r.common.Now())
		// A changed member count moves the split in the stacked layout.
		r.relayout()
		return r, r.armTick()
	case room.ChatReceived:
		c := msg.Comment
		e := chatEntry{at: r.commentTime(c.CreatedAt), kind: entryChat, author: c.Username, text: c.Content}
		switch {
		case c.IsSystemMessage:
			e.kind, e.author = entrySystem, ""
		case r.hasSnap && c.UserID != "" && c.UserID == r.snap.SelfID:
			e.kind = entrySelf
		}
		if e.author == "" && e.kind != entrySystem {
			e.author = c.UserID
		}
		r.chat.Add(e)
	case room.Notice:
		at := msg.At
		if at.IsZero() {
			at = r.common.Now()
		}
		r.chat.Add(chatEntry{at: at, kind: entrySystem, text: msg.Text})
	case room.EventReceived:
		// Raw events are for the headless printer; the UI draws snapshots.
	}
	return r, nil
}

// commentTime reads a comment's created_at, falling back to now when the
// server sent something unparsable, so a bad timestamp never drops a line.
func (r Root) commentTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return r.common.Now()
}

// armTick starts the clock for the status bar if something is playing
// (once a second) or someone's player is busy (the spinner's pace), and no
// tick chain is already running.
func (r *Root) armTick() tea.Cmd {
	busy := r.anyBusy()
	if r.ticking || !r.playing() && !busy {
		return nil
	}
	r.ticking = true
	r.tickGen++
	gen := r.tickGen
	every := time.Second
	if busy {
		every = spinnerEvery
	}
	return tea.Tick(every, func(time.Time) tea.Msg { return tickMsg{gen: gen} })
}

// anyBusy: someone's player is seeking or buffering (spinner shown).
func (r Root) anyBusy() bool {
	for _, m := range r.snap.Members {
		if m.Online && m.PlayerState != "" {
			return true
		}
	}
	return false
}

func (r Root) playing() bool {
	if !r.hasSnap {
		return false
	}
	if me, ok := r.snap.Self(); ok && me.Playing {
		return true
	}
	return r.snap.Playing
}

func (r Root) handleTick(msg tickMsg) (tea.Model, tea.Cmd) {
	if msg.gen != r.tickGen {
		return r, nil
	}
	r.ticking = false
	now := r.common.Now()
	r.status.SetNow(now)
	r.members.spin = spinnerFrame(now)
	return r, r.armTick()
}

func (r Root) handleKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := r.common.Keys
	switch {
	case key.Matches(msg, k.Quit):
		return r, tea.Quit
	case key.Matches(msg, k.NextFocus):
		return r, r.cycleFocus(1)
	case key.Matches(msg, k.PrevFocus):
		return r, r.cycleFocus(-1)
	case key.Matches(msg, k.PageUp):
		r.chat.PageUp()
		return r, nil
	case key.Matches(msg, k.PageDown):
		r.chat.PageDown()
		return r, nil
	case key.Matches(msg, k.Clear):
		r.input.Reset()
		return r, r.setFocus(focusInput)
	}

	if r.focus == focusInput {
		if key.Matches(msg, k.Send) {
			return r.submit()
		}
		var cmd tea.Cmd
		r.input, cmd = r.input.Update(msg)
		return r, cmd
	}

	switch {
	case key.Matches(msg, k.Up):
		r.scroll(-1)
	case key.Matches(msg, k.Down):
		r.scroll(1)
	case key.Matches(msg, k.Top) && r.focus == focusChat:
		r.chat.Top()
	case key.Matches(msg, k.Bottom) && r.focus == focusChat:
		r.chat.Bottom()
	case key.Matches(msg, k.Send):
		return r, r.setFocus(focusInput)
	case msg.Text != "" && msg.Mod&(tea.ModCtrl|tea.ModAlt) == 0:
		// Typing while a pane is focused means the person wants to write:
		// go back to the input rather than swallow the keystroke.
		cmd := r.setFocus(focusInput)
		var icmd tea.Cmd
		r.input, icmd = r.input.Update(msg)
		return r, tea.Batch(cmd, icmd)
	}
	return r, nil
}

func (r *Root) scroll(n int) {
	switch r.focus {
	case focusChat:
		if n < 0 {
			r.chat.ScrollUp(-n)
		} else {
			r.chat.ScrollDown(n)
		}
	case focusMembers:
		r.members.Scroll(n)
	case focusPlaylist:
		r.playlist.Scroll(n)
	}
}

func (r *Root) cycleFocus(dir int) tea.Cmd {
	f := r.focus
	for range focusAreas {
		f = (f + focusArea(dir) + focusAreas) % focusAreas
		if (f != focusMembers || !r.layout.membersHidden) && (f != focusPlaylist || r.layout.playlistH > 0) {
			break
		}
	}
	return r.setFocus(f)
}

func (r *Root) setFocus(f focusArea) tea.Cmd {
	r.focus = f
	r.chat.focused = f == focusChat
	r.members.focused = f == focusMembers
	r.playlist.focused = f == focusPlaylist
	if f == focusInput {
		return r.input.Focus()
	}
	r.input.Blur()
	return nil
}

// relayout recomputes the pane geometry for the current size. It runs on
// every WindowSizeMsg and whenever content changes the stacked split.
func (r *Root) relayout() {
	w, h := r.common.Width, r.common.Height
	var l layout
	statusH := 1
	l.showHelp = h >= 12
	helpH := 0
	if l.showHelp {
		helpH = 1
	}
	// The timeline costs a row; a short window keeps it for the chat.
	if l.timeline = r.status.hasTimeline() && h >= 16; l.timeline {
		statusH++
	}
	bodyH := max(0, h-statusH-helpH-inputHeight)
	l.inputY = statusH + bodyH

	if w >= 60 {
		l.membersW = min(max(w*34/100, 24), 36)
		l.membersH = bodyH
		l.chatW, l.chatH = w-l.membersW, bodyH
		// The playlist shares the left column once it has entries: as
		// tall as it needs, up to half, when both keep a few rows.
		const minPaneH = 5
		if !r.playlist.empty() && bodyH >= 2*minPaneH {
			l.playlistH = min(r.playlist.neededHeight(l.membersW), max(minPaneH, bodyH/2))
			l.membersH = bodyH - l.playlistH
		}
	} else {
		// Narrow: members go above the chat, sized to the room but never
		// more than two fifths of the body, and not at all when the chat
		// would be left too short to read.
		l.stacked = true
		l.chatW, l.membersW = w, w
		const minChatH, minMembersH = 6, 4
		l.membersH = min(r.members.neededHeight(w), max(minMembersH, bodyH*2/5))
		if l.membersH < minMembersH || bodyH-l.membersH < minChatH {
			l.membersHidden = true
			l.membersH = 0
		}
		l.chatH = bodyH - l.membersH
	}
	r.layout = l

	r.status.SetWidth(w)
	r.members.SetSize(l.membersW, l.membersH, l.stacked)
	r.playlist.SetSize(l.membersW, l.playlistH)
	r.chat.SetSize(l.chatW, l.chatH)
	r.chat.note = ""
	if l.membersHidden {
		r.chat.note = "members hidden: window too small"
	}
	r.input.SetWidth(w)
	r.help.SetWidth(w)
	if l.membersHidden && r.focus == focusMembers || l.playlistH == 0 && r.focus == focusPlaylist {
		r.setFocus(focusInput)
	}
}

// View draws the whole screen. It only reads state.
func (r Root) View() tea.View {
	v := tea.NewView(r.render())
	v.AltScreen = true
	v.WindowTitle = "watchium · " + sanitizeLine(r.roomTitle())
	if c := r.input.Cursor(); c != nil && r.focus == focusInput && r.common.Height > 0 {
		c.Y += r.layout.inputY
		v.Cursor = c
	}
	return v
}

func (r Root) roomTitle() string {
	if r.hasSnap && r.snap.RoomID != "" {
		return r.snap.RoomID
	}
	return r.roomID
}

func (r Root) render() string {
	w, h := r.common.Width, r.common.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	l := r.layout
	var body string
	switch {
	case l.membersHidden:
		body = r.chat.View()
	case l.stacked:
		body = lipgloss.JoinVertical(lipgloss.Left, r.members.View(), r.chat.View())
	case l.playlistH > 0:
		left := lipgloss.JoinVertical(lipgloss.Left, r.members.View(), r.playlist.View())
		body = lipgloss.JoinHorizontal(lipgloss.Top, left, r.chat.View())
	default:
		body = lipgloss.JoinHorizontal(lipgloss.Top, r.members.View(), r.chat.View())
	}
	rows := []string{r.status.View()}
	if l.timeline {
		rows = append(rows, r.status.TimelineView())
	}
	if body != "" {
		rows = append(rows, body)
	}
	rows = append(rows, r.input.View())
	if l.showHelp {
		rows = append(rows, r.helpLine())
	}
	out := strings.Split(strings.Join(rows, "\n"), "\n")
	// Never draw more rows than the terminal has; only a window shorter
	// than the fixed rows (status, input) gets here.
	if len(out) > h {
		out = out[:h]
	}
	return strings.Join(out, "\n")
}

func (r Root) helpLine() string {
	w := r.common.Width
	hm := r.help
	hm.Styles = r.common.Styles.Help
	line := hm.View(r.common.Keys)
	extra := r.common.Styles.Help.ShortKey.Render("/help") + " " + r.common.Styles.Help.ShortDesc.Render("commands")
	if cells(line)+3+cells(extra) <= w {
		line += hm.ShortSeparator + extra
	}
	return truncate(line, w)
}
