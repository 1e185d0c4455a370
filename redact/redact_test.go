package redact

import (
	"strings"
	"testing"
)

func TestPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+447911123456", "•••456"},
		{"12", "•••"},
		{"", "•••"},
	}
	for _, tt := range tests {
		if got := Phone(tt.in); got != tt.want {
			t.Errorf("Phone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNHSNumberHidesDigits(t *testing.T) {
	got := NHSNumber("9434765919")
	if strings.Contains(got, "943") || got != NHSNumber("9434765919") || got == NHSNumber("4010232137") {
		t.Fatalf("NHSNumber fingerprint not opaque and stable: %q", got)
	}
}
