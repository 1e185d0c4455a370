package templates

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrMissingValue is matched by a *MissingValuesError.
var ErrMissingValue = errors.New("missing placeholder value")

// MissingValuesError lists the placeholders Render had no value for.
type MissingValuesError struct {
	// Names are normalised, each once, in order of first use.
	Names []string
}

// Error implements error.
func (e *MissingValuesError) Error() string {
	return "no value for " + strings.Join(e.Names, ", ")
}

// Is reports whether target is ErrMissingValue.
func (e *MissingValuesError) Is(target error) bool { return target == ErrMissingValue }

// ErrAmbiguousValues is returned when two keys of a values map normalise
// to the same name with different values, e.g. "First Name" and
// "first_name".
var ErrAmbiguousValues = errors.New("two values for the same placeholder")

// Truthy reports whether a flag value shows optional text: "yes", "y",
// "true" or "1", ignoring case and surrounding spaces. Anything else,
// including "no", "false", "0" and "", hides it.
func Truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "y", "true", "1":
		return true
	}
	return false
}

// Render substitutes values into the body. Keys are matched as
// placeholder names are (case-insensitively, spaces, hyphens and
// underscores alike); keys the body does not use are ignored. Every
// placeholder and flag the body uses needs a value: if any is missing,
// Render returns a *MissingValuesError naming them all, and callers decide
// whether to hold the message. Values are inserted verbatim and never
// parsed, so a value cannot inject a further placeholder.
func (b *Body) Render(values map[string]string) (string, error) {
	vals, err := normaliseValues(values)
	if err != nil {
		return "", err
	}
	var missing []string
	seenMissing := make(map[string]bool)
	var sb strings.Builder
	for _, p := range b.parts {
		if p.Kind == PartText {
			sb.WriteString(p.Text)
			continue
		}
		v, ok := vals[p.Name]
		if !ok {
			if !seenMissing[p.Name] {
				seenMissing[p.Name] = true
				missing = append(missing, p.Name)
			}
			continue
		}
		switch p.Kind {
		case PartPlaceholder:
			sb.WriteString(v)
		case PartOptional:
			if Truthy(v) {
				sb.WriteString(p.Text)
			}
		}
	}
	if len(missing) > 0 {
		return "", &MissingValuesError{Names: missing}
	}
	return sb.String(), nil
}

// RenderVoice is Render for a script to be said in a TwiML <Say>: the
// result is passed through CleanSpeech. It is plain text, not XML: give it
// to twiml.VoiceSay{Message: ...}, which escapes it when the document is
// written.
func (b *Body) RenderVoice(values map[string]string) (string, error) {
	s, err := b.Render(values)
	if err != nil {
		return "", err
	}
	return CleanSpeech(s), nil
}

// CleanSpeech makes text safe and sensible to say in a TwiML <Say>:
//
//   - '<' and '>' become spaces, so nothing can be read as SSML or other
//     markup, whoever serialises the XML;
//   - control characters, format characters (zero-width and bidirectional
//     marks), private-use characters, non-characters and invalid UTF-8 are
//     removed: XML 1.0 forbids most of them and a voice cannot say them;
//   - line breaks, tabs and runs of white space become one space, and the
//     result is trimmed.
//
// It does not escape '&', quotes or anything else for XML; twilio-go's
// twiml package does that, and doing it twice would be heard.
func CleanSpeech(text string) string {
	var sb strings.Builder
	sb.Grow(len(text))
	space := false
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		i += w
		switch {
		case r == utf8.RuneError && w == 1:
			continue
		case r == '<' || r == '>' || unicode.IsSpace(r):
			space = sb.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r), isNonCharacter(r):
			continue
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

func isNonCharacter(r rune) bool {
	return (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE
}

// normaliseValues keys values by normalised name, dropping keys that are
// not valid names (they cannot match a placeholder).
func normaliseValues(values map[string]string) (map[string]string, error) {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic error messages
	out := make(map[string]string, len(values))
	from := make(map[string]string, len(values))
	for _, k := range keys {
		n, _, reason := normaliseName(k)
		if reason != "" {
			continue
		}
		if prev, dup := from[n]; dup && out[n] != values[k] {
			return nil, fmt.Errorf("%w: %q and %q both mean %s", ErrAmbiguousValues, prev, k, n)
		}
		out[n] = values[k]
		from[n] = k
	}
	return out, nil
}
