package escalation_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/sandbox"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

const webhookSecret = "0123456789abcdef-test-secret"

// testRouting is a small routing file; the clinical team's webhook points
// at hookURL.
func testRouting(hookURL string) string {
	return fmt.Sprintf(`
teams:
  - key: clinical
    name: Clinical team
    kind: clinical
    on_call: ["+447700900004"]
    webhook: {url: %q, secret: %q}
  - key: duty
    name: Duty manager
    kind: clinical
    on_call: ["+447700900014"]
  - key: norwich-council
    name: Norwich council
    kind: council
    on_call: ["+447700900024"]
  - key: county-council
    name: County council
    kind: council
  - key: practice-a
    name: Practice A
    kind: gp_practice
rules:
  - {categories: [clinical, medicines], practice: A81001, team: practice-a}
  - {categories: [clinical, medicines, unclear-reply], team: clinical}
  - {categories: [food], locality: Norwich, team: norwich-council}
  - {categories: [food, social], team: county-council}
default_team: county-council
urgent_team: clinical
sla: {clinical-urgent: 15m, food: 24h, default: 4h}
priority_sla: {urgent: 15m}
escalation_chain: [clinical, duty]
`, hookURL, webhookSecret)
}

// clock is a test clock that only moves when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// hook records the webhooks a team system receives.
type hook struct {
	mu   sync.Mutex
	reqs []hookReq
	fail bool
}

type hookReq struct {
	header http.Header
	body   []byte
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	h.reqs = append(h.reqs, hookReq{r.Header.Clone(), b})
}

func (h *hook) received() []hookReq {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookReq(nil), h.reqs...)
}

// env is a service on the package database with the sandbox as Twilio.
type env struct {
	t     *testing.T
	st    *store.Store
	svc   *escalation.Service
	sb    *sandbox.Server
	hook  *hook
	clock *clock
	// twilioURL is the sandbox's.
	twilioURL string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	testdb.Reset(t)
	st := testdb.Store(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sb, err := sandbox.New(sandbox.Config{AccountSID: config.SandboxAccountSID, AuthToken: config.SandboxAuthToken, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	tw := httptest.NewServer(sb)
	t.Cleanup(func() { tw.Close(); sb.Close() })
	h := &hook{}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	r, err := escalation.ParseRouting("test", []byte(testRouting(hs.URL)), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now().Truncate(time.Second)}
	svc := escalation.New(escalation.Options{Store: st, Routing: r, Logger: logger, Now: c.Now,
		Twilio: twilioapi.New(config.SandboxAccountSID, config.SandboxAuthToken, tw.URL)})
	return &env{t: t, st: st, svc: svc, sb: sb, hook: h, clock: c, twilioURL: tw.URL}
}

// patient inserts a patient and returns its ID.
func (e *env) patient(nhs, locality, practice string) int64 {
	e.t.Helper()
	var id int64
	err := e.st.Pool().QueryRow(context.Background(), `INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth,
			mobile, mobile_kind, gp_practice_code, locality)
		VALUES ($1::text, 'Ada', 'Patient'||$1::text, '1940-02-03', '+447700900100', 'mobile', $2, $3) RETURNING id`,
		nhs, practice, locality).Scan(&id)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// need records a need as the outreach engine does.
func (e *env) need(patient int64, category, priority string) {
	e.t.Helper()
	e.exec(`INSERT INTO needs (patient_id, category, priority, detail) VALUES ($1, $2, $3, 'test')`, patient, category, priority)
}

func (e *env) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.st.Pool().Exec(context.Background(), q, args...); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.st.Pool().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// intake escalates every pending need.
func (e *env) intake() {
	e.t.Helper()
	for {
		n, err := e.svc.Intake(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// deliver sends every due alert.
func (e *env) deliver() {
	e.t.Helper()
	for {
		n, err := e.svc.DeliverAlerts(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// sms lists the alert texts the sandbox received for a number.
func (e *env) sms(number string) []string {
	var out []string
	for _, m := range e.sb.Messages() {
		if m.To == number {
			out = append(out, m.Body)
		}
	}
	return out
}

func (e *env) escalation(patient int64, category string) store.Escalation {
	e.t.Helper()
	var id int64
	err := e.st.Pool().QueryRow(context.Background(), `SELECT id FROM escalations WHERE patient_id = $1 AND category = $2
		ORDER BY id DESC LIMIT 1`, patient, category).Scan(&id)
	if err != nil {
		e.t.Fatalf("escalation of %d %s: %v", patient, category, err)
	}
	esc, err := e.st.Escalation(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return esc
}
