package outreach_test

import (
	"context"
	"testing"
	"time"

	"github.com/protectnow/protect/store"
)

// A campaign set to hold off patients another team contacted recently
// plans their first attempt after the hold-off; everyone else as usual.
func TestHoldOffRecentlyContacted(t *testing.T) {
	tests := []struct {
		name       string
		policy     string
		contactAgo time.Duration
		wantHeld   bool
	}{
		{"contacted 2 days ago, hold 14", `"hold_off_days":14`, 48 * time.Hour, true},
		{"contacted 20 days ago, hold 14", `"hold_off_days":14`, 20 * 24 * time.Hour, false},
		{"no hold-off", `"hold_off_days":0`, time.Hour, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.importCohort("held", []patient{{"9434765919", "Ada", "07700900104", ""}, {"9434765870", "Bob", "07700900114", ""}})
			var ada int64
			if err := h.st.Pool().QueryRow(context.Background(), `SELECT id FROM patients WHERE nhs_number = '9434765919'`).Scan(&ada); err != nil {
				t.Fatal(err)
			}
			contacted := time.Now().Add(-tc.contactAgo)
			if _, err := h.st.RecordContact(context.Background(), store.Contact{PatientID: ada, Team: "council", Method: "phone",
				Outcome: "spoke", Actor: "test", OccurredAt: contacted}); err != nil {
				t.Fatal(err)
			}
			pol := []byte(`{"steps":[{"channel":"sms","wait":"1h"}],"conversation_timeout":"1h",` + tc.policy + `}`)
			c := h.campaign("held-"+string(rune('a'+i)), "held", 10, pol)
			if _, err := h.engine.Start(context.Background(), c.ID, "test"); err != nil {
				t.Fatal(err)
			}
			var adaDue, bobDue time.Time
			if err := h.st.Pool().QueryRow(context.Background(), `SELECT
					max(due_at) FILTER (WHERE patient_id = $1), max(due_at) FILTER (WHERE patient_id <> $1) FROM attempts`, ada).
				Scan(&adaDue, &bobDue); err != nil {
				t.Fatal(err)
			}
			if bobDue.After(time.Now().Add(time.Minute)) {
				t.Fatalf("a patient nobody contacted was held off until %v", bobDue)
			}
			held := adaDue.After(time.Now().Add(time.Hour))
			if held != tc.wantHeld {
				t.Fatalf("held %v (first attempt %v), want %v", held, adaDue, tc.wantHeld)
			}
			if held && adaDue.Before(contacted.AddDate(0, 0, 14).Add(-time.Millisecond)) {
				t.Fatalf("held only until %v, contact was %v", adaDue, contacted)
			}
		})
	}
}
