package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/progress"
	"charm.land/lipgloss/v2"
	"github.com/watchium/watchium-tui/room"
)

// statusModel is the one-line bar at the top: which room, whether the
// connection is healthy, where you are against the host, and who hosts.
type statusModel struct {
	common         *Common
	roomID, server string

	snap   room.Snapshot
	has    bool
	snapAt time.Time // Common.Now when the snapshot arrived
	now    time.Time // advanced by ticks while playing
	w      int
	bar    progress.Model // the timeline's
}

func newStatus(c *Common, roomID, server string) statusModel {
	return statusModel{common: c, roomID: roomID, server: server, bar: newTimelineBar(c.NoColor)}
}

func (m *statusModel) SetSnapshot(s room.Snapshot, at time.Time) {
	m.snap, m.has, m.snapAt, m.now = s, true, at, at
}

func (m *statusModel) SetNow(t time.Time) { m.now = t }
func (m *statusModel) SetWidth(w int)     { m.w = w }

// positions projects the last reported positions forward to m.now, so the
// clock keeps moving between snapshots while the video plays.
func (m statusModel) positions() (self, host float64) {
	elapsed := m.now.Sub(m.snapAt).Seconds()
	if elapsed < 0 {
		elapsed = 0
	}
	self, host = m.snap.SelfPosition, m.snap.HostPosition
	speed := m.snap.Speed
	if speed <= 0 {
		speed = 1
	}
	elapsed *= speed
	if m.snap.Playing {
		host += elapsed
	}
	selfPlaying := m.snap.Playing
	if me, ok := m.snap.Self(); ok {
		selfPlaying = me.Playing
	}
	if selfPlaying {
		self += elapsed
	}
	return self, host
}

// segment is one part of the bar with progressively shorter forms; the
// last form may be "" to drop the segment entirely.
type segment struct {
	forms []string
	// cost[i] orders the step from forms[i] to forms[i+1] against every
	// other segment's next step when the bar is too narrow: the cheapest
	// step is taken first.
	cost  []int
	style lipgloss.Style
	at    int // index of the form in use
}

func seg(style lipgloss.Style, forms []string, cost ...int) segment {
	return segment{forms: forms, cost: cost, style: style}
}

func (m statusModel) View() string {
	if m.w <= 0 {
		return ""
	}
	st := m.common.Styles
	bar := st.StatusBar
	segs := m.segments()
	sep := " · "

	join := func(styled bool) string {
		var parts []string
		for _, s := range segs {
			f := s.forms[s.at]
			if f == "" {
				continue
			}
			if styled {
				f = s.style.Inherit(bar).Render(f)
			}
			parts = append(parts, f)
		}
		if !styled {
			return " " + strings.Join(parts, sep) + " "
		}
		return bar.Render(" ") + strings.Join(parts, bar.Render(sep)) + bar.Render(" ")
	}

	for cells(join(false)) > m.w {
		best := -1
		for i, s := range segs {
			if s.at < len(s.forms)-1 && (best < 0 || s.cost[s.at] < segs[best].cost[segs[best].at]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		segs[best].at++
	}

	line := join(true)
	if w := cells(line); w > m.w {
		line = bar.Render(truncate(join(false), m.w))
	} else if w < m.w {
		line += bar.Render(strings.Repeat(" ", m.w-w))
	}
	return line
}

func (m statusModel) segments() []segment {
	st := m.common.Styles
	roomID := sanitizeLine(m.roomID)
	if m.has && m.snap.RoomID != "" {
		roomID = sanitizeLine(m.snap.RoomID)
	}
	server := sanitizeLine(m.server)
	if m.has && m.snap.Server != "" {
		server = sanitizeLine(m.snap.Server)
	}

	plain := lipgloss.NewStyle()
	// Step costs, cheapest taken first: brand 0, rtt 1, "room " 2, server
	// shortened 3, host shortened 4, server 5, position labels 6, reason 7,
	// host 7, position 8, room id shortened 9, connection detail 10. The
	// connection state and who hosts matter more mid-film than where the
	// server is.
	where := seg(plain, []string{"watchium · room " + roomID, "room " + roomID, roomID, truncate(roomID, 12)}, 0, 2, 9)
	if server != "" {
		at, short := " @ "+server, " @ "+truncate(server, 12)
		where = seg(plain, []string{
			"watchium · room " + roomID + at, "room " + roomID + at, roomID + at, roomID + short,
			roomID, truncate(roomID, 12),
		}, 0, 2, 3, 5, 9)
	}
	segs := []segment{where}
	segs = append(segs, m.connSegment())
	if !m.has {
		return segs
	}

	self, host := m.positions()
	play := "⏸"
	if m.snap.Playing {
		play = "▶"
	}
	h, hasHost := m.snap.Host()
	switch {
	case hasHost && h.IsSelf:
		segs = append(segs,
			seg(plain, []string{play + " " + formatClock(host), ""}, 8),
			seg(st.Host, []string{"★ you host", ""}, 7),
		)
		if w := m.snap.WaitingFor; len(w) > 0 {
			// Why playback holds after a seek: never dropped.
			names := sanitizeLine(strings.Join(w, ", "))
			segs = append(segs, seg(st.ConnWarn, []string{"waiting for " + names, "waiting for " + truncate(names, 12)}, 5))
		}
	case hasHost:
		segs = append(segs,
			seg(plain, []string{
				play + " you " + formatClock(self) + " · host " + formatClock(host),
				play + " " + formatClock(self) + "/" + formatClock(host),
				"",
			}, 6, 8),
			seg(st.Host, []string{"★ " + displayName(h), "★ " + truncate(displayName(h), 10), ""}, 4, 7),
		)
	default:
		segs = append(segs,
			seg(plain, []string{play + " you " + formatClock(self), ""}, 8),
			seg(st.ConnWarn, []string{"no host", ""}, 7),
		)
	}
	if s := m.snap.Speed; s > 0 && s != 1 {
		// The room plays faster or slower than normal: never dropped.
		segs = append(segs, seg(st.Host, []string{"speed " + formatSpeed(s), formatSpeed(s)}, 5))
	}
	return segs
}

// connSegment says whether the room is reachable. Its last form never
// goes: a person whose chat goes nowhere must be able to see why.
func (m statusModel) connSegment() segment {
	st := m.common.Styles
	if !m.has {
		return seg(st.ConnWarn, []string{"○ connecting…"})
	}
	c := m.snap.Conn
	reason := sanitizeLine(c.Reason)
	switch c.State {
	case "open":
		if m.snap.RTT > 0 {
			return seg(st.ConnOK, []string{"● connected " + formatRTT(m.snap.RTT), "● connected"}, 1)
		}
		return seg(st.ConnOK, []string{"● connected"})
	case "connecting":
		return seg(st.ConnWarn, []string{"○ connecting…"})
	case "reconnecting":
		s := "◌ reconnecting"
		short := "◌ reconnecting"
		if c.Attempt > 0 {
			s = fmt.Sprintf("◌ reconnecting, attempt %d", c.Attempt)
			short = fmt.Sprintf("◌ retry %d", c.Attempt)
		}
		if reason != "" {
			return seg(st.ConnWarn, []string{s + " (" + reason + ")", s, short}, 7, 10)
		}
		return seg(st.ConnWarn, []string{s, short}, 10)
	case "closed":
		if reason != "" {
			return seg(st.ConnBad, []string{"✕ disconnected (" + reason + ")", "✕ disconnected"}, 7)
		}
		return seg(st.ConnBad, []string{"✕ disconnected"})
	}
	state := sanitizeLine(c.State)
	if state == "" {
		state = "○ connecting…"
	}
	return seg(st.ConnWarn, []string{state})
}
