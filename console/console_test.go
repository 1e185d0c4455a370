package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/console"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/sandbox"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
	"github.com/protectnow/protect/twilioapi"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

const routingYAML = `
teams:
  - {key: norwich-council, name: Norwich council, kind: council}
  - {key: county-council, name: County council, kind: council}
  - {key: clinical, name: Clinical team, kind: clinical}
rules:
  - {categories: [food], locality: Norwich, team: norwich-council}
  - {categories: ["*"], team: county-council}
default_team: county-council
urgent_team: clinical
sla: {default: 4h}
`

const password = "correct horse battery"

// site is a gateway HTTP server with the console, and two escalations: one
// for the Norwich team (Ada) and one for the county team (Bob). Its
// templates are the shipped ones; cara and ann are comms leads, and ann
// has the approver right.
type site struct {
	t       *testing.T
	url     string
	st      *store.Store
	svc     *escalation.Service
	tpl     *templateadmin.Service
	mine    int64 // Norwich escalation
	theirs  int64 // county escalation
	adaID   int64
	bobID   int64
	sandbox *sandbox.Server
}

// freshSite empties the package's database and returns its store, the
// test routing and a logger that writes nowhere: what every test site
// starts from.
func freshSite(t *testing.T) (*store.Store, *escalation.Routing, *slog.Logger) {
	t.Helper()
	testdb.Reset(t)
	r, err := escalation.ParseRouting("test", []byte(routingYAML), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	return testdb.Store(t), r, slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newSite(t *testing.T, opts ...func(*console.Options)) *site {
	t.Helper()
	st, r, logger := freshSite(t)
	ctx := context.Background()
	// Texts sent from the console reach the Twilio sandbox.
	sb, err := sandbox.New(sandbox.Config{AccountSID: config.SandboxAccountSID, AuthToken: config.SandboxAuthToken,
		CallbackDelay: 2 * time.Millisecond, ReplyDelay: 5 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	tw := httptest.NewServer(sb)
	t.Cleanup(func() { tw.Close(); sb.Close() })
	svc := escalation.New(escalation.Options{Store: st, Routing: r, Logger: logger,
		Twilio: twilioapi.New(config.SandboxAccountSID, config.SandboxAuthToken, tw.URL)})
	if _, err := templateadmin.Seed(ctx, st); err != nil {
		t.Fatal(err)
	}
	tpl := templateadmin.New(templateadmin.Options{Store: st, Logger: logger})
	o := console.Options{Service: svc, Store: st, Templates: tpl, SessionKey: strings.Repeat("k", 32), Logger: logger,
		Redis: testdb.Redis(t)}
	for _, f := range opts {
		f(&o)
	}
	con, err := console.New(o)
	if err != nil {
		t.Fatal(err)
	}
	h := server.New(&app.Runtime{Store: st, Redis: testdb.Redis(t), Logger: logger}, con)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s := &site{t: t, url: srv.URL, st: st, svc: svc, tpl: tpl, sandbox: sb}

	hash, err := console.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name, role string
		teams      []string
	}{{"nina", store.RoleHandler, []string{"norwich-council"}}, {"colin", store.RoleHandler, []string{"county-council"}},
		{"admin", store.RoleAdmin, nil}, {"cara", store.RoleCommsLead, nil}, {"ann", store.RoleCommsLead, nil},
		{"paul", store.RoleProgrammeLead, nil}} {
		if _, err := st.CreateUser(ctx, u.name, u.role, hash, u.teams, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := tpl.GrantApprover(ctx, templateadmin.Actor{Name: "user:admin", Role: store.RoleAdmin}, "user:ann"); err != nil {
		t.Fatal(err)
	}
	add := func(nhs, given, locality string) int64 {
		var id int64
		err := st.Pool().QueryRow(ctx, `INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth, locality)
			VALUES ($1, $2, 'Tester', '1941-05-06', $3) RETURNING id`, nhs, given, locality).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.Pool().Exec(ctx, `INSERT INTO needs (patient_id, category, priority, detail) VALUES ($1, 'food', 'normal', 'answered 2 to food')`, id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	s.adaID = add("9434765919", "Ada", "Norwich")
	s.bobID = add("9434765870", "Bob", "Diss")
	for {
		n, err := svc.Intake(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	err = st.Pool().QueryRow(ctx, `SELECT id FROM escalations WHERE patient_id = $1`, s.adaID).Scan(&s.mine)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Pool().QueryRow(ctx, `SELECT id FROM escalations WHERE patient_id = $1`, s.bobID).Scan(&s.theirs); err != nil {
		t.Fatal(err)
	}
	return s
}

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t   *testing.T
	s   *site
	c   *http.Client
	jar http.CookieJar
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, s: s, jar: jar, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.Get(b.s.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func (b *browser) post(path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.s.url+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", page)
	}
	return m[1]
}

func (b *browser) login(name, pw string) int {
	b.t.Helper()
	_, page, _ := b.get("/console/login")
	code, _, _ := b.post("/console/login", url.Values{"csrf": {csrfOf(b.t, page)}, "name": {name}, "password": {pw}})
	return code
}

func (s *site) count(q string, args ...any) int {
	s.t.Helper()
	var n int
	if err := s.st.Pool().QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

func TestLoginAndSessions(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	if code, _, h := b.get("/console/inbox"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/console/login") {
		t.Fatalf("inbox without a session: %d %s", code, h.Get("Location"))
	}
	tests := []struct {
		name, pw string
		want     int
	}{
		{"nina", "wrong password!", http.StatusUnauthorized},
		{"nobody", password, http.StatusUnauthorized},
		{"nina", password, http.StatusSeeOther},
	}
	for _, tc := range tests {
		if got := b.login(tc.name, tc.pw); got != tc.want {
			t.Errorf("log in %s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'login.failed'`); n != 2 {
		t.Errorf("%d failed log-ins audited, want 2", n)
	}
	u, _ := url.Parse(s.url + "/console/")
	var session *http.Cookie
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "protect_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	// The jar does not keep attributes: check them on a fresh log-in.
	_, page, _ := s.browser().get("/console/login")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
		Do(loginRequest(t, s.url, page))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	found := false
	for _, c := range resp.Cookies() {
		if c.Name == "protect_session" {
			found = true
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console" {
				t.Errorf("session cookie attributes: %+v", c)
			}
		}
	}
	if !found {
		t.Error("fresh log-in set no session cookie (login cookie missing?)")
	}

	// A login form posted without its cookie (another site) is refused.
	if code, _, _ := s.browser().post("/console/login", url.Values{"csrf": {"x"}, "name": {"nina"}, "password": {password}}); code != http.StatusForbidden {
		t.Errorf("login without CSRF: %d", code)
	}

	// Log out ends the session on the server.
	_, inbox, _ := b.get("/console/inbox")
	if code, _, _ := b.post("/console/logout", url.Values{"csrf": {csrfOf(t, inbox)}}); code != http.StatusSeeOther {
		t.Fatalf("log out: %d", code)
	}
	if n := s.count(`SELECT count(*) FROM sessions`); n != 1 { // the fresh log-in's
		t.Errorf("%d sessions after log-out, want 1", n)
	}
	if code, _, _ := b.get("/console/inbox"); code != http.StatusSeeOther {
		t.Errorf("inbox after log-out: %d", code)
	}
}

// loginRequest builds a log-in post carrying the login cookie of page's
// response; it fetches the form again to get both together.
func loginRequest(t *testing.T, base, _ string) *http.Request {
	t.Helper()
	resp, err := http.Get(base + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"csrf": {csrfOf(t, string(body))}, "name": {"nina"}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, base+"/console/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range resp.Cookies() {
		req.AddCookie(c)
	}
	return req
}

func TestInboxClaimResolveAndScoping(t *testing.T) {
	s := newSite(t)
	nina := s.browser()
	if code := nina.login("nina", password); code != http.StatusSeeOther {
		t.Fatalf("log in: %d", code)
	}
	code, inbox, h := nina.get("/console/inbox")
	if code != http.StatusOK || !strings.Contains(inbox, "Ada Tester") || strings.Contains(inbox, "Bob Tester") {
		t.Fatalf("inbox %d:\n%s", code, inbox)
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("Cache-Control") != "no-store" {
		t.Errorf("security headers: %v", h)
	}
	csrf := csrfOf(t, inbox)
	mine := fmt.Sprintf("/console/escalations/%d", s.mine)
	theirs := fmt.Sprintf("/console/escalations/%d", s.theirs)

	steps := []struct {
		name   string
		method string
		path   string
		form   url.Values
		want   int
		state  string // of my escalation afterwards
	}{
		{"view mine", "GET", mine, nil, 200, "open"},
		{"claim without CSRF", "POST", mine + "/claim", url.Values{}, 403, "open"},
		{"claim with a wrong CSRF", "POST", mine + "/claim", url.Values{"csrf": {csrf + "x"}}, 403, "open"},
		{"claim", "POST", mine + "/claim", url.Values{"csrf": {csrf}}, 303, "claimed"},
		{"claim again", "POST", mine + "/claim", url.Values{"csrf": {csrf}}, 409, "claimed"},
		{"note", "POST", mine + "/note", url.Values{"csrf": {csrf}, "note": {"phoned, no answer"}}, 303, "claimed"},
		{"empty note", "POST", mine + "/note", url.Values{"csrf": {csrf}, "note": {"  "}}, 400, "claimed"},
		{"bad outcome", "POST", mine + "/resolve", url.Values{"csrf": {csrf}, "outcome": {"magic"}}, 400, "claimed"},
		{"view theirs", "GET", theirs, nil, 404, "claimed"},
		{"claim theirs", "POST", theirs + "/claim", url.Values{"csrf": {csrf}}, 404, "claimed"},
		{"their patient", "GET", fmt.Sprintf("/console/patients/%d", s.bobID), nil, 404, "claimed"},
		{"their inbox", "GET", "/console/inbox?team=county-council", nil, 404, "claimed"},
		{"audit log", "GET", "/console/audit", nil, 403, "claimed"},
		{"my patient", "GET", fmt.Sprintf("/console/patients/%d", s.adaID), nil, 200, "claimed"},
		{"record contact", "POST", fmt.Sprintf("/console/patients/%d/contacts", s.adaID),
			url.Values{"csrf": {csrf}, "team": {"norwich-council"}, "method": {"phone"}, "outcome": {"no_answer"}}, 303, "claimed"},
		{"resolve", "POST", mine + "/resolve", url.Values{"csrf": {csrf}, "outcome": {"helped"}, "note": {"parcel delivered"}}, 303, "resolved"},
	}
	for _, st := range steps {
		var code int
		var body string
		if st.method == "GET" {
			code, body, _ = nina.get(st.path)
		} else {
			code, body, _ = nina.post(st.path, st.form)
		}
		if code != st.want {
			t.Fatalf("%s: %d, want %d\n%s", st.name, code, st.want, body)
		}
		var state string
		if err := s.st.Pool().QueryRow(context.Background(), `SELECT state FROM escalations WHERE id = $1`, s.mine).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state != st.state {
			t.Fatalf("%s: escalation %s, want %s", st.name, state, st.state)
		}
	}
	if n := s.count(`SELECT count(*) FROM escalations WHERE id = $1 AND state = 'open'`, s.theirs); n != 1 {
		t.Fatal("the other team's escalation changed")
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE actor = 'user:nina' AND action = 'access.denied'`); n != 4 {
		t.Fatalf("%d access.denied entries for nina, want 4", n)
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE actor = 'user:nina' AND action = 'csrf.refused'`); n != 2 {
		t.Fatalf("%d csrf.refused entries, want 2", n)
	}
	_, page, _ := nina.get(fmt.Sprintf("/console/patients/%d", s.adaID))
	for _, want := range []string{"Phoned: No answer", "Resolved: Food or shopping", "Claimed: Food or shopping", "Ada"} {
		if !strings.Contains(page, want) {
			t.Errorf("patient timeline lacks %q", want)
		}
	}

	// The admin sees the audit log of all this; comms leads see no patients.
	admin := s.browser()
	admin.login("admin", password)
	code, audit, _ := admin.get("/console/audit?actor=user:nina")
	if code != 200 {
		t.Fatalf("audit page: %d", code)
	}
	for _, want := range []string{"escalation.claim", "escalation.resolve", "access.denied", "patient.view", "contact.record"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit page lacks %s", want)
		}
	}
	cara := s.browser()
	cara.login("cara", password)
	if code, _, _ := cara.get("/console/inbox"); code != http.StatusForbidden {
		t.Errorf("comms lead inbox: %d", code)
	}
}

func TestOverdueMarked(t *testing.T) {
	s := newSite(t)
	if _, err := s.st.Pool().Exec(context.Background(), `UPDATE escalations SET due_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.login("admin", password)
	_, page, _ := b.get("/console/inbox")
	if strings.Count(page, "OVERDUE") != 2 || !strings.Contains(page, "2 overdue") {
		t.Fatalf("overdue not marked:\n%s", page)
	}
}
