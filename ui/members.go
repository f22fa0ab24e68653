package ui

import (
	"fmt"
	"time"

	"charm.land/bubbles/v2/spinner"
	"charm.land/lipgloss/v2"
	"github.com/watchium/watchium-tui/room"
)

// membersModel is the members pane: who is here, who hosts, and whether each
// person's player is following the host.
type membersModel struct {
	common   *Common
	snap     room.Snapshot
	has      bool
	selfName string // shown until the first snapshot arrives

	w, h    int
	compact bool // one line per member, for the stacked narrow layout
	focused bool
	offset  int    // first content line shown when the list is taller than the pane
	spin    string // the spinner's frame, for members whose player is busy
}

func newMembers(c *Common, selfName string) membersModel {
	return membersModel{common: c, selfName: selfName}
}

func (m *membersModel) SetSnapshot(s room.Snapshot) {
	m.snap, m.has = s, true
	m.clampOffset()
}

func (m *membersModel) SetSize(w, h int, compact bool) {
	m.w, m.h, m.compact = w, h, compact
	m.clampOffset()
}

// Scroll moves the visible window by n content lines.
func (m *membersModel) Scroll(n int) {
	m.offset += n
	m.clampOffset()
}

func (m *membersModel) clampOffset() {
	innerW, innerH := boxInner(m.common, m.w, m.h)
	maxOff := max(0, len(m.content(innerW))-(innerH-1))
	m.offset = min(max(m.offset, 0), maxOff)
}

// neededHeight is the pane height that shows every member at width w,
// which the stacked layout uses to avoid wasting rows on a small room.
func (m membersModel) neededHeight(w int) int {
	innerW, _ := boxInner(m.common, w, 0)
	return len(m.content(innerW)) + 1 + m.common.Styles.Pane.GetVerticalFrameSize()
}

func (m membersModel) View() string {
	innerW, _ := boxInner(m.common, m.w, m.h)
	title := "Members"
	if m.has {
		title = fmt.Sprintf("Members (%d)", len(m.snap.Members))
	}
	return scrolledBox(m.common, title, m.content(innerW), m.offset, m.w, m.h, m.focused)
}

// content renders every member at inner width w, before scrolling.
func (m membersModel) content(w int) []string {
	st := m.common.Styles
	if !m.has {
		name := sanitizeLine(m.selfName)
		if name == "" {
			name = "you"
		}
		return []string{st.Dim.Render(truncate(name+" · joining…", w))}
	}
	if len(m.snap.Members) == 0 {
		return []string{st.Dim.Render(truncate("nobody here yet", w))}
	}
	var out []string
	for _, mem := range m.snap.Members {
		out = append(out, m.member(mem, w)...)
	}
	return out
}

// member renders one person. Every state has a text marker (★ host, ✓/✗,
// ▶/⏸, "detached", "offline") so nothing depends on colour alone.
func (m membersModel) member(mem room.Member, w int) []string {
	st := m.common.Styles

	marker := "  "
	if mem.IsHost {
		marker = st.Host.Render("★") + " "
	}
	you := ""
	if mem.IsSelf {
		you = " (you)"
	}
	name := displayName(mem)
	nameStyle := st.Name
	if mem.IsSelf {
		nameStyle = st.SelfName
	}
	if !mem.Online {
		nameStyle = st.Offline
	}

	parts := memberParts(st, mem, m.spin)

	if m.compact {
		// Name first, then as many markers as fit.
		nameW := max(1, min(cells(name), w-2-cells(you)))
		line := marker + nameStyle.Render(truncate(name, nameW)+you)
		for _, p := range parts {
			if lipgloss.Width(line)+1+lipgloss.Width(p) > w {
				break
			}
			line += " " + p
		}
		return []string{line}
	}

	nameW := max(1, w-2-cells(you))
	lines := []string{marker + nameStyle.Render(truncate(name, nameW)+you)}
	// Wrap the markers under the name, as many per line as fit.
	const indent = "  "
	cur := ""
	for _, p := range parts {
		switch {
		case cur == "":
			cur = p
		case lipgloss.Width(indent+cur+" "+p) <= w:
			cur += " " + p
		default:
			lines = append(lines, indent+cur)
			cur = p
		}
	}
	if cur != "" {
		lines = append(lines, indent+cur)
	}
	return lines
}

// memberParts are the status markers shown after a member's name.
func memberParts(st Styles, mem room.Member, spin string) []string {
	if spin == "" {
		spin = spinner.MiniDot.Frames[0]
	}
	if !mem.Online {
		parts := []string{st.Offline.Render("offline")}
		if mem.IsHost {
			parts = append([]string{st.Host.Render("host")}, parts...)
		}
		return parts
	}
	var parts []string
	if mem.IsHost {
		// The host is the timeline everyone follows, so an offset is
		// meaningless for them.
		parts = append(parts, st.Host.Render("host"))
	} else if mem.PlayerState == "buffering" {
		// Waiting for data is not drifting: neither ✓ nor ✗.
		parts = append(parts, st.Warning.Render(fmt.Sprintf("%s buffering %d%%", spin, mem.BufferPercent)))
	} else if mem.PlayerState == "seeking" {
		parts = append(parts, st.Dim.Render(spin+" seeking…"))
	} else if mem.InSync {
		parts = append(parts, st.InSync.Render("✓ "+formatOffset(mem.OffsetMS)))
	} else {
		parts = append(parts, st.OutOfSync.Render("✗ "+formatOffset(mem.OffsetMS)))
	}
	if mem.Playing {
		parts = append(parts, "▶")
	} else {
		parts = append(parts, st.Dim.Render("⏸"))
	}
	if mem.Detached {
		parts = append(parts, st.Warning.Render("detached"))
	}
	if mem.NotResponding {
		parts = append(parts, st.Warning.Render("not responding"))
	}
	if mem.PlayerState == "gone" {
		parts = append(parts, st.Warning.Render("no mpv"))
	}
	if mem.RTT > 0 {
		parts = append(parts, st.Dim.Render("rtt "+formatRTT(mem.RTT)))
	}
	if mem.Missing != "" {
		parts = append(parts, st.Warning.Render("⚠ missing "+truncate(sanitizeLine(mem.Missing), 24)))
	} else if mem.MediaMismatch {
		parts = append(parts, st.Warning.Render("⚠ different file"))
	}
	return parts
}

func displayName(mem room.Member) string {
	name := sanitizeLine(mem.Username)
	if name == "" {
		name = sanitizeLine(mem.UserID)
	}
	if name == "" {
		name = "?"
	}
	return name
}

func formatRTT(d time.Duration) string {
	if d < time.Millisecond {
		return "<1 ms"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// spinnerEvery is the spinner's pace, and the tick's while anyone is busy.
const spinnerEvery = 100 * time.Millisecond

// spinnerFrame is bubbles' MiniDot spinner at time t: derived from the
// (pinned, in tests) clock, so a screen is a function of the model.
func spinnerFrame(t time.Time) string {
	f := spinner.MiniDot.Frames
	i := int(t.UnixMilli()/spinnerEvery.Milliseconds()) % len(f)
	if i < 0 {
		i += len(f)
	}
	return f[i]
}
