package nhsnumber

import (
	"errors"
	"strconv"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{"9434765919", "9434765919", nil},
		{"943 476 5919", "9434765919", nil},
		{"943-476-5919", "9434765919", nil},
		{" 4010232137 ", "4010232137", nil},
		{"4010232138", "", ErrCheckDigit},
		{"9434765918", "", ErrCheckDigit},
		{"", "", ErrEmpty},
		{"   ", "", ErrEmpty},
		{"943476591", "", ErrLength},
		{"94347659190", "", ErrLength},
		{"94347659l9", "", ErrCharacter},
		{"+9434765919", "", ErrCharacter},
		// 123456789x: the remainder gives a check value of 10, never valid.
		{"1234567890", "", ErrCheckDigit},
		{"1234567891", "", ErrCheckDigit},
		// All zeros passes Modulus 11 arithmetically (check digit 0).
		{"0000000000", "0000000000", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheckDigitAgreesWithParse(t *testing.T) {
	for i := 100000000; i < 100002000; i++ {
		nine := strconv.Itoa(i)
		cd := CheckDigit(nine)
		for d := 0; d <= 9; d++ {
			full := nine + strconv.Itoa(d)
			if Valid(full) != (d == cd) {
				t.Fatalf("%s: Valid=%v, CheckDigit=%d", full, Valid(full), cd)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"9434765919", "943 476 5919", "", "x", "12345678901"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			return
		}
		if len(got) != 10 {
			t.Fatalf("Parse(%q) = %q: not 10 digits", s, got)
		}
		again, err := Parse(got)
		if err != nil || again != got {
			t.Fatalf("Parse is not idempotent for %q", s)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		_, _ = Parse("943 476 5919")
	}
}
