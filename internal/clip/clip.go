// Package clip makes text from outside (message bodies, error messages,
// names typed into a form) safe to store in PostgreSQL text and jsonb
// columns, and bounded in length.
package clip

import (
	"strings"
	"unicode/utf8"
)

// Text returns s as valid UTF-8 without NUL bytes (which PostgreSQL
// refuses in text: invalid sequences and NULs become U+FFFD), cut to at
// most max bytes at a character boundary.
func Text(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
