package outreach_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/protectnow/protect/twilioapi"
)

// Replies that arrive together share transactions; whatever the batching,
// each patient's replies are taken in turn, a repeated webhook is acted on
// once and answered the same way, and nothing is lost.
func TestConcurrentRepliesAreEachHandledOnce(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	const n = 24
	var ps []patient
	for i := range n {
		ps = append(ps, patient{nhs(500 + i), fmt.Sprintf("Batch%d", i), testNumber(504 + 10*i), ""}) // silent personas
	}
	h.importCohort("batch", ps)
	c := h.campaign("batch", "batch", 100, fastPolicy)
	if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	h.eventually("first messages sent", func() bool {
		return h.count(`SELECT count(*) FROM campaign_patients WHERE state = 'contacting'`) == n
	})

	// Each patient answers twice at once ("yes, I am OK", then "no" to the
	// next question), and Twilio delivers each first answer twice.
	type result struct {
		sid, body string
		status    int
		err       error
	}
	results := make(chan result, 3*n)
	var wg sync.WaitGroup
	post := func(sid, from, text string) {
		defer wg.Done()
		form := inboundForm(sid, from, text)
		target := h.app.URL + "/webhooks/twilio/sms"
		req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", twilioapi.Sign(token, target, form))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			results <- result{sid: sid, err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		results <- result{sid: sid, body: string(b), status: resp.StatusCode, err: err}
	}
	for i := range n {
		from := testNumber(504 + 10*i)
		first, second := fmt.Sprintf("SMa%031d", i), fmt.Sprintf("SMb%031d", i)
		wg.Add(3)
		go post(first, from, "yes")
		go post(first, from, "yes")
		go post(second, from, "no")
	}
	wg.Wait()
	close(results)
	answers := map[string]string{}
	for r := range results {
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("%s: status %d, %v", r.sid, r.status, r.err)
		}
		if prev, ok := answers[r.sid]; ok && prev != r.body {
			t.Errorf("%s answered two ways:\n%s\n%s", r.sid, prev, r.body)
		}
		answers[r.sid] = r.body
	}
	if got := h.count(`SELECT count(*) FROM messages WHERE direction = 'in'`); got != 2*n {
		t.Errorf("inbound messages stored = %d, want %d", got, 2*n)
	}
	// Both answers of every patient are recorded, to two different
	// questions: the second reply saw the conversation the first left.
	if got := h.count(`SELECT count(*) FROM (SELECT patient_id FROM answers GROUP BY patient_id
			HAVING count(*) = 2 AND count(DISTINCT question) = 2) a`); got != n {
		t.Errorf("patients with two answers to two questions = %d, want %d", got, n)
	}
	if got := h.count(`SELECT count(*) FROM messages WHERE direction = 'out' AND kind = 'reply'`); got != 2*n {
		t.Errorf("replies recorded = %d, want %d", got, 2*n)
	}
	if got := h.count(`SELECT count(*) FROM messages WHERE direction = 'in' AND (reply IS NULL OR patient_id IS NULL)`); got != 0 {
		t.Errorf("%d inbound messages without their answer or patient", got)
	}
}

// A body PostgreSQL could not store as text (invalid UTF-8, NUL bytes) is
// kept for a person rather than failing every retry of the webhook.
func TestMalformedReplyIsKept(t *testing.T) {
	h := newHarness(t, nil)
	resp, _ := h.post("/webhooks/twilio/sms", inboundForm("SM"+strings.Repeat("e", 32), "+447911123457", "help\x00me \xff\xfe"), true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := h.count(`SELECT count(*) FROM messages WHERE direction = 'in' AND needs_human AND body = $1`, "help\uFFFDme \uFFFD"); got != 1 {
		t.Fatalf("malformed message not kept: %d", got)
	}
}
