package outreach_test

import (
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
)

// TestCoverageWarning: a campaign that may run past the last year whose
// bank holidays are known is warned about, wherever it is shown.
func TestCoverageWarning(t *testing.T) {
	policy := []byte(`{"steps":[{"channel":"sms","wait":"48h"},{"channel":"sms","wait":"48h"}],"conversation_timeout":"24h"}`)
	tests := []struct {
		name   string
		window string
		state  string
		now    time.Time
		warn   bool
	}{
		{"default window, well inside", `{}`, store.CampaignDraft, time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC), false},
		{"default window, runs into 2029", `{}`, store.CampaignDraft, time.Date(2028, 12, 20, 10, 0, 0, 0, time.UTC), true},
		{"the policy's waits count", `{}`, store.CampaignRunning, time.Date(2028, 12, 14, 10, 0, 0, 0, time.UTC), true},
		{"after the list ends", `{}`, store.CampaignPaused, time.Date(2031, 5, 1, 10, 0, 0, 0, time.UTC), true},
		{"bank holidays off", `{"bank_holidays":"none"}`, store.CampaignDraft, time.Date(2031, 5, 1, 10, 0, 0, 0, time.UTC), false},
		{"a cancelled campaign", `{}`, store.CampaignCancelled, time.Date(2031, 5, 1, 10, 0, 0, 0, time.UTC), false},
		{"a completed campaign", `{}`, store.CampaignCompleted, time.Date(2031, 5, 1, 10, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := store.Campaign{Name: "c", State: tt.state, Window: []byte(tt.window), Policy: policy}
			got := outreach.CoverageWarning(c, tt.now)
			if (got != "") != tt.warn || tt.warn && !strings.Contains(got, "refresh-bank-holidays.sh") {
				t.Fatalf("warning = %q, want one: %v", got, tt.warn)
			}
		})
	}
}
