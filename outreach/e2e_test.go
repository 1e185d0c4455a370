package outreach_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/nhsnumber"
	"github.com/protectnow/protect/sandbox"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
)

// nhs returns the i-th valid NHS number of a test range.
func nhs(i int) string {
	for n := 900000000 + i*7; ; n++ {
		nine := strconv.Itoa(n)
		if cd := nhsnumber.CheckDigit(nine); cd >= 0 {
			return nine + strconv.Itoa(cd)
		}
	}
}

// testNumber is +447700900NNN: the sandbox's default persona for it
// depends on the last digit (0 fine, 1 needs help, 4 silent, 5 STOP,
// 6 landline, 8 invalid).
func testNumber(n int) string { return fmt.Sprintf("+447700900%03d", n) }

func TestCampaignReachesEveryOutcome(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	ps := []patient{
		{nhs(1), "Fine", testNumber(100), ""},
		{nhs(2), "Needs", testNumber(101), ""},
		{nhs(3), "Stop", testNumber(105), ""},
		{nhs(4), "Silent", testNumber(104), ""},
		{nhs(5), "Landline", "", "01603 123456"},
		{nhs(6), "Carrier", testNumber(106), ""},
		{nhs(7), "Invalid", testNumber(108), ""},
		{nhs(8), "Nobody", "", ""},
	}
	h.importCohort("everyone", ps)
	// OK, no help with food, medicines, not unwell, no call back.
	h.sb.SetPersona(sandbox.Persona{Number: testNumber(100), Label: "fine", Replies: []string{"1", "2", "no", "2", "No thanks"}, OnlyQuestions: true})
	// Not OK, then silent part-way through.
	h.sb.SetPersona(sandbox.Persona{Number: testNumber(101), Label: "stops", Replies: []string{"2"}, OnlyQuestions: true})
	c := h.campaign("outcomes", "everyone", 50, fastPolicy)
	n, err := h.engine.Start(ctx, c.ID, "test")
	if err != nil || n != len(ps) {
		t.Fatalf("start: %d, %v", n, err)
	}
	// Starting twice plans nothing twice.
	if _, err := h.engine.Start(ctx, c.ID, "test"); err == nil {
		t.Fatal("second start must fail")
	}

	h.eventually("first replies and failures", func() bool {
		s := h.status(c.ID)
		return s.Outcomes["fine"] == 1 && s.Outcomes["opted_out"] == 1 && s.Outcomes["unreachable"] == 4 &&
			s.States["conversing"] == 1 && s.States["contacting"] == 1
	})
	// Silence: the wait runs out for the silent patient (second text) and
	// for the one who stopped answering part-way (a person follows up).
	h.exec(`UPDATE campaign_patients SET wait_until = now() - interval '1 second' WHERE state IN ('contacting', 'conversing')`)
	h.eventually("second attempt to the silent patient", func() bool { return h.sentTo(testNumber(104)) == 2 && h.status(c.ID).Outcomes["need"] == 1 })
	// The step's wait starts when Twilio's acceptance is recorded: only
	// then can the test make it run out.
	h.eventually("second attempt recorded", func() bool {
		return h.status(c.ID).States["contacting"] == 1 &&
			h.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1 AND to_number = $2 AND state IN ('sent', 'delivered')`, c.ID, testNumber(104)) == 2
	})
	h.exec(`UPDATE campaign_patients SET wait_until = now() - interval '1 second' WHERE state IN ('contacting', 'conversing')`)
	h.eventually("campaign complete", func() bool {
		cc, _ := h.st.Campaign(ctx, c.ID)
		return cc.State == store.CampaignCompleted
	})

	s := h.status(c.ID)
	want := map[string]int{"fine": 1, "need": 1, "opted_out": 1, "unreachable": 5}
	for k, v := range want {
		if s.Outcomes[k] != v {
			t.Errorf("outcome %s = %d, want %d (%v)", k, s.Outcomes[k], v, s.Outcomes)
		}
	}
	if s.States["done"] != len(ps) {
		t.Errorf("every patient must end somewhere: %v", s.States)
	}
	// Each patient got each attempt once.
	for _, p := range []patient{ps[0], ps[1], ps[2], ps[5]} {
		if got := h.sentTo(p.mobile); got != 1 {
			t.Errorf("%s got %d attempt messages, want 1", p.given, got)
		}
	}
	if got := h.count(`SELECT count(*) FROM answers WHERE patient_id = (SELECT id FROM patients WHERE nhs_number = $1)`, ps[0].nhs); got != 5 {
		t.Errorf("fine patient answers = %d", got)
	}
	if got := h.count(`SELECT count(*) FROM needs WHERE category = 'unreachable' AND campaign_id = $1`, c.ID); got != 5 {
		t.Errorf("unreachable needs = %d, want 5", got)
	}
	if got := h.count(`SELECT count(*) FROM patients WHERE opted_out_at IS NOT NULL`); got != 1 {
		t.Errorf("opted out patients = %d", got)
	}
}

func inboundForm(msgSID, from, body string) url.Values {
	return url.Values{"MessageSid": {msgSID}, "SmsSid": {msgSID}, "AccountSid": {sid}, "From": {from}, "To": {sender},
		"Body": {body}, "NumMedia": {"0"}, "NumSegments": {"1"}, "ApiVersion": {"2010-04-01"}}
}

func TestWebhookSecurityAndReplays(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	h.importCohort("replay", []patient{{nhs(20), "Replay", testNumber(114), ""}})
	c := h.campaign("replay", "replay", 50, fastPolicy)
	if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	h.eventually("first message sent", func() bool { return h.count(`SELECT count(*) FROM attempts WHERE provider_sid IS NOT NULL`) == 1 })
	messages := func() int { return h.count(`SELECT count(*) FROM messages`) }
	before := messages()

	form := inboundForm("SM"+strings.Repeat("a", 32), testNumber(114), "1")
	tests := []struct {
		name   string
		path   string
		form   url.Values
		sign   bool
		mutate func(*http.Request)
		status int
	}{
		{"unsigned", "/webhooks/twilio/sms", form, false, nil, http.StatusForbidden},
		{"status unsigned", "/webhooks/twilio/sms/status?attempt=1", url.Values{"MessageSid": {"SM" + strings.Repeat("b", 32)}, "MessageStatus": {"delivered"}}, false, nil, http.StatusForbidden},
	}
	for _, tt := range tests {
		resp, _ := h.post(tt.path, tt.form, tt.sign)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
	}
	// A forged signature (signed with another token) and a tampered body.
	forged := url.Values{}
	for k, v := range form {
		forged[k] = v
	}
	req, _ := http.NewRequest(http.MethodPost, h.app.URL+"/webhooks/twilio/sms", strings.NewReader(forged.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioapi.Sign("not-the-token", h.app.URL+"/webhooks/twilio/sms", forged))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged: %v %v", resp.StatusCode, err)
	}
	tampered := url.Values{}
	for k, v := range form {
		tampered[k] = v
	}
	sig := twilioapi.Sign(token, h.app.URL+"/webhooks/twilio/sms", form)
	tampered.Set("Body", "2")
	req, _ = http.NewRequest(http.MethodPost, h.app.URL+"/webhooks/twilio/sms", strings.NewReader(tampered.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sig)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered body accepted: %d", resp.StatusCode)
	}
	// Oversized body.
	big := inboundForm("SM"+strings.Repeat("c", 32), testNumber(114), strings.Repeat("x", 70<<10))
	if resp, _ := h.post("/webhooks/twilio/sms", big, true); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %d", resp.StatusCode)
	}
	if got := messages(); got != before {
		t.Fatalf("refused webhooks stored %d messages", got-before)
	}

	// A replayed webhook is processed once and answered the same way.
	resp1, body1 := h.post("/webhooks/twilio/sms", form, true)
	resp2, body2 := h.post("/webhooks/twilio/sms", form, true)
	if resp1.StatusCode != 200 || resp2.StatusCode != 200 || body1 != body2 || !strings.Contains(body1, "<Message>") {
		t.Fatalf("replay: %d %q / %d %q", resp1.StatusCode, body1, resp2.StatusCode, body2)
	}
	if got := h.count(`SELECT count(*) FROM answers`); got != 1 {
		t.Fatalf("answers = %d, want 1", got)
	}
	if got := h.count(`SELECT count(*) FROM messages WHERE direction = 'in'`); got != 1 {
		t.Fatalf("inbound stored %d times", got)
	}
	// A replayed status callback changes nothing the second time.
	var attemptID int64
	var msgSID string
	h.st.Pool().QueryRow(ctx, `SELECT id, provider_sid FROM attempts LIMIT 1`).Scan(&attemptID, &msgSID)
	st := url.Values{"MessageSid": {msgSID}, "MessageStatus": {"delivered"}, "AccountSid": {sid}}
	path := "/webhooks/twilio/sms/status?attempt=" + strconv.FormatInt(attemptID, 10)
	for i := 0; i < 2; i++ {
		if resp, _ := h.post(path, st, true); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status callback: %d", resp.StatusCode)
		}
	}
	if got := h.count(`SELECT count(*) FROM status_events WHERE provider_sid = $1 AND status = 'delivered'`, msgSID); got != 1 {
		t.Fatalf("status events = %d", got)
	}
	// A reply from a stranger is kept for a person, not dropped.
	if resp, _ := h.post("/webhooks/twilio/sms", inboundForm("SM"+strings.Repeat("d", 32), "+447911123456", "who is this?"), true); resp.StatusCode != 200 {
		t.Fatal("stranger")
	}
	if got := h.count(`SELECT count(*) FROM messages WHERE kind = 'unknown_sender' AND needs_human`); got != 1 {
		t.Fatalf("stranger's message not kept for a human: %d", got)
	}
}

func TestUnclearRepliesGoToAPerson(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	number := testNumber(124) // silent persona: the test speaks for it
	h.importCohort("unclear", []patient{{nhs(30), "Unclear", number, ""}})
	c := h.campaign("unclear", "unclear", 50, fastPolicy)
	if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	h.eventually("first message sent", func() bool { return h.count(`SELECT count(*) FROM attempts WHERE provider_sid IS NOT NULL`) == 1 })
	_, first := h.post("/webhooks/twilio/sms", inboundForm("SM"+strings.Repeat("1", 32), number, "Not too bad but I ran out of tablets"), true)
	if !strings.Contains(first, "did not understand") {
		t.Fatalf("first unclear reply should re-ask: %s", first)
	}
	_, second := h.post("/webhooks/twilio/sms", inboundForm("SM"+strings.Repeat("2", 32), number, "tablets!!"), true)
	if !strings.Contains(second, "Someone from the team will read") {
		t.Fatalf("second unclear reply should hand over: %s", second)
	}
	s := h.status(c.ID)
	if s.Outcomes["need"] != 1 || s.NeedsByType["unclear-reply"] != 1 {
		t.Fatalf("status %+v", s)
	}
	if got := h.count(`SELECT count(*) FROM messages WHERE direction = 'in' AND needs_human`); got != 2 {
		t.Fatalf("free text kept for a human: %d", got)
	}
}

func TestUrgentAnswerGetsAdviceAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	number := testNumber(134)
	h.importCohort("urgent", []patient{{nhs(40), "Urgent", number, ""}})
	c := h.campaign("urgent", "urgent", 50, fastPolicy)
	if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	h.eventually("first message sent", func() bool { return h.count(`SELECT count(*) FROM attempts WHERE provider_sid IS NOT NULL`) == 1 })
	var last string
	for i, r := range []string{"2", "no", "no", "yes", "1"} { // not OK, no food, no medicines, unwell, chest pain
		_, last = h.post("/webhooks/twilio/sms", inboundForm(fmt.Sprintf("SM%032d", i), number, r), true)
	}
	if !strings.Contains(last, "999") {
		t.Fatalf("urgent advice missing: %s", last)
	}
	if got := h.count(`SELECT count(*) FROM needs WHERE priority = 'urgent'`); got < 1 {
		t.Fatalf("no urgent need recorded")
	}
}

func TestPauseAndResume(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	var ps []patient
	for i := 0; i < 12; i++ {
		ps = append(ps, patient{nhs(100 + i), "Pause", testNumber(204 + 10*i), ""}) // silent personas
	}
	h.importCohort("pause", ps)
	c := h.campaign("pause", "pause", 4, fastPolicy)
	if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	sent := func() int {
		return h.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1 AND provider_sid IS NOT NULL`, c.ID)
	}
	h.eventually("some sent", func() bool { return sent() >= 2 })
	if err := h.engine.Pause(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	// Work already claimed may finish; after that nothing more goes out.
	time.Sleep(300 * time.Millisecond)
	atPause := sent()
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		h.engine.Dispatch(ctx)
		h.engine.Reconcile(ctx)
		time.Sleep(50 * time.Millisecond)
	}
	if got := sent(); got != atPause || got == len(ps) {
		t.Fatalf("sent %d while paused (had %d at pause)", got, atPause)
	}
	if err := h.engine.Resume(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	h.eventually("all sent", func() bool { return sent() == len(ps) })
	time.Sleep(200 * time.Millisecond)
	for _, p := range ps {
		if got := h.sentTo(p.mobile); got != 1 {
			t.Errorf("%s received %d messages", p.mobile, got)
		}
	}
}

func TestWorkerDiesBetweenClaimAndSend(t *testing.T) {
	tests := []struct {
		name string
		// reached says whether the dead worker's request reached Twilio.
		reached bool
		// earlier says the identical text Twilio has went out before this
		// attempt was first claimed (an earlier step's reminder): not
		// this attempt's, so the patient must still get theirs.
		earlier bool
		want    int
	}{
		{"died before calling Twilio", false, false, 1},
		{"died after Twilio accepted, before recording", true, false, 1},
		{"an identical text from before the attempt is not adopted", true, true, 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			ctx := context.Background()
			number := testNumber(304 + 10*i)
			h.importCohort("dies", []patient{{nhs(200 + i), "Dies", number, ""}})
			attemptID := h.startAlone(h.campaign("dies", "dies", 50, fastPolicy))
			w, res, err := h.st.ClaimAttempt(ctx, attemptID, time.Minute)
			if err != nil || res != store.Claimed {
				t.Fatalf("claim: %v %v", res, err)
			}
			if tt.reached {
				// What the dead worker stored and then sent, with no
				// status callback.
				dieBeforeTwilio(t, h, w)
				var body string
				h.st.Pool().QueryRow(ctx, `SELECT body FROM attempts WHERE id = $1`, attemptID).Scan(&body)
				p := &openapi.CreateMessageParams{}
				p.SetTo(w.To)
				p.SetFrom(sender)
				p.SetBody(body)
				if _, err := twilioapi.New(sid, token, h.twilio.URL).Api.CreateMessage(p); err != nil {
					t.Fatal(err)
				}
			}
			if tt.earlier {
				h.exec(`UPDATE attempts SET first_claimed_at = now() + interval '1 minute' WHERE id = $1`, attemptID)
			}
			// The lease runs out; a new worker comes up.
			h.exec(`UPDATE attempts SET lease_until = now() - interval '1 minute' WHERE id = $1`, attemptID)
			restart(t, h)
			h.eventually("attempt recovered", func() bool {
				return h.count(`SELECT count(*) FROM attempts WHERE id = $1 AND provider_sid IS NOT NULL`, attemptID) == 1
			})
			time.Sleep(300 * time.Millisecond)
			if got := h.sentTo(number); got != tt.want {
				t.Fatalf("patient received %d messages, want %d", got, tt.want)
			}
		})
	}
}

func TestRedisFlushedMidCampaignLosesNobody(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	var ps []patient
	for i := 0; i < 30; i++ {
		ps = append(ps, patient{nhs(300 + i), "Flush", testNumber(404 + 10*i), ""})
	}
	h.importCohort("flush", ps)
	c := h.campaign("flush", "flush", 10, fastPolicy)
	if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	sent := func() int {
		return h.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1 AND provider_sid IS NOT NULL`, c.ID)
	}
	h.eventually("some sent", func() bool { return sent() >= 5 })
	if err := testdbRedisFlush(t); err != nil {
		t.Fatal(err)
	}
	h.eventually("everyone sent after the flush", func() bool { return sent() == len(ps) })
	time.Sleep(300 * time.Millisecond)
	for _, p := range ps {
		if got := h.sentTo(p.mobile); got != 1 {
			t.Errorf("%s received %d messages", p.mobile, got)
		}
	}
}
