package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/viewport"
	"github.com/charmbracelet/x/ansi"
)

type entryKind int

const (
	entryChat   entryKind = iota // someone else's message
	entrySelf                    // our own message, echoed by the server
	entrySystem                  // joins, leaves, host changes, help
	entryError                   // something the person tried failed
)

// chatEntry is one logical chat line; it is kept unwrapped so a resize can
// re-wrap the whole history.
type chatEntry struct {
	at     time.Time
	kind   entryKind
	author string
	text   string
}

// maxEntries bounds the scrollback so a long session cannot grow without
// limit; the oldest lines go first. The viewport measures every line on
// each update, so this also bounds the cost of one new message.
const maxEntries = 1000

// chatModel is the chat pane: a scrollback that stays pinned to the newest
// line unless the person has scrolled up, in which case it counts what
// arrived meanwhile instead of yanking them down.
type chatModel struct {
	common  *Common
	entries []chatEntry
	lines   []string // entries wrapped to the current width
	vp      viewport.Model

	limit   int // maxEntries, lowered by tests
	w, h    int
	unread  int
	focused bool
	note    string // layout hint shown in the title, e.g. hidden members
}

func newChat(c *Common) chatModel {
	vp := viewport.New()
	vp.MouseWheelEnabled = false
	return chatModel{common: c, vp: vp, limit: maxEntries}
}

// SetSize resizes the pane and re-wraps the history for the new width.
func (m *chatModel) SetSize(w, h int) {
	pinned := m.pinned()
	m.w, m.h = w, h
	innerW, innerH := boxInner(m.common, w, h)
	m.vp.SetWidth(innerW)
	m.vp.SetHeight(max(0, innerH-1)) // one row for the title
	m.rewrap()
	if pinned {
		m.vp.GotoBottom()
	}
	m.markReadIfAtBottom()
}

// rewrap re-renders every entry, after a resize or a theme change.
func (m *chatModel) rewrap() {
	innerW, _ := boxInner(m.common, m.w, m.h)
	// A fresh slice: earlier copies of the model may still share the old one.
	m.lines = nil
	for _, e := range m.entries {
		m.lines = append(m.lines, m.render(e, innerW)...)
	}
	m.vp.SetContentLines(m.lines)
}

// Add appends an entry, keeping the view pinned to the bottom if it was.
func (m *chatModel) Add(e chatEntry) {
	pinned := m.pinned()
	innerW, _ := boxInner(m.common, m.w, m.h)
	m.entries = append(m.entries, e)
	m.lines = append(m.lines, m.render(e, innerW)...)
	if len(m.entries) > m.limit {
		// Drop a chunk at once so the full re-wrap is rare.
		drop := len(m.entries) - m.limit + m.limit/10
		m.entries = append([]chatEntry(nil), m.entries[drop:]...)
		before, offset := len(m.lines), m.vp.YOffset()
		m.rewrap()
		// Keep a scrolled-up reader on the same lines.
		m.vp.SetYOffset(offset - (before - len(m.lines)))
	} else {
		m.vp.SetContentLines(m.lines)
	}
	if pinned {
		m.vp.GotoBottom()
		return
	}
	m.unread++
}

func (m *chatModel) ScrollUp(n int)   { m.vp.ScrollUp(n) }
func (m *chatModel) ScrollDown(n int) { m.vp.ScrollDown(n); m.markReadIfAtBottom() }
func (m *chatModel) PageUp()          { m.vp.PageUp() }
func (m *chatModel) PageDown()        { m.vp.PageDown(); m.markReadIfAtBottom() }
func (m *chatModel) Top()             { m.vp.GotoTop() }
func (m *chatModel) Bottom()          { m.vp.GotoBottom(); m.markReadIfAtBottom() }

// pinned reports whether new lines should keep the view at the bottom. A
// pane that has not been sized yet counts as pinned: nobody scrolled it.
func (m chatModel) pinned() bool {
	return m.vp.Height() <= 0 || m.vp.AtBottom()
}

func (m *chatModel) markReadIfAtBottom() {
	if m.vp.AtBottom() {
		m.unread = 0
	}
}

func (m chatModel) View() string {
	st := m.common.Styles
	innerW, _ := boxInner(m.common, m.w, m.h)
	head := st.Title.Render("Chat")
	switch {
	case m.unread > 0:
		head += " " + st.Badge.Render(fmt.Sprintf("↓ %d new", m.unread))
	case !m.vp.AtBottom():
		head += " " + st.Dim.Render("↓ more below")
	}
	if m.note != "" {
		head += st.Dim.Render(" · " + m.note)
	}
	lines := []string{truncate(head, innerW)}
	if m.vp.Height() > 0 && m.vp.Width() > 0 {
		lines = append(lines, strings.Split(m.vp.View(), "\n")...)
	}
	return renderBox(m.common, lines, m.w, m.h, m.focused)
}

// tsWidth is "15:04 ": the hanging indent of continuation lines.
const tsWidth = 6

// render wraps one entry to w cells. Text is wrapped before it is styled so
// that styles never straddle a line break.
func (m chatModel) render(e chatEntry, w int) []string {
	if w <= 0 {
		return nil
	}
	st := m.common.Styles
	// Timestamps go when the pane is too narrow to spare six columns.
	withTS := w >= 24
	bodyW := w
	if withTS {
		bodyW = w - tsWidth
	}

	var prefix string
	var textStyle = st.Name
	author := ""
	switch e.kind {
	case entryChat, entrySelf:
		// Cap names so a long one cannot push the message off the line.
		author = truncate(sanitizeLine(e.author), max(1, min(20, bodyW/2)))
		if author == "" {
			author = "?"
		}
		prefix = author + ": "
	case entrySystem:
		prefix = "• "
		textStyle = st.System
	case entryError:
		prefix = "! "
		textStyle = st.Error
	}

	var wrapped []string
	for i, para := range strings.Split(sanitizeText(e.text), "\n") {
		if i == 0 {
			para = prefix + para
		}
		for _, l := range strings.Split(ansi.Wrap(para, bodyW, ""), "\n") {
			wrapped = append(wrapped, truncate(strings.TrimRight(l, " "), bodyW))
		}
	}

	ts := e.at.In(m.common.Now().Location()).Format("15:04") + " "
	out := make([]string, len(wrapped))
	for i, l := range wrapped {
		var styled string
		if i == 0 && author != "" && strings.HasPrefix(l, author+":") {
			as := st.Author
			if e.kind == entrySelf {
				as = st.SelfAuthor
			}
			styled = as.Render(author) + textStyle.Render(l[len(author):])
		} else {
			styled = textStyle.Render(l)
		}
		switch {
		case !withTS:
		case i == 0:
			styled = st.Timestamp.Render(ts) + styled
		default:
			styled = strings.Repeat(" ", tsWidth) + styled
		}
		out[i] = styled
	}
	return out
}
