package outreach_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/protectnow/protect/outreach"
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

// A team contact recorded after planning still holds the patient off: the
// attempt about to go out is put back to the time planning would have
// chosen, and nothing is sent. Without a recent contact it goes out.
func TestHoldOffAtSendTime(t *testing.T) {
	tests := []struct {
		name       string
		holdDays   int
		contactAgo time.Duration // 0: no contact
		wantHeld   bool
	}{
		{"contacted after planning", 14, time.Hour, true},
		{"contact older than the hold-off", 14, 20 * 24 * time.Hour, false},
		{"no contact", 14, 0, false},
		{"hold-off off", 0, time.Hour, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, nil)
			h.stopWorkers() // the test sends by hand, after recording the contact
			h.importCohort("late", []patient{{"9434765919", "Ada", "07700900104", ""}})
			pol := fmt.Appendf(nil, `{"steps":[{"channel":"sms","wait":"1h"}],"conversation_timeout":"1h","hold_off_days":%d}`, tc.holdDays)
			c := h.campaign("late-"+string(rune('a'+i)), "late", 10, pol)
			if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
				t.Fatal(err)
			}
			var attempt, ada int64
			if err := h.st.Pool().QueryRow(ctx, `SELECT id, patient_id FROM attempts WHERE campaign_id = $1`, c.ID).Scan(&attempt, &ada); err != nil {
				t.Fatal(err)
			}
			contacted := time.Now().Add(-tc.contactAgo)
			if tc.contactAgo > 0 {
				if _, err := h.st.RecordContact(ctx, store.Contact{PatientID: ada, Team: "council", Method: "phone",
					Outcome: "no_answer", Actor: "test", OccurredAt: contacted}); err != nil {
					t.Fatal(err)
				}
			}
			b, _ := json.Marshal(outreach.SendPayload{Attempt: attempt, Sender: sender, Channel: outreach.SMS})
			if err := h.engine.HandleSend(ctx, asynq.NewTask(outreach.TaskSend, b)); err != nil {
				t.Fatal(err)
			}
			var state string
			var due time.Time
			if err := h.st.Pool().QueryRow(ctx, `SELECT state, due_at FROM attempts WHERE id = $1`, attempt).Scan(&state, &due); err != nil {
				t.Fatal(err)
			}
			sent := h.sentTo("+447700900104")
			if tc.wantHeld {
				if state != "planned" || sent != 0 {
					t.Fatalf("held-off attempt: state %s, %d sent; want planned and nothing sent", state, sent)
				}
				if due.Before(contacted.AddDate(0, 0, tc.holdDays).Add(-time.Millisecond)) {
					t.Fatalf("put back only until %v, contact was %v", due, contacted)
				}
				return
			}
			if state == "planned" || sent != 1 {
				t.Fatalf("attempt not held off: state %s, %d sent; want it sent once", state, sent)
			}
		})
	}
}
