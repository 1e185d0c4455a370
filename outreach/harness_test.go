package outreach_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/ivr"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/outreach/cohort"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/ratelimit"
	"github.com/protectnow/protect/sandbox"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
	"github.com/protectnow/protect/webhooks"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// The sandbox's credentials and sender, and a calling window that is open
// whenever a test runs, as every gateway test uses them.
const (
	sid    = gatewaytest.SID
	token  = gatewaytest.Token
	sender = gatewaytest.Sender
)

var alwaysOpen = gatewaytest.AlwaysOpen

// fastPolicy texts twice; waits are cut short in tests by expiring them.
var fastPolicy = []byte(`{"steps":[{"channel":"sms","wait":"1h"},{"channel":"sms","wait":"1h"}],"conversation_timeout":"1h"}`)

// harness is a whole gateway on loopback: PostgreSQL, Redis, queue workers,
// the webhook server and the Twilio sandbox, with twilio-go in between.
type harness struct {
	t       *testing.T
	st      *store.Store
	engine  *outreach.Engine
	sb      *sandbox.Server
	app     *httptest.Server
	twilio  *httptest.Server
	workers *asynq.Server
	queue   *asynq.Client
	rdb     *redis.Client
	mu      sync.Mutex
	stopped bool
	// net switches the network between the engine and the sandbox off
	// and on (harnessOptions.switchableNet).
	net *switchNet
	// ops records the operations alerts the webhook received.
	ops *opsRecorder
}

// harnessOptions vary a harness.
type harnessOptions struct {
	// sandbox edits the sandbox's configuration.
	sandbox func(*sandbox.Config)
	// holdAfterFaults and faultWindow set the engine's; 0: defaults.
	holdAfterFaults int
	faultWindow     time.Duration
	// switchableNet serves the sandbox on a listener the test can close
	// and open again (h.net).
	switchableNet bool
}

func newHarness(t *testing.T, edit func(*sandbox.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, harnessOptions{sandbox: edit})
}

func newHarnessWith(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	edit := o.sandbox
	testdb.Reset(t)
	st := testdb.Store(t)
	rdb := testdb.Redis(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h := &harness{t: t, st: st, rdb: rdb}
	var handler http.Handler = http.NotFoundHandler()
	h.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(h.app.Close)

	cfg := sandbox.Config{AccountSID: sid, AuthToken: token, InboundSMSURL: h.app.URL + "/webhooks/twilio/sms",
		CallbackDelay: 2 * time.Millisecond, ReplyDelay: 5 * time.Millisecond, Logger: logger}
	if edit != nil {
		edit(&cfg)
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.sb = sb
	if o.switchableNet {
		h.twilio, h.net = serveSwitchable(t, sb)
	} else {
		h.twilio = httptest.NewServer(sb)
	}
	t.Cleanup(func() { h.twilio.Close(); sb.Close() })
	h.ops = newOpsRecorder(t, logger)

	h.queue = asynq.NewClientFromRedisClient(rdb)
	h.engine = outreach.New(outreach.Options{Store: st, Twilio: twilioapi.New(sid, token, h.twilio.URL), Queue: h.queue,
		Limiter: ratelimit.NewLimiter(rdb, "test:rate:"), PublicURL: h.app.URL, Logger: logger, StaleAfter: time.Second,
		Faults: ratelimit.NewWindowCounter(rdb, "test:gwfaults:"), HoldAfterFaults: o.holdAfterFaults, FaultWindow: o.faultWindow,
		Ops: h.ops.notifier})
	// Voice calls through the IVR, capped per caller number.
	voice := ivr.New(ivr.Options{Engine: h.engine, Store: st, Twilio: twilioapi.New(sid, token, h.twilio.URL),
		Calls: ratelimit.NewSemaphore(rdb, "test:calls:"), MaxCalls: 4, PublicURL: h.app.URL, Logger: logger})
	h.engine.SetCaller(voice)
	rt := &app.Runtime{Store: st, Redis: rdb, Logger: logger}
	handler = server.New(rt, &webhooks.Handler{Engine: h.engine, AccountSID: sid, AuthToken: token, PublicURL: h.app.URL, Logger: logger,
		Extra: voice.Register})

	h.workers = asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 8, TaskCheckInterval: 20 * time.Millisecond,
		Queues: map[string]int{outreach.QueueSMS: 1, outreach.QueueCall: 1}, LogLevel: asynq.FatalLevel,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return 50 * time.Millisecond }})
	mux := asynq.NewServeMux()
	mux.HandleFunc(outreach.TaskSend, h.engine.HandleSend)
	if err := h.workers.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.stopWorkers)
	return h
}

func (h *harness) stopWorkers() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.stopped {
		h.workers.Shutdown()
		h.stopped = true
	}
}

// patient is a cohort row for a simulated patient.
type patient struct {
	nhs, given, mobile, landline string
}

// importCohort imports patients into a cohort through the real importer.
func (h *harness) importCohort(name string, ps []patient) {
	h.t.Helper()
	var b strings.Builder
	b.WriteString("nhs_number,given_name,family_name,date_of_birth,mobile,landline,locality\n")
	for _, p := range ps {
		fmt.Fprintf(&b, "%s,%s,Test,%s,%s,%s,Norwich\n", p.nhs, p.given, birthDate(p.mobile), p.mobile, p.landline)
	}
	sum, err := cohort.Import(context.Background(), h.st, strings.NewReader(b.String()), "test.csv", 0, io.Discard,
		cohort.Options{Cohort: name, Phones: phone.Parser{AllowTestNumbers: true}})
	if err != nil || sum.Rejected > 0 {
		h.t.Fatalf("import: %+v %v", sum, err)
	}
}

// birthDate is a test patient's date of birth: the one the sandbox's
// default persona of their mobile types at a call's identity check, else
// 1 January 1950.
func birthDate(mobile string) string {
	if d := sandbox.DefaultBirthDate(mobile); d != "" {
		return d
	}
	return "1950-01-01"
}

func (h *harness) campaign(name, cohortName string, pace float64, policy []byte) store.Campaign {
	h.t.Helper()
	c, err := h.engine.CreateCampaign(context.Background(), outreach.CampaignSpec{Name: name, Cohort: cohortName,
		Sender: sender, Pace: pace, Window: alwaysOpen, Policy: policy, ProgrammeName: "Test Protect", TeamPhone: "01603 000000", CreatedBy: "test"})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// startAlone starts campaign c with the workers stopped, so that nobody
// but the test takes its work, and returns its (first) attempt.
func (h *harness) startAlone(c store.Campaign) int64 {
	h.t.Helper()
	h.stopWorkers()
	if _, err := h.engine.Start(context.Background(), c.ID, "test"); err != nil {
		h.t.Fatal(err)
	}
	var attemptID int64
	if err := h.st.Pool().QueryRow(context.Background(), `SELECT id FROM attempts WHERE campaign_id = $1 ORDER BY id LIMIT 1`, c.ID).Scan(&attemptID); err != nil {
		h.t.Fatal(err)
	}
	return attemptID
}

// eventually polls cond until it holds or 15 seconds pass, running the
// dispatcher and sweeper between polls as a worker process would.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			rows, _ := h.st.Pool().Query(ctx, `SELECT a.id, a.state, a.to_number, coalesce(a.error_code, 0), a.error_message, cp.state, coalesce(cp.outcome, '')
				FROM attempts a JOIN campaign_patients cp USING (campaign_id, patient_id) ORDER BY a.id`)
			for rows.Next() {
				var id int64
				var st, to, msg, cps, oc string
				var code int
				rows.Scan(&id, &st, &to, &code, &msg, &cps, &oc)
				h.t.Logf("attempt %d %s %s code=%d %q journey=%s %s", id, st, to, code, msg, cps, oc)
			}
			rows.Close()
			h.t.Fatalf("timed out waiting for %s", what)
		}
		if err := h.engine.Dispatch(ctx); err != nil {
			h.t.Fatal(err)
		}
		if err := h.engine.Sweep(ctx); err != nil {
			h.t.Fatal(err)
		}
		if err := h.engine.Reconcile(ctx); err != nil {
			h.t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) status(id int64) store.CampaignCounts {
	h.t.Helper()
	s, err := h.st.CampaignStatus(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// heldFor runs the engine's loops for d while a sender is held and checks
// that nothing was sent, failed or moved on: every attempt of the campaign
// is still in one of the states (an SQL list), one for each of its
// patients, and a probe while the fault lasts keeps the hold.
func (h *harness) heldFor(t *testing.T, d time.Duration, campaignID int64, patients int, states string) {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		h.engine.Dispatch(ctx)
		h.engine.Reconcile(ctx)
		h.engine.Sweep(ctx)
	}
	if got := h.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1 AND state NOT IN (`+states+`)`, campaignID); got != 0 {
		t.Fatalf("%d attempts left the plan while the sender was held", got)
	}
	if got := h.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1`, campaignID); got != patients {
		t.Fatalf("patients moved on: %d attempts", got)
	}
	h.exec(`UPDATE sender_holds SET probe_at = now()`)
	if err := h.engine.ProbeHolds(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.count(`SELECT count(*) FROM sender_holds`); got != 1 {
		t.Fatal("hold released while the fault lasts")
	}
}

func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.st.Pool().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) exec(q string, args ...any) {
	h.t.Helper()
	if _, err := h.st.Pool().Exec(context.Background(), q, args...); err != nil {
		h.t.Fatal(err)
	}
}

// sentTo counts the messages the sandbox received from the gateway for a
// number, as attempts (not TwiML replies).
func (h *harness) sentTo(number string) int {
	n := 0
	for _, m := range h.sb.Messages() {
		if m.To == number && m.Direction == "outbound-api" {
			n++
		}
	}
	return n
}

// post sends a signed (or not) form to the gateway.
func (h *harness) post(path string, form url.Values, sign bool) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.app.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign {
		req.Header.Set("X-Twilio-Signature", twilioapi.Sign(token, h.app.URL+path, form))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// restart starts a fresh set of workers (a new process after a crash).
func restart(t *testing.T, h *harness) {
	t.Helper()
	h.mu.Lock()
	h.workers = asynq.NewServerFromRedisClient(h.rdb, asynq.Config{Concurrency: 4, TaskCheckInterval: 20 * time.Millisecond,
		Queues: map[string]int{outreach.QueueSMS: 1, outreach.QueueCall: 1}, LogLevel: asynq.FatalLevel})
	h.stopped = false
	h.mu.Unlock()
	mux := asynq.NewServeMux()
	mux.HandleFunc(outreach.TaskSend, h.engine.HandleSend)
	if err := h.workers.Start(mux); err != nil {
		t.Fatal(err)
	}
}

func testdbRedisFlush(t *testing.T) error {
	return testdb.Redis(t).FlushDB(context.Background()).Err()
}
