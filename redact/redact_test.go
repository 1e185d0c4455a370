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

func TestScrubKeepsSIDs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"call CAf95d1234567890123abc45678900950b failed", "call CAf95d1234567890123abc45678900950b failed"},
		{"MG0123456789abcdef0123456789abcdef,PN01234567890123456789012345678901", "MG0123456789abcdef0123456789abcdef,PN01234567890123456789012345678901"},
		// Not a SID: part of a longer word, so its digits are scrubbed.
		{"xSM01234567890123456789012345678901", "xSM•••901"},
		{"to +447911123456 sid SM0123456789abcdef0123456789abcdef", "to •••456 sid SM0123456789abcdef0123456789abcdef"},
	}
	for _, tt := range tests {
		if got := Scrub(tt.in); got != tt.want {
			t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzScrub checks that whatever the input, Scrub leaves no run of ten
// digits (spaces, dashes and brackets between them allowed) outside a
// Twilio SID, and keeps every SID that stands alone.
func FuzzScrub(f *testing.F) {
	for _, s := range []string{"dial +447911123456 failed", "nhs 943 476 5919", "07911 123456", "(01603) 123-4567",
		"CAf95d1234567890123abc45678900950b", "xSM01234567890123456789012345678901 +44 7911 123456", "1234567890123456789012345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Scrub(s)
		rest := sid.ReplaceAllString(out, " ")
		digits, inRun := 0, false
		for i := 0; i < len(rest); i++ {
			c := rest[i]
			switch {
			case c >= '0' && c <= '9':
				digits++
				inRun = true
			case inRun && (c == ' ' || c == '-' || c == '(' || c == ')'):
			default:
				digits, inRun = 0, false
			}
			if digits >= 10 {
				t.Fatalf("Scrub(%q) = %q: ten digits in clear", s, out)
			}
		}
		for _, loc := range sid.FindAllStringIndex(s, -1) {
			if (loc[0] == 0 || !isWordByte(s[loc[0]-1])) && (loc[1] == len(s) || !isWordByte(s[loc[1]])) &&
				!strings.Contains(out, s[loc[0]:loc[1]]) {
				t.Fatalf("Scrub(%q) = %q: SID %s lost", s, out, s[loc[0]:loc[1]])
			}
		}
	})
}
