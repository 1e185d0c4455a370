package redact

import (
	"log/slog"
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

func TestScrub(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dial +447911123456 failed", "dial •••456 failed"},
		{"nhs 943 476 5919 seen", "nhs •••919 seen"},
		{"attempt 12345 of campaign 7", "attempt 12345 of campaign 7"},
		{"short", "short"},
	}
	for _, tt := range tests {
		if got := Scrub(tt.in); got != tt.want {
			t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReplaceAttr(t *testing.T) {
	if a := ReplaceAttr(nil, slog.String("To", "+447911123456")); a.Value.String() != "[redacted]" {
		t.Fatalf("To not redacted: %v", a)
	}
	if a := ReplaceAttr(nil, slog.String("error", "bad number +447911123456")); strings.Contains(a.Value.String(), "7911123") {
		t.Fatalf("error not scrubbed: %v", a)
	}
	if a := ReplaceAttr(nil, slog.Int("attempt", 5)); a.Value.Int64() != 5 {
		t.Fatal("ints must pass")
	}
}
