package ui

import (
	"fmt"
	"strings"

	"github.com/watchium/watchium-tui/room"
)

// playlistModel is the playlist pane under the members: the room's
// entries, the playing one marked, who lacks which file, and the proposals
// waiting for the host.
type playlistModel struct {
	common  *Common
	snap    room.Snapshot
	w, h    int
	focused bool
	offset  int
}

func (m *playlistModel) SetSnapshot(s room.Snapshot) {
	m.snap = s
	m.clampOffset()
}

func (m *playlistModel) SetSize(w, h int) {
	m.w, m.h = w, h
	m.clampOffset()
}

func (m *playlistModel) Scroll(n int) {
	m.offset += n
	m.clampOffset()
}

func (m *playlistModel) clampOffset() {
	innerW, innerH := boxInner(m.common, m.w, m.h)
	maxOff := max(0, len(m.content(innerW))-(innerH-1))
	m.offset = min(max(m.offset, 0), maxOff)
}

// empty: nothing to show, so the pane gives its rows to the members.
func (m playlistModel) empty() bool {
	return len(m.snap.Playlist.Entries) == 0 && len(m.snap.Proposals) == 0
}

// neededHeight is the pane height that shows everything at width w.
func (m playlistModel) neededHeight(w int) int {
	innerW, _ := boxInner(m.common, w, 0)
	return len(m.content(innerW)) + 1 + m.common.Styles.Pane.GetVerticalFrameSize()
}

func (m playlistModel) View() string {
	innerW, _ := boxInner(m.common, m.w, m.h)
	title := fmt.Sprintf("Playlist (%d)", len(m.snap.Playlist.Entries))
	return scrolledBox(m.common, title, m.content(innerW), m.offset, m.w, m.h, m.focused)
}

// content renders the entries at inner width w. The playing entry has ▶
// (and stands out), a file someone lacks has ⚠ and their names.
func (m playlistModel) content(w int) []string {
	st := m.common.Styles
	p := m.snap.Playlist
	var out []string
	for i, e := range p.Entries {
		num := fmt.Sprintf("%d. ", i+1)
		name := sanitizeLine(e.Name)
		if i == p.Current {
			out = append(out, st.SelfName.Render(truncate("▶ "+num+name, w)))
		} else {
			out = append(out, truncate("  "+num+name, w))
		}
		var missing []string
		for _, mem := range m.snap.Members {
			if mem.Missing != "" && mem.Missing == e.Name {
				missing = append(missing, displayName(mem))
			}
		}
		if len(missing) > 0 {
			out = append(out, st.Warning.Render(truncate("    ⚠ missing: "+strings.Join(missing, ", "), w)))
		}
	}
	for i, q := range m.snap.Proposals {
		out = append(out, st.Dim.Render(truncate(fmt.Sprintf("? %s (%s, /accept %d)", sanitizeLine(q.Entry.Name), sanitizeLine(q.Username), i+1), w)))
	}
	return out
}
