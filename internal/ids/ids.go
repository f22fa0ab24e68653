// Package ids makes the random identifiers the project stores and sends:
// UUIDv4 strings, the id format Supabase tables use.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// New returns a random UUIDv4 string.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// FromContent returns a UUID-shaped id that is the same for the same parts,
// for messages that arrive without an id and may arrive twice.
func FromContent(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	b := h.Sum(nil)
	b[6] = (b[6] & 0x0f) | 0x50 // version 5 shape: name-based
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
