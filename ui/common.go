package ui

import "time"

// Common is the state every pane reads: size, theme and keys. Root owns it
// and mutates it only inside Update; panes hold the same pointer so a theme
// or size change reaches all of them without fan-out messages.
type Common struct {
	Width, Height int

	// IsDark comes from tea.BackgroundColorMsg; until the terminal answers we
	// assume dark, the more common case for terminal users.
	IsDark bool
	// NoColor drops every colour but keeps text markers, bold and reverse,
	// so the screen stays readable under NO_COLOR.
	NoColor bool

	Styles Styles
	Keys   KeyMap

	// Now is the clock; tests pin it so timestamps and goldens are stable.
	Now func() time.Time
}

func newCommon(noColor bool, now func() time.Time) *Common {
	if now == nil {
		now = time.Now
	}
	c := &Common{IsDark: true, NoColor: noColor, Keys: DefaultKeyMap(), Now: now}
	c.Styles = NewStyles(c.IsDark, c.NoColor)
	return c
}

// setDark rebuilds styles for a new background and reports whether anything
// changed, so callers can skip re-rendering cached lines.
func (c *Common) setDark(isDark bool) bool {
	if c.IsDark == isDark {
		return false
	}
	c.IsDark = isDark
	c.Styles = NewStyles(c.IsDark, c.NoColor)
	return true
}
