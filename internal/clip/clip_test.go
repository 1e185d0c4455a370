package clip

import (
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short", "hello", 10, "hello"},
		{"cut", "hello world", 5, "hello"},
		{"cut before a split character", "café au lait", 4, "caf"},
		{"whole character fits", "café", 5, "café"},
		{"invalid bytes", "ok \xff\xfe there", 100, "ok \uFFFD there"},
		{"NUL", "a\x00b", 100, "a\uFFFDb"},
		{"empty", "", 3, ""},
		{"zero", "abc", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Text(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Text(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if !utf8.ValidString(got) || len(got) > tt.max {
				t.Errorf("Text(%q, %d) = %q: invalid or too long", tt.in, tt.max, got)
			}
		})
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"", "café", "\xff\x00", "hello world"} {
		f.Add(s, 4)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		got := Text(s, max)
		if !utf8.ValidString(got) || len(got) > max {
			t.Fatalf("Text(%q, %d) = %q", s, max, got)
		}
		for _, r := range got {
			if r == 0 {
				t.Fatalf("NUL kept in %q", got)
			}
		}
	})
}
