package ui

import "strings"

// renderBox draws lines inside a pane border at exactly w×h cells: lines are
// fitted to the inner width and the inner height is filled or cut, so the
// layout arithmetic in Root can trust every pane's size.
func renderBox(c *Common, lines []string, w, h int, focused bool) string {
	st := c.Styles.Pane
	if focused {
		st = c.Styles.PaneFocused
	}
	innerW := w - st.GetHorizontalFrameSize()
	innerH := h - st.GetVerticalFrameSize()
	if innerW < 1 || innerH < 1 {
		return blank(w, h)
	}
	out := make([]string, innerH)
	for i := range out {
		if i < len(lines) {
			out[i] = fit(lines[i], innerW)
		} else {
			out[i] = strings.Repeat(" ", innerW)
		}
	}
	return st.Render(strings.Join(out, "\n"))
}

// boxInner is the content size renderBox leaves inside a w×h pane.
func boxInner(c *Common, w, h int) (int, int) {
	st := c.Styles.Pane
	return max(0, w-st.GetHorizontalFrameSize()), max(0, h-st.GetVerticalFrameSize())
}

func blank(w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	row := strings.Repeat(" ", w)
	rows := make([]string, h)
	for i := range rows {
		rows[i] = row
	}
	return strings.Join(rows, "\n")
}

// scrolledBox is a pane of w×h: its title with ↑/↓ badges when content
// scrolls, then the rows of content from offset that fit.
func scrolledBox(c *Common, title string, content []string, offset, w, h int, focused bool) string {
	_, innerH := boxInner(c, w, h)
	visible := max(0, innerH-1)
	var more []string
	if offset > 0 {
		more = append(more, "↑")
	}
	if offset+visible < len(content) {
		more = append(more, "↓ more")
	}
	head := c.Styles.Title.Render(title)
	if len(more) > 0 {
		head += " " + c.Styles.Badge.Render(strings.Join(more, " "))
	}
	lines := []string{head}
	if offset < len(content) {
		lines = append(lines, content[offset:min(len(content), offset+visible)]...)
	}
	return renderBox(c, lines, w, h, focused)
}
