package outreach_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/sandbox"
	"github.com/protectnow/protect/store"
)

// attemptTexts are the attempt messages the sandbox received for a
// number, in order.
func (h *harness) attemptTexts(number string) []string {
	var out []string
	for _, m := range h.sb.Messages() {
		if m.To == number && m.Direction == sandbox.DirectionOutboundAPI {
			out = append(out, m.Body)
		}
	}
	return out
}

// refusedCallbacks counts the status callbacks the gateway did not accept.
func (h *harness) refusedCallbacks() int {
	n := 0
	for _, w := range h.sb.Webhooks() {
		if strings.Contains(w.URL, "/status") && w.StatusCode >= 300 {
			n++
		}
	}
	return n
}

// Twilio creates the message and its answer is lost (a 502 from a proxy):
// the retry finds the message instead of sending another, and the
// patient's one text is the introduction, whenever the callbacks come.
func TestLostResponseSendsTheIntroductionOnce(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
	}{
		{"callbacks at once", 2 * time.Millisecond},
		{"callbacks late", 1500 * time.Millisecond},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *sandbox.Config) { c.CallbackDelay = tt.delay })
			ctx := context.Background()
			number := testNumber(504 + 10*i)
			h.importCohort("lost", []patient{{nhs(500 + i), "Lost", number, ""}})
			c := h.campaign("lost", "lost", 50, fastPolicy)
			h.sb.LoseNextResponses(1, http.StatusBadGateway)
			if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
				t.Fatal(err)
			}
			h.eventually("attempt recorded as sent", func() bool {
				return h.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1 AND provider_sid IS NOT NULL
					AND state IN ('sent', 'delivered')`, c.ID) == 1
			})
			time.Sleep(tt.delay + 500*time.Millisecond)
			texts := h.attemptTexts(number)
			if len(texts) != 1 {
				t.Fatalf("patient got %d texts, want 1: %q", len(texts), texts)
			}
			if !strings.HasPrefix(texts[0], "Hello Lost") {
				t.Fatalf("the one text is not the introduction: %q", texts[0])
			}
			if n := h.refusedCallbacks(); n != 0 {
				t.Fatalf("%d status callbacks refused", n)
			}
			if got := h.count(`SELECT count(*) FROM campaign_patients WHERE campaign_id = $1 AND state = 'contacting' AND wait_until > now()`, c.ID); got != 1 {
				t.Fatalf("journey is not waiting for the answer: %d", got)
			}
		})
	}
}

// A worker dies after claiming step 1 and storing its message, before
// Twilio: however long it is gone, the journey does not move on, and
// once the lease runs out another worker sends step 1; step 2 follows its
// wait. Each exactly once, in order.
func TestWorkerDiesBeforeSendingTwoSteps(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	number := testNumber(604)
	h.importCohort("dies2", []patient{{nhs(600), "Twostep", number, ""}})
	attemptID := h.startAlone(h.campaign("dies2", "dies2", 50, fastPolicy))
	w, res, err := h.st.ClaimAttempt(ctx, attemptID, time.Minute)
	if err != nil || res != store.Claimed {
		t.Fatalf("claim: %v %v", res, err)
	}
	dieBeforeTwilio(t, h, w)
	// Long after the step's wait would have ended had it started at the
	// claim, the sweeper still leaves the patient alone.
	h.exec(`UPDATE campaign_patients SET wait_until = now() - interval '1 second' WHERE state IN ('contacting', 'pending')`)
	for range 3 {
		if err := h.engine.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.count(`SELECT count(*) FROM attempts WHERE patient_id = (SELECT patient_id FROM attempts WHERE id = $1)`, attemptID); got != 1 {
		t.Fatalf("journey moved on while step 1 was in flight: %d attempts", got)
	}
	// The lease runs out; a new worker comes up and sends step 1.
	h.exec(`UPDATE attempts SET lease_until = now() - interval '1 second' WHERE id = $1`, attemptID)
	restart(t, h)
	h.eventually("step 1 sent", func() bool {
		return h.count(`SELECT count(*) FROM attempts WHERE id = $1 AND state IN ('sent', 'delivered')`, attemptID) == 1
	})
	h.exec(`UPDATE campaign_patients SET wait_until = now() - interval '1 second' WHERE state = 'contacting'`)
	h.eventually("step 2 sent", func() bool {
		return h.count(`SELECT count(*) FROM attempts WHERE step = 2 AND state IN ('sent', 'delivered')`) == 1
	})
	time.Sleep(300 * time.Millisecond)
	texts := h.attemptTexts(number)
	if len(texts) != 2 || !strings.HasPrefix(texts[0], "Hello Twostep") || !strings.Contains(texts[1], "again") {
		t.Fatalf("want the introduction then one reminder, got %q", texts)
	}
	if got := h.count(`SELECT count(*) FROM attempts WHERE state IN ('sending', 'retry', 'failed')`); got != 0 {
		t.Fatalf("%d attempts left unsettled or failed", got)
	}
}

// A wrong credential (Twilio's 20003) holds the sender: no attempt fails,
// no patient moves on, and sending resumes by itself once a probe
// succeeds; the hold and the resumption are audited.
func TestWrongCredentialHoldsTheSender(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	var ps []patient
	for i := range 3 {
		ps = append(ps, patient{nhs(700 + i), "Held", testNumber(704 + 10*i), ""})
	}
	h.importCohort("held", ps)
	c := h.campaign("held", "held", 50, fastPolicy)
	h.sb.FailAll(http.StatusUnauthorized)
	if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	h.eventually("sender held", func() bool { return h.count(`SELECT count(*) FROM sender_holds WHERE sender = $1`, sender) == 1 })
	h.heldFor(t, time.Second, c.ID, len(ps), "'planned', 'queued'")
	// The credential is fixed: the next probe resumes sending.
	h.sb.FailAll(0)
	h.exec(`UPDATE sender_holds SET probe_at = now()`)
	if err := h.engine.ProbeHolds(ctx); err != nil {
		t.Fatal(err)
	}
	h.eventually("everyone texted", func() bool {
		return h.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1 AND state IN ('sent', 'delivered')`, c.ID) == len(ps)
	})
	time.Sleep(200 * time.Millisecond)
	for _, p := range ps {
		if texts := h.attemptTexts(p.mobile); len(texts) != 1 || !strings.HasPrefix(texts[0], "Hello Held") {
			t.Errorf("%s got %q", p.mobile, texts)
		}
	}
	for _, action := range []string{"sender.hold", "sender.resume"} {
		if got := h.count(`SELECT count(*) FROM audit_log WHERE action = $1 AND subject_id = $2`, action, sender); got != 1 {
			t.Errorf("audit %s: %d entries", action, got)
		}
	}
}

// dieBeforeTwilio does what a worker does with a claimed first attempt up
// to the call to Twilio (render and store the introduction, make the
// journey findable), and then nothing: it died.
func dieBeforeTwilio(t *testing.T, h *harness, w store.Work) {
	t.Helper()
	qn, err := questionnaire.Load("wellbeing.yaml", questionnaire.DefaultYAML(), questionnaire.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	state, _ := qn.Begin()
	conv, _ := json.Marshal(state)
	body := "Hello " + w.GivenName + ", this is your GP practice. Please answer a few short questions. Reply STOP to opt out.\n\nAre you OK? Reply 1 for yes or 2 for no."
	ok, err := h.st.PrepareAttempt(context.Background(), store.Prepared{AttemptID: w.AttemptID, ClaimedAt: w.ClaimedAt,
		Body: body, Conversation: conv, From: w.Sender, Wait: time.Hour})
	if err != nil || !ok {
		t.Fatalf("prepare: %v %v", ok, err)
	}
}

// A task the queue still holds for an attempt (a killed worker's, until
// the queue's recoverer notices; or one archived after its retries) does
// not hold the attempt back: the reconciler hands it over again under a
// new task ID, once per period whoever asks, and the patient is texted
// once.
func TestLostTaskDoesNotHoldTheAttempt(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	number := testNumber(731)
	h.importCohort("lost", []patient{{nhs(731), "Lost", number, ""}})
	c := h.campaign("lost", "lost", 50, fastPolicy)
	attemptID := h.startAlone(c)
	if err := h.engine.Dispatch(ctx); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(h.rdb)
	first := fmt.Sprintf("attempt:%d", attemptID)
	if err := insp.ArchiveTask(outreach.QueueSMS, first); err != nil {
		t.Fatalf("archive the dispatcher's task: %v", err)
	}
	h.exec(`UPDATE attempts SET queued_at = now() - interval '1 hour' WHERE id = $1`, attemptID)
	for range 3 { // three workers' reconcilers in the same period
		if err := h.engine.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	info, err := insp.GetTaskInfo(outreach.QueueSMS, first+"/1")
	if err != nil {
		t.Fatalf("no new task for the attempt: %v", err)
	}
	if _, err := insp.GetTaskInfo(outreach.QueueSMS, first+"/2"); err == nil {
		t.Fatal("two reconcilers handed the attempt over in the same period")
	}
	if h.count(`SELECT requeues FROM attempts WHERE id = $1`, attemptID) != 1 {
		t.Fatal("requeues not counted")
	}
	// A worker runs the new task; the archived one, run by hand later,
	// sends nothing.
	for _, id := range []string{first + "/1", first} {
		ti := info
		if id == first {
			if ti, err = insp.GetTaskInfo(outreach.QueueSMS, first); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.engine.HandleSend(ctx, asynq.NewTask(ti.Type, ti.Payload)); err != nil {
			t.Fatalf("run %s: %v", id, err)
		}
	}
	if texts := h.attemptTexts(number); len(texts) != 1 {
		t.Fatalf("texted %d times: %q", len(texts), texts)
	}
}
