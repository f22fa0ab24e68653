package ui

import (
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/watchium/watchium-tui/room"
)

// inputModel is the line the person types chat and slash commands into.
type inputModel struct {
	common  *Common
	ti      textinput.Model
	w       int
	focused bool
}

const inputHeight = 3 // one line inside a border

func newInput(c *Common) inputModel {
	ti := textinput.New()
	ti.Prompt = "> "
	ti.Placeholder = "say something, or /help"
	// The terminal's own cursor needs no redraws to blink, unlike the
	// virtual one; Root places it with Cursor.
	ti.SetVirtualCursor(false)
	// Comments are capped in bytes; runes are a safe upper bound on those
	// only for ASCII, so the byte check happens again on send.
	ti.CharLimit = room.MaxCommentLength
	ti.SetStyles(c.Styles.Input)
	return inputModel{common: c, ti: ti}
}

func (m *inputModel) SetWidth(w int) {
	m.w = w
	innerW, _ := boxInner(m.common, w, inputHeight)
	// The field scrolls horizontally inside what is left after the prompt
	// and one cell for the cursor at the end.
	m.ti.SetWidth(max(1, innerW-cells(m.ti.Prompt)-1))
}

func (m *inputModel) Restyle() { m.ti.SetStyles(m.common.Styles.Input) }

func (m *inputModel) Focus() tea.Cmd {
	m.focused = true
	return m.ti.Focus()
}

func (m *inputModel) Blur() {
	m.focused = false
	m.ti.Blur()
}

func (m inputModel) Value() string      { return m.ti.Value() }
func (m *inputModel) SetValue(s string) { m.ti.SetValue(s); m.ti.CursorEnd() }
func (m *inputModel) Reset()            { m.ti.Reset() }

func (m inputModel) Update(msg tea.Msg) (inputModel, tea.Cmd) {
	var cmd tea.Cmd
	m.ti, cmd = m.ti.Update(msg)
	return m, cmd
}

func (m inputModel) View() string {
	return renderBox(m.common, []string{m.ti.View()}, m.w, inputHeight, m.focused)
}

// Cursor is the real cursor's position relative to the input box, or nil
// when the input is not focused.
func (m inputModel) Cursor() *tea.Cursor {
	c := m.ti.Cursor()
	if c == nil {
		return nil
	}
	st := m.common.Styles.PaneFocused
	c.X += st.GetBorderLeftSize() + st.GetPaddingLeft()
	c.Y += st.GetBorderTopSize() + st.GetPaddingTop()
	return c
}
