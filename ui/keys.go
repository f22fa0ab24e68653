package ui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the room screen answers to. It implements
// help.KeyMap so the help line is generated from the same bindings that
// Update matches, and cannot drift from them.
type KeyMap struct {
	Send      key.Binding
	NextFocus key.Binding
	PrevFocus key.Binding
	PageUp    key.Binding
	PageDown  key.Binding
	Up        key.Binding // only when the chat or members pane is focused
	Down      key.Binding
	Top       key.Binding
	Bottom    key.Binding
	Clear     key.Binding
	Quit      key.Binding
}

// DefaultKeyMap returns the bindings the help line documents.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Send:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "send")),
		NextFocus: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "focus")),
		PrevFocus: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "focus back")),
		PageUp:    key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup/pgdn", "scroll")),
		PageDown:  key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "scroll down")),
		Up:        key.NewBinding(key.WithKeys("up"), key.WithHelp("↑", "up")),
		Down:      key.NewBinding(key.WithKeys("down"), key.WithHelp("↓", "down")),
		Top:       key.NewBinding(key.WithKeys("home"), key.WithHelp("home", "oldest")),
		Bottom:    key.NewBinding(key.WithKeys("end"), key.WithHelp("end", "newest")),
		Clear:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear")),
		Quit:      key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	}
}

// ShortHelp is the one-line help under the input.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Send, k.NextFocus, k.PageUp, k.Quit}
}

// FullHelp groups every binding by what it acts on.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Send, k.Clear, k.Quit},
		{k.NextFocus, k.PrevFocus},
		{k.PageUp, k.PageDown, k.Up, k.Down, k.Top, k.Bottom},
	}
}
