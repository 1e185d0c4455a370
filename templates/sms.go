package templates

import (
	"strings"
	"unicode/utf8"
)

// Encoding is how an SMS is encoded on the air.
type Encoding string

// The two encodings carriers use for text.
const (
	// GSM7 is the GSM 03.38 7-bit default alphabet.
	GSM7 Encoding = "GSM-7"
	// UCS2 is 16-bit Unicode, used as soon as any character is outside
	// GSM-7. Characters outside the Basic Multilingual Plane (most emoji)
	// take two 16-bit units, as in UTF-16.
	UCS2 Encoding = "UCS-2"
)

// Fragment sizes in units (septets for GSM-7, 16-bit units for UCS-2). A
// message that needs more than one fragment loses room in each to the
// user data header that tells the phone how to join them.
const (
	GSM7Single = 160
	GSM7Multi  = 153
	UCS2Single = 70
	UCS2Multi  = 67
)

// UnicodeChar is one character that forced a message into UCS-2.
type UnicodeChar struct {
	// Rune is the character; U+FFFD for a byte that is not valid UTF-8.
	Rune rune
	// Offset is the byte offset of the character in the counted text.
	Offset int
	// Replacement is the suggested GSM-7 text, when HasReplacement is
	// true. An empty Replacement with HasReplacement true means "remove
	// it" (zero-width and other invisible characters).
	Replacement string
	// HasReplacement reports whether a replacement is suggested.
	HasReplacement bool
}

// SMSCount is the size of an SMS as carriers count it.
type SMSCount struct {
	// Encoding is GSM7 unless some character forces UCS2.
	Encoding Encoding
	// Characters is the number of Unicode code points.
	Characters int
	// Units is the size in the encoding's units: septets for GSM-7, where
	// the extension characters ^{}\[~]|€ (and form feed) count two;
	// 16-bit code units for UCS-2.
	Units int
	// Fragments is how many SMS parts the message is sent as; 0 for an
	// empty message.
	Fragments int
	// PerFragment is the capacity of each part: 160 or 153 for GSM-7, 70
	// or 67 for UCS-2, depending on whether the message is split.
	PerFragment int
	// Remaining is how many units are left in the last part before
	// another part is needed.
	Remaining int
	// UnicodeChars lists, in order, every occurrence of a character that
	// is not in GSM-7; it is empty exactly when Encoding is GSM7.
	UnicodeChars []UnicodeChar
}

// CountSMS measures text as an SMS.
//
// Parts are filled as carriers fill them: a two-septet GSM-7 extension
// character or a two-unit UCS-2 surrogate pair is never split between
// parts, so a part may carry one unit less than its capacity. Invalid UTF-8
// bytes count as U+FFFD, which forces UCS-2.
func CountSMS(text string) SMSCount {
	c := SMSCount{Encoding: GSM7}
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		c.Characters++
		if gsmSeptets(r) == 0 {
			c.Encoding = UCS2
			u := UnicodeChar{Rune: r, Offset: i}
			u.Replacement, u.HasReplacement = gsmReplacement(r)
			c.UnicodeChars = append(c.UnicodeChars, u)
		}
		i += w
	}

	single, multi := GSM7Single, GSM7Multi
	if c.Encoding == UCS2 {
		single, multi = UCS2Single, UCS2Multi
	}
	size := func(r rune) int {
		if c.Encoding == GSM7 {
			return gsmSeptets(r)
		}
		if r > 0xFFFF {
			return 2
		}
		return 1
	}
	for _, r := range text {
		c.Units += size(r)
	}

	switch {
	case c.Units == 0:
		c.PerFragment, c.Remaining = single, single
	case c.Units <= single:
		c.Fragments, c.PerFragment, c.Remaining = 1, single, single-c.Units
	default:
		c.Fragments, c.PerFragment = 1, multi
		used := 0
		for _, r := range text {
			n := size(r)
			if used+n > multi {
				c.Fragments++
				used = 0
			}
			used += n
		}
		c.Remaining = multi - used
	}
	return c
}

// ToGSM replaces every character that has a GSM-7 replacement (smart
// quotes, long dashes, ellipsis, unusual spaces, invisible characters; see
// UnicodeChar) and leaves everything else as it is. If the result still
// needs UCS-2, CountSMS on it lists the characters that have no
// replacement.
func ToGSM(text string) string {
	var sb strings.Builder
	sb.Grow(len(text))
	for _, r := range text {
		if gsmSeptets(r) == 0 {
			if rep, ok := gsmReplacement(r); ok {
				sb.WriteString(rep)
				continue
			}
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
