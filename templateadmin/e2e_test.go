package templateadmin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/nhsnumber"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/outreach/cohort"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/ratelimit"
	"github.com/protectnow/protect/sandbox"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
	"github.com/protectnow/protect/twilioapi"
	"github.com/protectnow/protect/webhooks"
)

const (
	sid    = config.SandboxAccountSID
	token  = config.SandboxAuthToken
	sender = "+447700900999"
)

var alwaysOpen = []byte(`{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"00:00","end":"24:00","timezone":"Europe/London"}`)

// nhs returns the i-th valid NHS number of a test range.
func nhs(i int) string {
	for n := 900000000 + i*7; ; n++ {
		nine := strconv.Itoa(n)
		if cd := nhsnumber.CheckDigit(nine); cd >= 0 {
			return nine + strconv.Itoa(cd)
		}
	}
}

// silent is a sandbox test number whose default persona never replies.
func silent(n int) string { return fmt.Sprintf("+447700900%03d", n*10+4) }

var patients = 0

// importOne imports a cohort of one patient and returns their number.
func importOne(t *testing.T, st *store.Store, name, given string) string {
	t.Helper()
	patients++
	num := silent(patients)
	csv := fmt.Sprintf("nhs_number,given_name,family_name,date_of_birth,mobile,landline\n%s,%s,Test,1950-01-01,%s,\n", nhs(patients), given, num)
	sum, err := cohort.Import(context.Background(), st, strings.NewReader(csv), "test.csv", 0, io.Discard,
		cohort.Options{Cohort: name, Phones: phone.Parser{AllowTestNumbers: true}})
	if err != nil || sum.Rejected > 0 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	return num
}

// newCampaign makes a draft campaign over a one-patient cohort.
func newCampaign(t *testing.T, st *store.Store, name string) int64 {
	t.Helper()
	importOne(t, st, name, "Pinned")
	eng := outreach.New(outreach.Options{Store: st, Texts: templateadmin.NewDBTexts(st, 0, quiet), Logger: quiet})
	c, err := eng.CreateCampaign(context.Background(), outreach.CampaignSpec{Name: name, Cohort: name, Sender: sender, Pace: 10,
		Window: alwaysOpen, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// gateway is the engine, its workers, the webhooks and the sandbox, with
// texts from the database. The service that approves has no link to the
// engine's DBTexts: the change must reach it through PostgreSQL, as it
// would in another process.
type gateway struct {
	t      *testing.T
	st     *store.Store
	engine *outreach.Engine
	sb     *sandbox.Server
	twilio *httptest.Server
}

func newGateway(t *testing.T, st *store.Store) *gateway {
	t.Helper()
	rdb := testdb.Redis(t)
	g := &gateway{t: t, st: st}
	var handler http.Handler = http.NotFoundHandler()
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(appSrv.Close)
	sb, err := sandbox.New(sandbox.Config{AccountSID: sid, AuthToken: token, InboundSMSURL: appSrv.URL + "/webhooks/twilio/sms",
		CallbackDelay: 2 * time.Millisecond, ReplyDelay: 5 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	g.sb = sb
	g.twilio = httptest.NewServer(sb)
	t.Cleanup(func() { g.twilio.Close(); sb.Close() })
	queue := asynq.NewClientFromRedisClient(rdb)
	texts := templateadmin.NewDBTexts(st, 500*time.Millisecond, quiet)
	g.engine = outreach.New(outreach.Options{Store: st, Twilio: twilioapi.New(sid, token, g.twilio.URL), Queue: queue,
		Limiter: ratelimit.NewLimiter(rdb, "test:rate:"), Texts: texts, PublicURL: appSrv.URL, Logger: quiet, StaleAfter: time.Second})
	handler = server.New(&app.Runtime{Store: st, Redis: rdb, Logger: quiet},
		&webhooks.Handler{Engine: g.engine, AccountSID: sid, AuthToken: token, PublicURL: appSrv.URL, Logger: quiet})
	workers := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 4, TaskCheckInterval: 20 * time.Millisecond,
		Queues: map[string]int{outreach.QueueSMS: 1, outreach.QueueCall: 1}, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(outreach.TaskSend, g.engine.HandleSend)
	if err := workers.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(workers.Shutdown)
	return g
}

// firstMessage starts a one-patient campaign and returns the first
// message the sandbox receives for the patient.
func (g *gateway) firstMessage(name string, pins map[string]int, svc *templateadmin.Service) string {
	g.t.Helper()
	ctx := context.Background()
	name = g.t.Name() + " " + name
	num := importOne(g.t, g.st, name, "Margaret")
	c, err := g.engine.CreateCampaign(ctx, outreach.CampaignSpec{Name: name, Cohort: name, Sender: sender, Pace: 50,
		Window: alwaysOpen, ProgrammeName: "Test Protect", TeamPhone: "01603 000000", CreatedBy: "test"})
	if err != nil {
		g.t.Fatal(err)
	}
	if pins != nil {
		if err := svc.SetPins(ctx, pat, c.ID, pins); err != nil {
			g.t.Fatal(err)
		}
		// Like an approval, a pin reaches another process's cache
		// within its refresh interval.
		time.Sleep(600 * time.Millisecond)
	}
	if _, err := g.engine.Start(ctx, c.ID, "test"); err != nil {
		g.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range g.sb.Messages() {
			if m.To == num && m.Direction == "outbound-api" {
				return m.Body
			}
		}
		if err := g.engine.Dispatch(ctx); err != nil {
			g.t.Fatal(err)
		}
		if err := g.engine.Reconcile(ctx); err != nil {
			g.t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.t.Fatalf("no message reached %s", name)
	return ""
}

// An approved change appears in the next message the sandbox receives; a
// draft or pending change never does; a pinned campaign keeps its wording.
func TestApprovedChangeReachesTheNextMessage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// The service knows nothing of the gateway's texts.
	svc := templateadmin.New(templateadmin.Options{Store: f.st, Logger: quiet})
	g := newGateway(t, f.st)
	tm := f.template("wellbeing.intro", "sms", "en")

	first := g.firstMessage("before", nil, svc)
	if !strings.HasPrefix(first, "Hello Margaret, this is your GP practice. We are checking") {
		t.Fatalf("first message %q", first)
	}
	const changed = "Hello ((first_name)), this is ((programme_name)). We are checking on people who may need extra support. Please answer a few short questions. Reply STOP to opt out."
	v, _, err := svc.SaveDraft(ctx, carol, tm.ID, templateadmin.Draft{Body: changed})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.firstMessage("with a draft", nil, svc); !strings.HasPrefix(got, "Hello Margaret, this is your GP practice.") {
		t.Fatalf("a draft was sent: %q", got)
	}
	if _, err := svc.Submit(ctx, carol, tm.ID, v.Version); err != nil {
		t.Fatal(err)
	}
	if got := g.firstMessage("pending", nil, svc); !strings.HasPrefix(got, "Hello Margaret, this is your GP practice.") {
		t.Fatalf("a pending version was sent: %q", got)
	}
	if _, err := svc.Approve(ctx, alice, tm.ID, v.Version, "ok"); err != nil {
		t.Fatal(err)
	}
	approvedAt := time.Now()
	// The engine's cache refreshes every 500 ms here (2 s by default).
	time.Sleep(600 * time.Millisecond)
	if got := g.firstMessage("after", nil, svc); !strings.HasPrefix(got, "Hello Margaret, this is Test Protect. We are checking") {
		t.Fatalf("the approved version was not sent: %q", got)
	}
	t.Logf("approved change reached the sandbox %s after approval", time.Since(approvedAt).Round(time.Millisecond))
	if got := g.firstMessage("pinned", map[string]int{"wellbeing.intro:sms:en": 1}, svc); !strings.HasPrefix(got, "Hello Margaret, this is your GP practice.") {
		t.Fatalf("the pinned campaign got %q", got)
	}
}

func TestSendTestThroughSandbox(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g := newGateway(t, f.st)
	svc := templateadmin.New(templateadmin.Options{Store: f.st, Logger: quiet, Twilio: twilioapi.New(sid, token, g.twilio.URL),
		TestSender: sender, Phones: phone.Parser{AllowTestNumbers: true}, TestsPerHour: 2})
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
		{"a draft body by SMS", carol, sms.ID, templateadmin.TestRequest{To: "07700 900123", Body: "Hi ((first_name)), are you OK?"}, nil, "Hi Margaret, are you OK?"},
		{"a saved version by SMS", carol, sms.ID, templateadmin.TestRequest{To: "07700900123", Version: 1}, nil, "Are you OK? Reply 1 for yes or 2 for no."},
		{"rate limited", carol, sms.ID, templateadmin.TestRequest{To: "07700900123", Version: 1}, templateadmin.ErrRateLimited, ""},
		{"another person has their own allowance: a voice script by call", alice, voice.ID, templateadmin.TestRequest{To: "07700900124", Version: 1}, nil,
			"Hello. This is a message from Riverside Medical Centre. Please call us back on 01603 123456. Thank you."},
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
	var texts int
	for _, m := range g.sb.Messages() {
		if m.Direction == "outbound-api" {
			texts++
		}
	}
	if texts != 2 {
		t.Errorf("sandbox got %d test texts, want 2", texts)
	}
	if calls := g.sb.Calls(); len(calls) != 1 || !strings.Contains(calls[0].Twiml, "Riverside Medical Centre") {
		t.Errorf("sandbox calls: %+v", calls)
	}
	entries, _ := f.st.AuditLog(ctx, store.AuditQuery{Action: "template.test"})
	if len(entries) != 3 {
		t.Errorf("%d test sends audited, want 3", len(entries))
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
