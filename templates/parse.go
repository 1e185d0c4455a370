package templates

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNameLength is the longest placeholder name accepted, in bytes (names
// are ASCII, so also in characters).
const MaxNameLength = 50

// ErrSyntax is matched (with errors.Is) by every *ParseError.
var ErrSyntax = errors.New("template syntax error")

// ParseError reports why a body could not be parsed and where.
type ParseError struct {
	// Offset is the byte offset in the body where the problem was found.
	Offset int
	// Line and Column are 1-based; Column counts characters, not bytes, so
	// it matches what an editor shows.
	Line, Column int
	// Reason is a plain-English explanation for a comms lead.
	Reason string
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Reason)
}

// Is reports whether target is ErrSyntax.
func (e *ParseError) Is(target error) bool { return target == ErrSyntax }

// PartKind says what a Part of a body is.
type PartKind int

const (
	// PartText is literal text, shown as written.
	PartText PartKind = iota
	// PartPlaceholder is ((name)), replaced by the value of name.
	PartPlaceholder
	// PartOptional is ((flag??text)): text shown only when flag is true.
	PartOptional
)

// String returns a short name for the kind, for messages and tests.
func (k PartKind) String() string {
	switch k {
	case PartText:
		return "text"
	case PartPlaceholder:
		return "placeholder"
	case PartOptional:
		return "optional"
	}
	return fmt.Sprintf("PartKind(%d)", int(k))
}

// Part is one piece of a parsed body.
type Part struct {
	// Kind says which of the fields below are used.
	Kind PartKind
	// Name is the normalised placeholder or flag name; empty for PartText.
	Name string
	// Text is the literal text (PartText) or the optional text
	// (PartOptional); empty for PartPlaceholder.
	Text string
	// Offset is the byte offset of the part in the source body.
	Offset int
}

// Body is a parsed template body. It is immutable once parsed.
type Body struct {
	source string
	parts  []Part
}

// Parts returns a copy of the body's parts in order. Adjacent literal text
// is always merged into one PartText.
func (b *Body) Parts() []Part {
	return append([]Part(nil), b.parts...)
}

// Source returns the body exactly as it was given to Parse.
func (b *Body) Source() string { return b.source }

// Placeholders returns the normalised names the body uses, placeholders and
// flags alike, each once, in order of first use.
func (b *Body) Placeholders() []string {
	var names []string
	seen := make(map[string]bool)
	for _, p := range b.parts {
		if p.Kind == PartText || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		names = append(names, p.Name)
	}
	return names
}

// String returns the body in canonical form: the same parts, with every
// name written in its normalised form. Parse(b.String()) yields the same
// parts as b (offsets aside).
func (b *Body) String() string {
	var sb strings.Builder
	for _, p := range b.parts {
		switch p.Kind {
		case PartText:
			sb.WriteString(p.Text)
		case PartPlaceholder:
			sb.WriteString("((" + p.Name + "))")
		case PartOptional:
			sb.WriteString("((" + p.Name + "??" + p.Text + "))")
		}
	}
	return sb.String()
}

// Parse splits a template body into literal text, placeholders and
// optional text. It returns a *ParseError for the first problem found.
// See the package documentation for the syntax rules.
func Parse(body string) (*Body, error) {
	if !utf8.ValidString(body) {
		off := firstInvalidUTF8(body)
		return nil, newParseError(body, off, "the text contains bytes that are not valid UTF-8; retype or re-paste it")
	}
	b := &Body{source: body}
	var lit strings.Builder
	litStart := 0
	flush := func() {
		if lit.Len() > 0 {
			b.parts = append(b.parts, Part{Kind: PartText, Text: lit.String(), Offset: litStart})
			lit.Reset()
		}
	}
	i := 0
	for i < len(body) {
		j := strings.Index(body[i:], "((")
		if j < 0 {
			if lit.Len() == 0 {
				litStart = i
			}
			lit.WriteString(body[i:])
			break
		}
		// Open at the last two of a run of "(" so "(((name)))" keeps its
		// outer brackets as text.
		open := i + j
		for open+2 < len(body) && body[open+2] == '(' {
			open++
		}
		if open > i {
			if lit.Len() == 0 {
				litStart = i
			}
			lit.WriteString(body[i:open])
		}
		part, end, err := parsePlaceholder(body, open)
		if err != nil {
			return nil, err
		}
		flush()
		b.parts = append(b.parts, part)
		i = end
	}
	flush()
	return b, nil
}

// parsePlaceholder parses the placeholder whose "((" starts at open and
// returns it with the offset just past its closing "))".
func parsePlaceholder(body string, open int) (Part, int, error) {
	start := open + 2
	c := strings.Index(body[start:], "))")
	if c < 0 {
		if n := strings.Index(body[start:], "(("); n >= 0 {
			return Part{}, 0, newParseError(body, start+n, fmt.Sprintf(
				"placeholders cannot be nested: found (( inside the placeholder opened at %s; is a )) missing?",
				position(body, open)))
		}
		return Part{}, 0, newParseError(body, open, "(( is never closed: add )) after the placeholder name")
	}
	closeAt := start + c
	inner := body[start:closeAt]
	if n := strings.Index(inner, "(("); n >= 0 {
		return Part{}, 0, newParseError(body, start+n, fmt.Sprintf(
			"placeholders cannot be nested: found (( inside the placeholder opened at %s; is a )) missing?",
			position(body, open)))
	}
	q := strings.Index(inner, "??")
	if q < 0 {
		name, off, reason := normaliseName(inner)
		if reason != "" {
			return Part{}, 0, newParseError(body, nameErrorOffset(open, start, off), reason)
		}
		return Part{Kind: PartPlaceholder, Name: name, Offset: open}, closeAt + 2, nil
	}
	// Optional text may end with ")": close at the last two of a run of ")".
	for closeAt+2 < len(body) && body[closeAt+2] == ')' {
		closeAt++
	}
	name, off, reason := normaliseName(inner[:q])
	if reason != "" {
		if inner[:q] == "" || strings.TrimSpace(inner[:q]) == "" {
			reason = "optional text needs a yes/no flag name before ??, as in ((flag??text))"
		}
		return Part{}, 0, newParseError(body, nameErrorOffset(open, start, off), reason)
	}
	text := body[start+q+2 : closeAt]
	return Part{Kind: PartOptional, Name: name, Text: text, Offset: open}, closeAt + 2, nil
}

// NormaliseName returns the canonical form of a placeholder name (see the
// package documentation), or a *ParseError explaining why it is not a
// valid name; the error's position is within name.
func NormaliseName(name string) (string, error) {
	n, off, reason := normaliseName(name)
	if reason != "" {
		return "", newParseError(name, max(off, 0), reason)
	}
	return n, nil
}

// nameErrorOffset points a name error at the offending character, or at
// the opening "((" when the problem is with the name as a whole.
func nameErrorOffset(open, nameStart, off int) int {
	if off < 0 {
		return open
	}
	return nameStart + off
}

// normaliseName returns the normalised name, or a reason and the byte
// offset within raw of the offending character (-1 when the problem is
// with the whole name).
func normaliseName(raw string) (string, int, string) {
	var sb strings.Builder
	pendingSep := false
	for i, r := range raw {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		case r == ' ' || r == '-' || r == '_':
			pendingSep = sb.Len() > 0
			continue
		case r == '\n' || r == '\r':
			return "", i, "a placeholder name cannot contain a line break; is a )) missing?"
		case r == ')' || r == '(':
			return "", i, fmt.Sprintf("%q cannot be used in a placeholder name; is a bracket missing or extra?", r)
		default:
			return "", i, fmt.Sprintf("%s cannot be used in a placeholder name: use letters, digits, spaces, hyphens or underscores", describeRune(r))
		}
		if sb.Len() == 0 && r >= '0' && r <= '9' {
			return "", i, "a placeholder name must start with a letter"
		}
		if pendingSep {
			sb.WriteByte('_')
			pendingSep = false
		}
		sb.WriteRune(r)
	}
	if sb.Len() == 0 {
		return "", -1, "the placeholder has no name: write a name between (( and ))"
	}
	if sb.Len() > MaxNameLength {
		return "", -1, fmt.Sprintf("a placeholder name can be at most %d characters long", MaxNameLength)
	}
	return sb.String(), 0, ""
}

// describeRune names a character for an error message, making invisible
// and control characters visible.
func describeRune(r rune) string {
	if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
		return fmt.Sprintf("the control character %U", r)
	}
	return fmt.Sprintf("%q (%U)", r, r)
}

func newParseError(body string, offset int, reason string) *ParseError {
	line, col := lineCol(body, offset)
	return &ParseError{Offset: offset, Line: line, Column: col, Reason: reason}
}

// lineCol converts a byte offset to a 1-based line and character column.
func lineCol(s string, offset int) (int, int) {
	if offset > len(s) {
		offset = len(s)
	}
	line, col := 1, 1
	for _, r := range s[:offset] {
		if r == '\n' {
			line++
			col = 1
			continue
		}
		col++
	}
	return line, col
}

func position(s string, offset int) string {
	line, col := lineCol(s, offset)
	return fmt.Sprintf("line %d, column %d", line, col)
}

func firstInvalidUTF8(s string) int {
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			return i
		}
		i += w
	}
	return len(s)
}
