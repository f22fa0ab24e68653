package ui

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"
)

// sanitizeText makes text from other people safe to draw: their names and
// messages come off the network, and an embedded escape sequence could
// otherwise move the cursor, retitle the window or recolour the screen.
// Newlines survive so multi-line messages can be wrapped line by line.
func sanitizeText(s string) string {
	s = ansi.Strip(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune('\n')
		case r == '\t':
			b.WriteString("    ")
		case r == '\r':
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		case unicode.Is(unicode.Cf, r) && r != '\u200d':
			// Bidi overrides and other invisible format runes make a line
			// render differently from how it measures; ZWJ stays so emoji
			// sequences keep their meaning.
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sanitizeLine is sanitizeText for things that must stay on one line:
// names, room ids, reasons.
func sanitizeLine(s string) string {
	return strings.Join(strings.Fields(sanitizeText(s)), " ")
}

// fit truncates s to w cells with an ellipsis and pads it with spaces to
// exactly w, so boxes built from fitted lines have a known width.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	if pad := w - ansi.StringWidth(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

// truncate shortens s to at most w cells, marking the cut with an ellipsis.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// cells is the display width of s, ANSI-aware and wide-rune aware; layout
// code measures with it and never with len.
func cells(s string) int { return ansi.StringWidth(s) }
