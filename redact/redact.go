// Package redact renders personal identifiers safe for logs. Logs never carry
// a phone number, name or NHS number in clear; they carry enough to tell two
// records apart when a person is debugging with the database at hand.
package redact

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Phone keeps the last three digits of a number: "+44•••••••456".
func Phone(e164 string) string {
	if len(e164) <= 3 {
		return "•••"
	}
	return "•••" + e164[len(e164)-3:]
}

// NHSNumber keeps a short one-way fingerprint, stable across log lines.
func NHSNumber(n string) string {
	if n == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("protect-nhs:" + n))
	return "nhs#" + hex.EncodeToString(sum[:4])
}

// PhoneAttr is a slog attribute holding a redacted phone number.
func PhoneAttr(key, e164 string) slog.Attr { return slog.String(key, Phone(e164)) }

// digitRun finds runs of digits, spaces and separators long enough to be a
// phone or NHS number.
var digitRun = regexp.MustCompile(`\+?\d[\d \-()]{8,}\d`)

// sid finds Twilio SIDs: a resource prefix and 32 hex digits.
var sid = regexp.MustCompile(`(?:AC|SM|MM|CA|MG|PN|QU)[0-9a-f]{32}`)

// Scrub masks anything in s that looks like a phone or NHS number. It is a
// safety net under the rule that code never logs them in the first place.
// Twilio SIDs (AC, SM, MM, CA, MG, PN, QU and 32 hex digits, not part of a
// longer word) are kept whole, so they can be looked up at Twilio.
func Scrub(s string) string {
	if len(s) < 10 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, loc := range sid.FindAllStringIndex(s, -1) {
		if (loc[0] > 0 && isWordByte(s[loc[0]-1])) || (loc[1] < len(s) && isWordByte(s[loc[1]])) {
			continue
		}
		b.WriteString(scrubNumbers(s[last:loc[0]]))
		b.WriteString(s[loc[0]:loc[1]])
		last = loc[1]
	}
	if last == 0 {
		return scrubNumbers(s)
	}
	b.WriteString(scrubNumbers(s[last:]))
	return b.String()
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// scrubNumbers masks number-like runs of ten digits or more, keeping the
// last three.
func scrubNumbers(s string) string {
	if len(s) < 10 {
		return s
	}
	return digitRun.ReplaceAllStringFunc(s, func(m string) string {
		digits := 0
		for _, c := range m {
			if c >= '0' && c <= '9' {
				digits++
			}
		}
		if digits < 10 {
			return m
		}
		return "•••" + m[len(m)-3:]
	})
}

// sensitiveKeys are attribute names whose values are personal by nature.
var sensitiveKeys = map[string]bool{
	"name": true, "given_name": true, "family_name": true, "body": true, "text": true,
	"phone": true, "mobile": true, "landline": true, "nhs_number": true, "from": true, "to": true,
}

// ReplaceAttr is a slog.HandlerOptions.ReplaceAttr that redacts attributes
// named like personal data and scrubs number-like runs from every value
// that can carry one: strings, errors, fmt.Stringers and any other value
// (structs, maps, slices), which are rendered to text first. Groups and
// LogValuers are resolved and their attributes treated alike. Numbers,
// booleans, times and durations pass unchanged.
func ReplaceAttr(groups []string, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, g := range attrs {
			out[i] = ReplaceAttr(append(groups, a.Key), g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindString, slog.KindAny:
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
	if sensitiveKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, "[redacted]")
	}
	return slog.String(a.Key, Scrub(render(v)))
}

// render turns a string or any value into the text a handler would print.
func render(v slog.Value) string {
	if v.Kind() == slog.KindString {
		return v.String()
	}
	switch x := v.Any().(type) {
	case nil:
		return "<nil>"
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	case []byte:
		return string(x)
	default:
		return fmt.Sprintf("%+v", x)
	}
}
