// Package redact renders personal identifiers safe for logs. Logs never carry
// a phone number, name or NHS number in clear; they carry enough to tell two
// records apart when a person is debugging with the database at hand.
package redact

import (
	"crypto/sha256"
	"encoding/hex"
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

// Scrub masks anything in s that looks like a phone or NHS number. It is a
// safety net under the rule that code never logs them in the first place.
func Scrub(s string) string {
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
// named like personal data and scrubs number-like runs from every string.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindString {
		return a
	}
	if sensitiveKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, "[redacted]")
	}
	return slog.String(a.Key, Scrub(a.Value.String()))
}
