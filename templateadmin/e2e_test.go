package templateadmin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
	"github.com/protectnow/protect/twilioapi"
)

// newCampaign makes a draft campaign over a one-patient cohort.
func newCampaign(t *testing.T, st *store.Store, name string) int64 {
	t.Helper()
	gatewaytest.ImportOne(t, st, name, "Pinned")
	eng := outreach.New(outreach.Options{Store: st, Texts: templateadmin.NewDBTexts(st, 0, quiet), Logger: quiet})
	c, err := eng.CreateCampaign(context.Background(), outreach.CampaignSpec{Name: name, Cohort: name, Sender: gatewaytest.Sender,
		Pace: 10, Window: gatewaytest.AlwaysOpen, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// pin returns a gatewaytest.FirstMessage hook that pins the campaign's
// templates and waits for the engine's cache, which, like another
// process's, learns of it within its refresh interval.
func pin(t *testing.T, svc *templateadmin.Service, pins map[string]int) func(int64) {
	return func(campaignID int64) {
		if err := svc.SetPins(context.Background(), pat, campaignID, pins); err != nil {
			t.Fatal(err)
		}
		time.Sleep(600 * time.Millisecond)
	}
}

// An approved change appears in the next message the sandbox receives; a
// draft or pending change never does; a pinned campaign keeps its wording.
func TestApprovedChangeReachesTheNextMessage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// The service knows nothing of the gateway's texts.
	svc := templateadmin.New(templateadmin.Options{Store: f.st, Logger: quiet})
	g := gatewaytest.New(t, f.st)
	tm := f.template("wellbeing.intro", "sms", "en")

	first := g.FirstMessage("before", nil)
	if !strings.HasPrefix(first, "Hello Margaret, this is your GP practice for Test Protect. We are checking") {
		t.Fatalf("first message %q", first)
	}
	const changed = "Hello ((first_name)), this is ((programme_name)). We are checking on people who may need extra support. Please answer a few short questions. Reply STOP to opt out."
	v, _, err := svc.SaveDraft(ctx, carol, tm.ID, templateadmin.Draft{Body: changed})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.FirstMessage("with a draft", nil); !strings.HasPrefix(got, "Hello Margaret, this is your GP practice for Test Protect.") {
		t.Fatalf("a draft was sent: %q", got)
	}
	if _, err := svc.Submit(ctx, carol, tm.ID, v.Version); err != nil {
		t.Fatal(err)
	}
	if got := g.FirstMessage("pending", nil); !strings.HasPrefix(got, "Hello Margaret, this is your GP practice for Test Protect.") {
		t.Fatalf("a pending version was sent: %q", got)
	}
	if _, err := svc.Approve(ctx, alice, tm.ID, v.Version, "ok"); err != nil {
		t.Fatal(err)
	}
	approvedAt := time.Now()
	// The engine's cache refreshes every 500 ms here (2 s by default).
	time.Sleep(600 * time.Millisecond)
	if got := g.FirstMessage("after", nil); !strings.HasPrefix(got, "Hello Margaret, this is Test Protect. We are checking") {
		t.Fatalf("the approved version was not sent: %q", got)
	}
	t.Logf("approved change reached the sandbox %s after approval", time.Since(approvedAt).Round(time.Millisecond))
	if got := g.FirstMessage("pinned", pin(t, svc, map[string]int{"wellbeing.intro:sms:en": 1})); !strings.HasPrefix(got, "Hello Margaret, this is your GP practice for Test Protect.") {
		t.Fatalf("the pinned campaign got %q", got)
	}
}

func TestSendTestThroughSandbox(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g := gatewaytest.New(t, f.st)
	svc := templateadmin.New(templateadmin.Options{Store: f.st, Logger: quiet, Twilio: twilioapi.New(gatewaytest.SID, gatewaytest.Token, g.TwilioURL),
		TestSender: gatewaytest.Sender, Phones: phone.Parser{AllowTestNumbers: true}, TestsPerHour: 2})
	verifyPhone(t, svc, g, carol, "07700 900123")
	verifyPhone(t, svc, g, alice, "07700900124")
	codes := len(g.Sandbox.Messages())
	sms := f.template("wellbeing.ok", "sms", "en")
	voice := f.template("system.voicemail", "voice", "en")

	tests := []struct {
		name    string
		who     templateadmin.Actor
		id      int64
		req     templateadmin.TestRequest
		wantErr error
		want    string
	}{
		{"a draft body by SMS, marked as a test", carol, sms.ID, templateadmin.TestRequest{To: "07700 900123", Body: "Hi ((first_name)), are you OK?"}, nil, "[TEST] Hi Margaret, are you OK?"},
		{"a saved version by SMS", carol, sms.ID, templateadmin.TestRequest{To: "07700900123", Version: 1}, nil, "[TEST] Are you OK? Reply 1 for yes or 2 for no."},
		{"rate limited", carol, sms.ID, templateadmin.TestRequest{To: "07700900123", Version: 1}, templateadmin.ErrRateLimited, ""},
		{"another person has their own allowance: a voice script by call, said to be a test first", alice, voice.ID, templateadmin.TestRequest{To: "07700900124", Version: 1}, nil,
			templateadmin.TestCallIntro + " Hello. This is a message from Riverside Medical Centre. Please call us back on 01603 123456. Thank you."},
		{"not to a number someone else verified", alice, sms.ID, templateadmin.TestRequest{To: "07700900123", Version: 1}, templateadmin.ErrNotVerified, ""},
		{"not to a number nobody verified", alice, sms.ID, templateadmin.TestRequest{To: "07700900555", Version: 1}, templateadmin.ErrNotVerified, ""},
		{"an invalid body is not sent", alice, sms.ID, templateadmin.TestRequest{To: "07700900124", Body: "((nope))"}, templateadmin.ErrInvalid, ""},
		{"a bad number", alice, sms.ID, templateadmin.TestRequest{To: "12", Version: 1}, templateadmin.ErrInvalid, ""},
		{"a programme lead cannot send tests", pat, sms.ID, templateadmin.TestRequest{To: "07700900124", Version: 1}, templateadmin.ErrForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := svc.SendTest(ctx, tt.who, tt.id, tt.req)
			if tt.wantErr != nil {
				if !errorsIs(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				if strings.Contains(fmt.Sprint(err), "900123") || strings.Contains(fmt.Sprint(err), "900555") {
					t.Fatalf("error names the number: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Text != tt.want || res.SID == "" || strings.Contains(res.To, "900123") {
				t.Fatalf("result %+v", res)
			}
		})
	}
	var texts []string
	for _, m := range g.Sandbox.Messages()[codes:] {
		if m.Direction == "outbound-api" {
			texts = append(texts, m.Body)
		}
	}
	if len(texts) != 2 {
		t.Errorf("sandbox got %d test texts, want 2: %q", len(texts), texts)
	}
	for _, body := range texts {
		if !strings.HasPrefix(body, templateadmin.TestPrefix) {
			t.Errorf("a test text is not marked as a test: %q", body)
		}
	}
	calls := g.Sandbox.Calls()
	if len(calls) != 1 || !strings.Contains(calls[0].Twiml, "Riverside Medical Centre") ||
		!strings.Contains(calls[0].Twiml, "test call") || strings.Index(calls[0].Twiml, "test call") > strings.Index(calls[0].Twiml, "Riverside") {
		t.Errorf("sandbox calls: %+v", calls)
	}
	entries, _ := f.st.AuditLog(ctx, store.AuditQuery{Action: "template.test"})
	if len(entries) != 3 {
		t.Errorf("%d test sends audited, want 3", len(entries))
	}
	refused, _ := f.st.AuditLog(ctx, store.AuditQuery{Action: "template.test_refused"})
	if len(refused) != 2 {
		t.Errorf("%d refused test sends audited, want 2", len(refused))
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
