package escalation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/store"
)

func TestParseRouting(t *testing.T) {
	example, err := os.ReadFile("../deploy/routing.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) {
		if name == "PROTECT_WEBHOOK_SECRET_CLINICAL" {
			return "a-long-enough-secret-value", true
		}
		return "", false
	}
	valid := testRouting("https://team.example/hook")
	tests := []struct {
		name string
		yaml string
		want string // "" for valid, else part of the error
	}{
		{"built-in default", string(escalation.DefaultRoutingYAML()), ""},
		{"deploy example", string(example), ""},
		{"test file", valid, ""},
		{"unknown field", valid + "\nunknown: 1\n", "field unknown not found"},
		{"unknown rule team", strings.Replace(valid, "team: practice-a}", "team: nobody}", 1), `rules[0].team: no team "nobody"`},
		{"bad kind", strings.Replace(valid, "kind: council\n    on_call", "kind: parish\n    on_call", 1), `kind: "parish" is not one of`},
		{"bad on-call number", strings.Replace(valid, `"+447700900014"`, `"07700 900014"`, 1), "on_call[0]: expected an E.164 number"},
		{"no default SLA", strings.Replace(valid, ", default: 4h", "", 1), "sla.default: required"},
		{"short secret", strings.Replace(valid, webhookSecret, "short", 1), "at least 16 characters"},
		{"unknown chain team", strings.Replace(valid, "[clinical, duty]", "[clinical, nobody]", 1), `escalation_chain[1]: no team "nobody"`},
		{"missing urgent team", strings.Replace(valid, "urgent_team: clinical", "", 1), "urgent_team: required"},
		{"duty team", valid + "duty_team: duty\n", ""},
		{"unknown duty team", valid + "duty_team: nobody\n", `duty_team: no team "nobody"`},
		{"resolve SLA too short", valid + "resolve_sla: {default: 10s}\n", "resolve_sla.default: 10s is outside"},
		{"resolve SLA bad category", valid + "resolve_sla: {Food: 1h}\n", `resolve_sla: "Food" is not a category name`},
		{"resolve SLA bad priority", valid + "priority_resolve_sla: {now: 1h}\n", `priority_resolve_sla: "now" is not one of`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := escalation.ParseRouting(tc.name, []byte(tc.yaml), env)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := escalation.ParseRouting("example", example, func(string) (string, bool) { return "", false }); err == nil ||
		!strings.Contains(err.Error(), "PROTECT_WEBHOOK_SECRET_CLINICAL is not set") {
		t.Fatalf("missing secret env: got %v", err)
	}
}

func TestRoute(t *testing.T) {
	r, err := escalation.ParseRouting("test", []byte(testRouting("https://team.example/hook")), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		category, priority, locality, practice string
		want                                   string
	}{
		{"clinical-urgent", "urgent", "Norwich", "A81001", "clinical"},
		{"unclear-reply", "urgent", "", "", "clinical"},
		{"clinical", "high", "Norwich", "A81001", "practice-a"},
		{"clinical", "high", "Norwich", "a81001", "practice-a"},
		{"medicines", "high", "Norwich", "B00000", "clinical"},
		{"food", "normal", "Norwich", "", "norwich-council"},
		{"food", "normal", "norwich", "", "norwich-council"},
		{"food", "normal", "Great Yarmouth", "", "county-council"},
		{"social", "normal", "", "", "county-council"},
		{"call-back", "normal", "Norwich", "", "county-council"},
		{"unreachable", "normal", "", "", "county-council"},
	}
	for _, tc := range tests {
		got := r.Route(store.PendingNeed{Category: tc.category, Priority: tc.priority, Locality: tc.locality, Practice: tc.practice})
		if got != tc.want {
			t.Errorf("%s/%s in %q practice %q: routed to %s, want %s", tc.category, tc.priority, tc.locality, tc.practice, got, tc.want)
		}
	}
	if d := r.ClaimWithin("food", "normal"); d != 24*time.Hour {
		t.Errorf("food SLA %v", d)
	}
	if d := r.ClaimWithin("unclear-reply", "urgent"); d != 15*time.Minute {
		t.Errorf("urgent unclear-reply SLA %v, want the urgent cap", d)
	}
	if d := r.ClaimWithin("social", "normal"); d != 4*time.Hour {
		t.Errorf("default SLA %v", d)
	}
	for tier, want := range map[int]string{0: "norwich-council", 1: "clinical", 2: "duty", 5: "duty"} {
		if got := r.NextTeam(tier, "norwich-council"); got != want {
			t.Errorf("tier %d: %s, want %s", tier, got, want)
		}
	}
}

func TestIntakeDedupe(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p1 := e.patient("9434765919", "Norwich", "")
	p2 := e.patient("9434765870", "Great Yarmouth", "")
	e.need(p1, "food", "normal")
	e.need(p1, "food", "normal")   // joins the first
	e.need(p1, "social", "normal") // another kind: its own
	e.need(p2, "food", "normal")
	e.intake()
	e.intake() // nothing left: repeating changes nothing

	if n := e.count(`SELECT count(*) FROM escalations`); n != 3 {
		t.Fatalf("%d escalations, want 3", n)
	}
	if n := e.count(`SELECT count(*) FROM needs WHERE escalation_id IS NULL`); n != 0 {
		t.Fatalf("%d needs not escalated", n)
	}
	food := e.escalation(p1, "food")
	if food.NeedCount != 2 || food.Team != "norwich-council" || food.State != "open" {
		t.Fatalf("food escalation %+v", food)
	}
	if got := e.escalation(p2, "food").Team; got != "county-council" {
		t.Fatalf("p2 food with %s", got)
	}

	// A higher priority raises the open escalation; urgent moves it to the
	// urgent team at a new tier.
	e.need(p1, "food", "urgent")
	e.intake()
	food = e.escalation(p1, "food")
	if food.Priority != "urgent" || food.Team != "clinical" || food.Tier != 1 || food.NeedCount != 3 {
		t.Fatalf("raised escalation %+v", food)
	}

	// Once resolved, a new need opens a new escalation.
	admin := escalation.Actor{Name: "user:admin", Role: store.RoleAdmin}
	if err := e.svc.Resolve(ctx, admin, food.ID, "helped", "food parcel delivered"); err != nil {
		t.Fatal(err)
	}
	e.need(p1, "food", "normal")
	e.intake()
	if again := e.escalation(p1, "food"); again.ID == food.ID || again.State != "open" {
		t.Fatalf("after resolving: %+v", again)
	}
}

func TestIntakeConcurrentExactlyOnce(t *testing.T) {
	e := newEnv(t)
	var patients []int64
	for i := range 40 {
		patients = append(patients, e.patient(nhsFor(i), "Norwich", ""))
	}
	for round := range 5 {
		for _, p := range patients {
			e.need(p, []string{"food", "social"}[round%2], "normal")
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for {
				n, err := e.svc.Intake(context.Background())
				if err != nil {
					errs <- err
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM escalations`); n != 80 {
		t.Fatalf("%d escalations, want 80 (40 patients x 2 categories)", n)
	}
	if n := e.count(`SELECT sum(need_count) FROM escalations`); n != 200 {
		t.Fatalf("need_count sum %d, want 200", n)
	}
	if n := e.count(`SELECT count(*) FROM needs WHERE escalation_id IS NULL`); n != 0 {
		t.Fatalf("%d needs left", n)
	}
}

// nhsFor makes distinct 10-digit identifiers (the table does not check
// Modulus 11; the importer does).
func nhsFor(i int) string { return fmt.Sprintf("99%08d", i) }

func TestUrgentAlertThroughSandbox(t *testing.T) {
	e := newEnv(t)
	p := e.patient("9434765919", "Norwich", "")
	e.need(p, "clinical-urgent", "urgent")
	e.intake()
	esc := e.escalation(p, "clinical-urgent")
	if esc.Team != "clinical" {
		t.Fatalf("urgent need with %s", esc.Team)
	}
	e.deliver()
	e.deliver() // nothing is sent twice

	got := e.sms("+447700900004")
	want := "Protect: 1 urgent escalation for Clinical team, open the console"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("on-call SMS %q, want [%q]", got, want)
	}
	for _, m := range e.sb.Messages() {
		for _, secret := range []string{"9434765919", "Ada", "Patient", "+447700900100"} {
			if strings.Contains(m.Body, secret) {
				t.Fatalf("alert %q carries a patient identifier", m.Body)
			}
		}
	}
	hooks := e.hook.received()
	if len(hooks) != 1 {
		t.Fatalf("%d webhooks, want 1", len(hooks))
	}
	h := hooks[0]
	if !escalation.VerifyWebhook(webhookSecret, h.header.Get(escalation.HeaderTimestamp), h.header.Get(escalation.HeaderSignature),
		h.body, e.clock.Now(), 5*time.Minute) {
		t.Fatal("webhook signature does not verify")
	}
	var ev escalation.WebhookEvent
	if err := json.Unmarshal(h.body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.EscalationID != esc.ID || ev.Event != "escalation.opened" || ev.Priority != "urgent" || ev.Team != "clinical" {
		t.Fatalf("webhook event %+v", ev)
	}
	if strings.Contains(string(h.body), "9434765919") || strings.Contains(string(h.body), "Ada") {
		t.Fatalf("webhook carries patient data: %s", h.body)
	}
	if n := e.count(`SELECT count(*) FROM escalation_alerts WHERE state = 'sent'`); n != 2 {
		t.Fatalf("%d alerts sent, want 2", n)
	}

	// A normal need alerts by webhook only (the clinical team's rule).
	e.need(p, "clinical", "normal")
	e.intake()
	e.deliver()
	if got := e.sms("+447700900004"); len(got) != 1 {
		t.Fatalf("normal need texted the on-call number: %q", got)
	}
	if n := len(e.hook.received()); n != 2 {
		t.Fatalf("%d webhooks, want 2", n)
	}
}

func TestAlertGroupingAndRetry(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.need(e.patient(nhsFor(i), "", ""), "clinical-urgent", "urgent")
	}
	e.hook.mu.Lock()
	e.hook.fail = true
	e.hook.mu.Unlock()
	e.intake()
	e.deliver()
	got := e.sms("+447700900004")
	if len(got) != 1 || got[0] != "Protect: 3 urgent escalations for Clinical team, open the console" {
		t.Fatalf("grouped SMS %q", got)
	}
	if n := e.count(`SELECT count(*) FROM escalation_alerts WHERE channel = 'webhook' AND state = 'pending' AND tries = 1`); n != 3 {
		t.Fatalf("%d webhooks waiting to be tried again, want 3", n)
	}
	e.hook.mu.Lock()
	e.hook.fail = false
	e.hook.mu.Unlock()
	e.clock.Add(time.Minute)
	e.deliver()
	if n := len(e.hook.received()); n != 3 {
		t.Fatalf("%d webhooks after retry, want 3", n)
	}
}

func TestSLAReescalation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.patient("9434765919", "Norwich", "")
	e.need(p, "food", "normal") // 24h SLA, Norwich council, no SMS for normal
	e.intake()
	e.deliver()
	esc := e.escalation(p, "food")
	if esc.Team != "norwich-council" || len(e.sms("+447700900024")) != 0 {
		t.Fatalf("opened %+v sms %q", esc, e.sms("+447700900024"))
	}

	steps := []struct {
		advance  time.Duration
		wantTier int
		wantTeam string
		texted   string // on-call number that gets "not claimed in time"
	}{
		{23 * time.Hour, 0, "norwich-council", ""},
		{2 * time.Hour, 1, "clinical", "+447700900004"},
		{time.Hour, 1, "clinical", ""},
		{24 * time.Hour, 2, "duty", "+447700900014"},
		{24 * time.Hour, 3, "duty", "+447700900014"},
	}
	for i, st := range steps {
		e.clock.Add(st.advance)
		before := map[string]int{"+447700900004": len(e.sms("+447700900004")), "+447700900014": len(e.sms("+447700900014"))}
		if _, err := e.svc.CheckSLAs(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CheckSLAs(ctx); err != nil { // repeating changes nothing
			t.Fatal(err)
		}
		e.deliver()
		got := e.escalation(p, "food")
		if got.Tier != st.wantTier || got.Team != st.wantTeam {
			t.Fatalf("step %d: tier %d team %s, want %d %s", i, got.Tier, got.Team, st.wantTier, st.wantTeam)
		}
		if st.texted != "" {
			texts := e.sms(st.texted)
			if len(texts) != before[st.texted]+1 || texts[len(texts)-1] != "Protect: 1 normal escalation for "+
				map[string]string{"+447700900004": "Clinical team", "+447700900014": "Duty manager"}[st.texted]+" not claimed in time, open the console" {
				t.Fatalf("step %d: texts to %s: %q", i, st.texted, texts)
			}
		}
	}

	// The queued check does the same, by the service's clock, and a
	// claimed escalation is never re-escalated.
	admin := escalation.Actor{Name: "user:admin", Role: store.RoleAdmin}
	esc = e.escalation(p, "food")
	payload, _ := json.Marshal(map[string]any{"escalation": esc.ID, "tier": esc.Tier})
	task := asynq.NewTask(escalation.TaskSLA, payload)
	if err := e.svc.HandleSLA(ctx, task); err != nil { // not due yet
		t.Fatal(err)
	}
	if got := e.escalation(p, "food"); got.Tier != esc.Tier {
		t.Fatalf("re-escalated before its deadline: tier %d", got.Tier)
	}
	e.clock.Add(25 * time.Hour)
	if err := e.svc.HandleSLA(ctx, task); err != nil {
		t.Fatal(err)
	}
	if got := e.escalation(p, "food"); got.Tier != esc.Tier+1 {
		t.Fatalf("queued check did not re-escalate: tier %d", got.Tier)
	}
	if err := e.svc.HandleSLA(ctx, task); err != nil { // a repeat of the task
		t.Fatal(err)
	}
	if got := e.escalation(p, "food"); got.Tier != esc.Tier+1 {
		t.Fatalf("repeated task re-escalated twice: tier %d", got.Tier)
	}
	if err := e.svc.Claim(ctx, admin, esc.ID); err != nil {
		t.Fatal(err)
	}
	claimed := e.escalation(p, "food")
	e.clock.Add(100 * time.Hour)
	if n, err := e.svc.CheckSLAs(ctx); err != nil || n != 1 {
		t.Fatalf("claimed, unresolved escalation: %d handled, %v; want one alert again", n, err)
	}
	if got := e.escalation(p, "food"); got.Team != claimed.Team || got.State != store.EscalationClaimed || got.ClaimedBy != "user:admin" {
		t.Fatalf("claimed escalation moved: %+v", got)
	}
	if n := e.count(`SELECT count(*) FROM (SELECT 1 FROM escalation_alerts GROUP BY escalation_id, tier, channel, target HAVING count(*) > 1) d`); n != 0 {
		t.Fatal("an alert was recorded twice")
	}
}

func TestWebhookSignature(t *testing.T) {
	body := []byte(`{"id":"alert-1"}`)
	now := time.Unix(1_700_000_000, 0)
	sig := escalation.SignWebhook("secret-secret-secret", now.Unix(), body)
	ts := "1700000000"
	tests := []struct {
		name   string
		secret string
		ts     string
		sig    string
		body   []byte
		at     time.Time
		want   bool
	}{
		{"valid", "secret-secret-secret", ts, sig, body, now, true},
		{"valid within tolerance", "secret-secret-secret", ts, sig, body, now.Add(4 * time.Minute), true},
		{"wrong secret", "another-secret-value", ts, sig, body, now, false},
		{"body changed", "secret-secret-secret", ts, sig, []byte(`{"id":"alert-2"}`), now, false},
		{"timestamp changed", "secret-secret-secret", "1700000001", sig, body, now, false},
		{"replayed late", "secret-secret-secret", ts, sig, body, now.Add(10 * time.Minute), false},
		{"not a number", "secret-secret-secret", "soon", sig, body, now, false},
		{"empty signature", "secret-secret-secret", ts, "", body, now, false},
	}
	for _, tc := range tests {
		if got := escalation.VerifyWebhook(tc.secret, tc.ts, tc.sig, tc.body, tc.at, 5*time.Minute); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Fatalf("signature format %q", sig)
	}
}

func TestRoleScopingAndAudit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pNorwich := e.patient("9434765919", "Norwich", "")
	pCounty := e.patient("9434765870", "Diss", "")
	e.need(pNorwich, "food", "normal")
	e.need(pCounty, "food", "normal")
	e.intake()
	mine, theirs := e.escalation(pNorwich, "food"), e.escalation(pCounty, "food")

	norwich := escalation.Actor{Name: "user:nina", Role: store.RoleHandler, Teams: []string{"norwich-council"}}
	admin := escalation.Actor{Name: "user:admin", Role: store.RoleAdmin}
	comms := escalation.Actor{Name: "user:cal", Role: store.RoleCommsLead}

	in, err := e.svc.Inbox(ctx, norwich, escalation.InboxQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Escalations) != 1 || in.Escalations[0].ID != mine.ID {
		t.Fatalf("handler inbox %+v", in.Escalations)
	}
	if in, _ := e.svc.Inbox(ctx, admin, escalation.InboxQuery{}); len(in.Escalations) != 2 {
		t.Fatalf("admin inbox has %d", len(in.Escalations))
	}

	denied := []struct {
		name string
		do   func() error
		want error
	}{
		{"view", func() error { _, err := e.svc.Escalation(ctx, norwich, theirs.ID); return err }, store.ErrNotFound},
		{"claim", func() error { return e.svc.Claim(ctx, norwich, theirs.ID) }, store.ErrNotFound},
		{"resolve", func() error { return e.svc.Resolve(ctx, norwich, theirs.ID, "helped", "") }, store.ErrNotFound},
		{"note", func() error { return e.svc.Note(ctx, norwich, theirs.ID, "hello") }, store.ErrNotFound},
		{"patient", func() error { _, err := e.svc.Patient(ctx, norwich, pCounty); return err }, store.ErrNotFound},
		{"other inbox", func() error {
			_, err := e.svc.Inbox(ctx, norwich, escalation.InboxQuery{Team: "county-council"})
			return err
		}, store.ErrNotFound},
		{"contact", func() error {
			_, err := e.svc.RecordContact(ctx, norwich, pCounty, escalation.ContactInput{Method: "phone", Outcome: "no_answer"})
			return err
		}, store.ErrNotFound},
		{"comms lead inbox", func() error { _, err := e.svc.Inbox(ctx, comms, escalation.InboxQuery{}); return err }, escalation.ErrForbidden},
		{"handler audit log", func() error { _, err := e.svc.AuditLog(ctx, norwich, store.AuditQuery{}); return err }, escalation.ErrForbidden},
	}
	for _, d := range denied {
		if err := d.do(); !errors.Is(err, d.want) {
			t.Errorf("%s: got %v, want %v", d.name, err, d.want)
		}
	}
	if got := e.escalation(pCounty, "food"); got.State != "open" {
		t.Fatalf("refused actions changed the escalation: %+v", got)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE actor = 'user:nina' AND action = 'access.denied'`); n != 7 {
		t.Fatalf("%d access.denied entries, want 7", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE actor = 'user:nina' AND action = 'access.denied' AND patient_id = $1`, pCounty); n < 5 {
		t.Fatalf("denials not tied to the patient: %d", n)
	}

	// The handler works their own escalation; every step is audited.
	steps := []func() error{
		func() error { _, err := e.svc.Escalation(ctx, norwich, mine.ID); return err },
		func() error { return e.svc.Claim(ctx, norwich, mine.ID) },
		func() error { return e.svc.Note(ctx, norwich, mine.ID, "phoned, will deliver tomorrow") },
		func() error {
			_, err := e.svc.RecordContact(ctx, norwich, pNorwich, escalation.ContactInput{Method: "phone", Outcome: "spoke"})
			return err
		},
		func() error { _, err := e.svc.Patient(ctx, norwich, pNorwich); return err },
		func() error { return e.svc.Resolve(ctx, norwich, mine.ID, "helped", "parcel delivered") },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := e.svc.Claim(ctx, norwich, mine.ID); !errors.Is(err, store.ErrEscalationState) {
		t.Fatalf("claiming a resolved escalation: %v", err)
	}
	entries, err := e.svc.AuditLog(ctx, admin, store.AuditQuery{Actor: "user:nina", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, en := range entries {
		if en.Action != "access.denied" && en.Action != "inbox.view" {
			actions = append([]string{en.Action}, actions...)
		}
		if en.Action == "escalation.claim" && (en.PatientID == nil || *en.PatientID != pNorwich) {
			t.Fatalf("claim audit entry without the patient: %+v", en)
		}
	}
	want := "escalation.view escalation.claim escalation.note contact.record patient.view escalation.resolve"
	if strings.Join(actions, " ") != want {
		t.Fatalf("audited %q, want %q", strings.Join(actions, " "), want)
	}

	// The timeline shows the ledger entry and the escalation's history.
	v, err := e.svc.Patient(ctx, admin, pNorwich)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, en := range v.Timeline {
		kinds = append(kinds, en.Kind+":"+en.Summary)
	}
	all := strings.Join(kinds, "\n")
	for _, w := range []string{"contact:phone: spoke", "escalation:food escalation claimed", "escalation:food escalation resolved", "escalation:food escalation opened"} {
		if !strings.Contains(all, w) {
			t.Errorf("timeline lacks %q:\n%s", w, all)
		}
	}

	// Hand over: the other team sees it, the first no longer does.
	e.need(pNorwich, "social", "high")
	e.intake()
	soc := e.escalation(pNorwich, "social")
	if err := e.svc.HandOver(ctx, admin, soc.ID, "norwich-council", "local team knows her"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Escalation(ctx, norwich, soc.ID); err != nil {
		t.Fatalf("handed-over escalation not visible to the new team: %v", err)
	}
	if got := e.escalation(pNorwich, "social"); got.Tier != 1 || got.Team != "norwich-council" {
		t.Fatalf("after handover %+v", got)
	}
	e.deliver()
	if got := e.sms("+447700900024"); len(got) != 1 || !strings.Contains(got[0], "1 high escalation for Norwich council") {
		t.Fatalf("handover alert %q", got)
	}
}
