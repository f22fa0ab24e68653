package ui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/textinput"
	"charm.land/lipgloss/v2"
)

// Styles holds every style the UI uses, named for what they mean rather
// than how they look, so NO_COLOR and light/dark are decided in one place.
type Styles struct {
	// Panes: focus is shown by the border shape as well as its colour, so
	// it survives NO_COLOR.
	Pane        lipgloss.Style
	PaneFocused lipgloss.Style
	Title       lipgloss.Style
	Badge       lipgloss.Style // "↓ 3 new"

	StatusBar lipgloss.Style
	ConnOK    lipgloss.Style
	ConnWarn  lipgloss.Style
	ConnBad   lipgloss.Style

	Host      lipgloss.Style // ★ and the word "host"
	Name      lipgloss.Style
	SelfName  lipgloss.Style
	InSync    lipgloss.Style
	OutOfSync lipgloss.Style
	Warning   lipgloss.Style // detached, different media
	Offline   lipgloss.Style
	Dim       lipgloss.Style

	Timestamp  lipgloss.Style
	Author     lipgloss.Style
	SelfAuthor lipgloss.Style
	System     lipgloss.Style
	Error      lipgloss.Style

	Help  help.Styles
	Input textinput.Styles
}

// NewStyles builds the palette for a background. With noColor every colour
// is lipgloss.NoColor, which lipgloss renders as no colour sequence at all.
func NewStyles(isDark, noColor bool) Styles {
	ld := lipgloss.LightDark(isDark)
	c := func(light, dark string) color.Color {
		if noColor {
			return lipgloss.NoColor{}
		}
		return ld(lipgloss.Color(light), lipgloss.Color(dark))
	}

	var (
		accent  = c("#6B4FD8", "#A78BFA")
		subtle  = c("#A0A0A0", "#5C5C5C")
		muted   = c("#767676", "#8A8A8A")
		green   = c("#1A7F37", "#4ADE80")
		yellow  = c("#9A6700", "#FACC15")
		red     = c("#CF222E", "#F87171")
		cyan    = c("#0969DA", "#67E8F9")
		barFg   = c("#1F1F1F", "#E5E5E5")
		barBg   = c("#E4E0F7", "#2E2650")
		plain   = lipgloss.NewStyle()
		border  = lipgloss.RoundedBorder()
		focused = lipgloss.ThickBorder()
	)

	s := Styles{
		Pane:        plain.Border(border).BorderForeground(subtle).Padding(0, 1),
		PaneFocused: plain.Border(focused).BorderForeground(accent).Padding(0, 1),
		Title:       plain.Bold(true).Foreground(accent),
		Badge:       plain.Bold(true).Foreground(yellow),

		StatusBar: plain.Foreground(barFg).Background(barBg),
		ConnOK:    plain.Foreground(green),
		ConnWarn:  plain.Bold(true).Foreground(yellow),
		ConnBad:   plain.Bold(true).Foreground(red),

		Host:      plain.Bold(true).Foreground(yellow),
		Name:      plain,
		SelfName:  plain.Bold(true),
		InSync:    plain.Foreground(green),
		OutOfSync: plain.Bold(true).Foreground(red),
		Warning:   plain.Foreground(yellow),
		Offline:   plain.Faint(true),
		Dim:       plain.Foreground(muted),

		Timestamp:  plain.Foreground(muted),
		Author:     plain.Bold(true).Foreground(cyan),
		SelfAuthor: plain.Bold(true).Foreground(accent),
		System:     plain.Italic(true).Foreground(muted),
		Error:      plain.Bold(true).Foreground(red),

		Help: help.Styles{
			ShortKey:       plain.Foreground(muted),
			ShortDesc:      plain.Foreground(subtle),
			ShortSeparator: plain.Foreground(subtle),
			Ellipsis:       plain.Foreground(subtle),
			FullKey:        plain.Foreground(muted),
			FullDesc:       plain.Foreground(subtle),
			FullSeparator:  plain.Foreground(subtle),
		},
	}
	if noColor {
		// Reverse video keeps the status bar distinct without colour.
		s.StatusBar = plain.Reverse(true)
		s.Help.ShortKey = plain.Bold(true)
		s.Help.FullKey = plain.Bold(true)
	}

	in := textinput.DefaultStyles(isDark)
	in.Focused.Prompt = plain.Bold(true).Foreground(accent)
	in.Blurred.Prompt = plain.Foreground(subtle)
	in.Focused.Placeholder = plain.Foreground(subtle)
	in.Blurred.Placeholder = plain.Foreground(subtle)
	in.Focused.Text = plain
	in.Blurred.Text = plain.Foreground(muted)
	in.Focused.Suggestion = plain.Foreground(subtle)
	in.Blurred.Suggestion = plain.Foreground(subtle)
	// The real terminal cursor blinks on its own; a virtual blinking cursor
	// would wake the program twice a second for nothing.
	in.Cursor.Blink = false
	in.Cursor.Color = accent
	if noColor {
		in.Cursor.Color = nil
		in.Focused.Placeholder = plain.Faint(true)
		in.Blurred.Placeholder = plain.Faint(true)
		in.Blurred.Text = plain
	}
	s.Input = in
	return s
}
