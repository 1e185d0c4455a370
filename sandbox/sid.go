package sandbox

import (
	"crypto/rand"
	"encoding/hex"
)

// newSID returns a Twilio-style SID: a two-letter prefix and 32 hex digits.
func newSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func newIdempotencyToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
