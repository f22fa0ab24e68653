package ui

import (
	"fmt"
	"image/color"
	"strconv"

	"charm.land/bubbles/v2/progress"
	"charm.land/lipgloss/v2"
)

// The timeline bar under the status line: where the room is in the file,
// how long it is, where a seek is heading, and the room's speed when it is
// not 1.

// minBarCells: narrower than this a bar says nothing; the text stays.
const minBarCells = 6

func newTimelineBar(noColor bool) progress.Model {
	opts := []progress.Option{progress.WithoutPercentage(), progress.WithFillCharacters('━', '─')}
	if noColor {
		opts = append(opts, progress.WithColorFunc(func(float64, float64) color.Color { return lipgloss.NoColor{} }))
	}
	return progress.New(opts...)
}

// hasTimeline: the bar needs the file's length.
func (m statusModel) hasTimeline() bool { return m.has && m.snap.Duration > 0 }

// TimelineView renders the bar at the status bar's width.
func (m statusModel) TimelineView() string {
	if !m.hasTimeline() || m.w <= 0 {
		return ""
	}
	st := m.common.Styles
	_, pos := m.positions() // the room's timeline: the host's
	dur := m.snap.Duration
	pos = min(max(pos, 0), dur)
	play := "⏸"
	if m.snap.Playing {
		play = "▶"
	}
	left := " " + play + " " + formatClock(pos) + " "
	right := " " + formatClock(dur)
	if m.snap.Seeking {
		right += " " + st.ConnWarn.Render("→ "+formatClock(m.snap.SeekTarget))
	}
	if s := m.snap.Speed; s > 0 && s != 1 {
		right += " · " + st.Host.Render(formatSpeed(s))
	}
	right += " "
	barW := m.w - lipgloss.Width(left) - lipgloss.Width(right)
	if barW < minBarCells {
		return truncate(left+right, m.w)
	}
	bar := m.bar
	bar.SetWidth(barW)
	line := left + bar.ViewAs(pos/dur) + right
	if w := lipgloss.Width(line); w < m.w {
		line += fmt.Sprintf("%*s", m.w-w, "")
	}
	return line
}

// formatSpeed renders a playback speed as "1.5×".
func formatSpeed(s float64) string {
	return strconv.FormatFloat(s, 'f', -1, 64) + "×"
}
