package room

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// An oversized comment from a raw client is shortened, never split inside
// a character.
func TestCutUTF8KeepsCharactersWhole(t *testing.T) {
	s := strings.Repeat("é", MaxCommentLength) // two bytes each
	for _, n := range []int{MaxCommentLength, MaxCommentLength - 1, 1, 0} {
		got := cutUTF8(s, n)
		if len(got) > n || !utf8.ValidString(got) || len(got) < n-1 {
			t.Errorf("cut to %d: %d bytes, valid %v", n, len(got), utf8.ValidString(got))
		}
	}
	if cutUTF8("short", 100) != "short" {
		t.Error("a short string was changed")
	}
}
