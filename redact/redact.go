// Package redact renders personal identifiers safe for logs. Logs never carry
// a phone number, name or NHS number in clear; they carry enough to tell two
// records apart when a person is debugging with the database at hand.
package redact

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
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
