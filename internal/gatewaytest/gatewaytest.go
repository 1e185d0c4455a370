// Package gatewaytest runs the outreach engine against the Twilio sandbox
// for tests: the engine, its queue workers, the webhooks and the sandbox,
// with texts from the database, so a test can start a one-patient
// campaign and read the message the sandbox received.
package gatewaytest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
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

// Sandbox credentials and the sender campaigns use.
const (
	SID    = config.SandboxAccountSID
	Token  = config.SandboxAuthToken
	Sender = "+447700900999"
)

// AlwaysOpen is a sending window open all week.
var AlwaysOpen = []byte(`{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"00:00","end":"24:00","timezone":"Europe/London"}`)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// NHS returns the i-th valid NHS number of a test range.
func NHS(i int) string {
	for n := 900000000 + i*7; ; n++ {
		nine := strconv.Itoa(n)
		if cd := nhsnumber.CheckDigit(nine); cd >= 0 {
			return nine + strconv.Itoa(cd)
		}
	}
}

// silent is a sandbox test number whose default persona never replies.
func silent(n int) string { return fmt.Sprintf("+447700900%03d", n*10+4) }

// patients numbers the imported patients, so each has its own NHS number
// and phone within a test binary.
var patients atomic.Int64

// ImportOne imports a cohort of one patient called given and returns
// their phone number.
func ImportOne(t *testing.T, st *store.Store, cohortName, given string) string {
	t.Helper()
	n := int(patients.Add(1))
	num := silent(n)
	csv := fmt.Sprintf("nhs_number,given_name,family_name,date_of_birth,mobile,landline\n%s,%s,Test,1950-01-01,%s,\n", NHS(n), given, num)
	sum, err := cohort.Import(context.Background(), st, strings.NewReader(csv), "test.csv", 0, io.Discard,
		cohort.Options{Cohort: cohortName, Phones: phone.Parser{AllowTestNumbers: true}})
	if err != nil || sum.Rejected > 0 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	return num
}

// Gateway is the engine, its workers, the webhooks and the sandbox, with
// texts from the database.
type Gateway struct {
	t      *testing.T
	st     *store.Store
	Engine *outreach.Engine
	// Texts serve the engine; they reload from PostgreSQL every
	// 500 ms, so a service that is not told of it still reaches it.
	Texts   *templateadmin.DBTexts
	Sandbox *sandbox.Server
	// TwilioURL is the sandbox's Twilio API.
	TwilioURL string
}

// New starts a gateway on st and the package's Redis database; everything
// stops when the test ends.
func New(t *testing.T, st *store.Store) *Gateway {
	t.Helper()
	rdb := testdb.Redis(t)
	g := &Gateway{t: t, st: st}
	var handler http.Handler = http.NotFoundHandler()
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(appSrv.Close)
	sb, err := sandbox.New(sandbox.Config{AccountSID: SID, AuthToken: Token, InboundSMSURL: appSrv.URL + "/webhooks/twilio/sms",
		CallbackDelay: 2 * time.Millisecond, ReplyDelay: 5 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	g.Sandbox = sb
	tw := httptest.NewServer(sb)
	g.TwilioURL = tw.URL
	t.Cleanup(func() { tw.Close(); sb.Close() })
	queue := asynq.NewClientFromRedisClient(rdb)
	g.Texts = templateadmin.NewDBTexts(st, 500*time.Millisecond, quiet)
	g.Engine = outreach.New(outreach.Options{Store: st, Twilio: twilioapi.New(SID, Token, tw.URL), Queue: queue,
		Limiter: ratelimit.NewLimiter(rdb, "test:rate:"), Texts: g.Texts, PublicURL: appSrv.URL, Logger: quiet, StaleAfter: time.Second})
	handler = server.New(&app.Runtime{Store: st, Redis: rdb, Logger: quiet},
		&webhooks.Handler{Engine: g.Engine, AccountSID: SID, AuthToken: Token, PublicURL: appSrv.URL, Logger: quiet})
	workers := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 4, TaskCheckInterval: 20 * time.Millisecond,
		Queues: map[string]int{outreach.QueueSMS: 1, outreach.QueueCall: 1}, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(outreach.TaskSend, g.Engine.HandleSend)
	if err := workers.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(workers.Shutdown)
	return g
}

// FirstMessage starts a one-patient campaign called name (made unique to
// the test) and returns the first message the sandbox receives for the
// patient, Margaret. beforeStart, when not nil, runs on the draft
// campaign (to pin templates, say).
func (g *Gateway) FirstMessage(name string, beforeStart func(campaignID int64)) string {
	g.t.Helper()
	ctx := context.Background()
	name = g.t.Name() + " " + name
	num := ImportOne(g.t, g.st, name, "Margaret")
	c, err := g.Engine.CreateCampaign(ctx, outreach.CampaignSpec{Name: name, Cohort: name, Sender: Sender, Pace: 50,
		Window: AlwaysOpen, ProgrammeName: "Test Protect", TeamPhone: "01603 000000", CreatedBy: "test"})
	if err != nil {
		g.t.Fatal(err)
	}
	if beforeStart != nil {
		beforeStart(c.ID)
	}
	if _, err := g.Engine.Start(ctx, c.ID, "test"); err != nil {
		g.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range g.Sandbox.Messages() {
			if m.To == num && m.Direction == "outbound-api" {
				return m.Body
			}
		}
		if err := g.Engine.Dispatch(ctx); err != nil {
			g.t.Fatal(err)
		}
		if err := g.Engine.Reconcile(ctx); err != nil {
			g.t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.t.Fatalf("no message reached %s", name)
	return ""
}
