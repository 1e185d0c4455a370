package main

import (
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/store"
)

// TestCoverageWarning: campaign create and start warn when a campaign may
// run past the last year whose bank holidays are known.
func TestCoverageWarning(t *testing.T) {
	policy := []byte(`{"steps":[{"channel":"sms","wait":"48h"},{"channel":"sms","wait":"48h"}]}`)
	tests := []struct {
		name   string
		window string
		now    time.Time
		warn   bool
	}{
		{"default window, well inside", `{}`, time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC), false},
		{"default window, runs into 2029", `{}`, time.Date(2028, 12, 20, 10, 0, 0, 0, time.UTC), true},
		{"after the list ends", `{}`, time.Date(2031, 5, 1, 10, 0, 0, 0, time.UTC), true},
		{"bank holidays off", `{"bank_holidays":"none"}`, time.Date(2031, 5, 1, 10, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := store.Campaign{Name: "c", Window: []byte(tt.window), Policy: policy}
			var out strings.Builder
			warnCoverage(&out, c, tt.now)
			if (out.Len() > 0) != tt.warn || tt.warn && !strings.Contains(out.String(), "refresh-bank-holidays.sh") {
				t.Fatalf("warning = %q, want one: %v", out.String(), tt.warn)
			}
		})
	}
}
