package console_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/console"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
)

// campaignSite is a console with the campaign pages, a cohort of patients
// in two localities and three practices, and users of every role.
type campaignSite struct {
	site
	eng    *outreach.Engine
	cohort string
	// nhs maps a patient's name to their NHS number.
	nhs map[string]string
}

// alwaysOpen is a window open at any time, so tests do not depend on the
// hour they run at.
const alwaysOpen = `{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00", "bank_holidays": "none"}`

// cohortPatients: name, NHS number, locality, practice, mobile ("" for
// none).
var cohortPatients = [][5]string{
	{"Ada", "9434765919", "Norwich", "D82001", "+447700900101"},
	{"Bob", "9434765870", "Norwich", "D82002", "+447700900102"},
	{"=cmd|' /C calc'!A0", "9434765862", "Norwich", "D82001", "+447700900103"},
	{"Dot", "9434765846", "Diss", "D82003", "+447700900104"},
	{"Eve", "9434765838", "Diss", "D82003", "+447700900105"},
	{"Fay", "9434765811", "Norwich", "D82002", ""},
	{"Gus", "9434765803", "Diss", "D82003", ""},
	{"Hal", "9434765897", "Norwich", "D82001", "+447700900108"},
}

func newCampaignSite(t *testing.T, opts ...func(*console.Options)) *campaignSite {
	t.Helper()
	st, r, logger := freshSite(t)
	ctx := context.Background()
	svc := escalation.New(escalation.Options{Store: st, Routing: r, Logger: logger})
	eng := outreach.New(outreach.Options{Store: st, Logger: logger, Voice: true})
	o := console.Options{Service: svc, Store: st, SessionKey: strings.Repeat("k", 32), Logger: logger,
		Engine: eng, ReportMaxAge: 1} // figures always fresh: tests look right after changes
	for _, f := range opts {
		f(&o)
	}
	con, err := console.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(&app.Runtime{Store: st, Redis: testdb.Redis(t), Logger: logger}, con))
	t.Cleanup(srv.Close)
	s := &campaignSite{site: site{t: t, url: srv.URL, st: st, svc: svc}, eng: eng, cohort: "shielding", nhs: map[string]string{}}
	hash, err := console.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct{ name, role string }{{"nina", store.RoleHandler}, {"cara", store.RoleCommsLead},
		{"paul", store.RoleProgrammeLead}, {"admin", store.RoleAdmin}} {
		var teams []string
		if u.role == store.RoleHandler {
			teams = []string{"norwich-council"}
		}
		if _, err := st.CreateUser(ctx, u.name, u.role, hash, teams, "test"); err != nil {
			t.Fatal(err)
		}
	}
	co, err := st.EnsureCohort(ctx, s.cohort)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][3]string{{"D82001", "Example Surgery", "Norwich"}, {"D82002", "Riverside Practice", "Norwich"}, {"D82003", "Diss Health Centre", "Diss"}} {
		if _, err := st.Pool().Exec(ctx, `INSERT INTO practices (code, name, locality) VALUES ($1, $2, $3)`, p[0], p[1], p[2]); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range cohortPatients {
		var mobile, kind any
		if p[4] != "" {
			mobile, kind = p[4], "mobile"
		}
		var id int64
		err := st.Pool().QueryRow(ctx, `INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth, locality,
				gp_practice_code, mobile, mobile_kind) VALUES ($1, $2, 'Tester', '1941-05-06', $3, $4, $5, $6) RETURNING id`,
			p[1], p[0], p[2], p[3], mobile, kind).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Pool().Exec(ctx, `INSERT INTO cohort_members (cohort_id, patient_id) VALUES ($1, $2)`, co.ID, id); err != nil {
			t.Fatal(err)
		}
		s.nhs[p[0]] = p[1]
	}
	return s
}

// create makes a draft campaign through the engine.
func (s *campaignSite) create(name string) store.Campaign {
	s.t.Helper()
	c, err := s.eng.CreateCampaign(context.Background(), outreach.CampaignSpec{Name: name, Cohort: s.cohort, Sender: "+447700900000",
		Window: json.RawMessage(alwaysOpen), Pace: 100, CreatedBy: "test"})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// patientID finds a patient by name.
func (s *campaignSite) patientID(name string) int64 {
	s.t.Helper()
	var id int64
	if err := s.st.Pool().QueryRow(context.Background(), `SELECT id FROM patients WHERE nhs_number = $1`, s.nhs[name]).Scan(&id); err != nil {
		s.t.Fatal(err)
	}
	return id
}

// progress starts the campaign and moves its patients on: Ada and Dot
// answer fine, Bob reports a food need, Hal and the formula-named patient
// are not reached after every attempt, Eve is still waiting; Fay and Gus
// have no number.
func (s *campaignSite) progress(c store.Campaign) {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.eng.Start(ctx, c.ID, "test"); err != nil {
		s.t.Fatal(err)
	}
	for _, name := range []string{"Ada", "Bob", "Dot", "Hal", "=cmd|' /C calc'!A0"} {
		if _, err := s.st.Pool().Exec(ctx, `UPDATE attempts SET state = 'delivered', sent_at = now() WHERE campaign_id = $1 AND patient_id = $2`,
			c.ID, s.patientID(name)); err != nil {
			s.t.Fatal(err)
		}
	}
	// The reasons the engine gives, as the worklists show them.
	reasons := map[string]string{"fine": "answered", "need": "answered", "unreachable": "no answer after every attempt"}
	finish := func(name, outcome string, needs []store.NeedRow) {
		if _, err := s.st.FinishJourney(ctx, c.ID, s.patientID(name), outcome, reasons[outcome], needs); err != nil {
			s.t.Fatal(err)
		}
	}
	finish("Ada", "fine", nil)
	finish("Dot", "fine", nil)
	finish("Bob", "need", []store.NeedRow{{Category: "food", Priority: "normal", Detail: "food"}})
	finish("Hal", "unreachable", nil)
	finish("=cmd|' /C calc'!A0", "unreachable", nil)
}

func TestCampaignPagesRefuseOtherRoles(t *testing.T) {
	s := newCampaignSite(t)
	c := s.create("spring")
	s.progress(c)
	id := fmt.Sprint(c.ID)
	gets := []string{"/console/campaigns", "/console/campaigns/new", "/console/campaigns/" + id, "/console/campaigns/" + id + "/live",
		"/console/campaigns/" + id + "/confirm/pause", "/console/campaigns/" + id + "/worklists/unreachable",
		"/console/campaigns/" + id + "/worklists/unreachable/download", "/console/campaigns/" + id + "/worklists/no-contact-route/download",
		"/console/campaigns/" + id + "/report.csv", "/console/campaigns/" + id + "/daily.csv"}
	for _, who := range []string{"nina", "cara"} {
		b := s.browser()
		if code := b.login(who, password); code != 303 {
			t.Fatalf("%s login: %d", who, code)
		}
		for _, p := range gets {
			if code, body, _ := b.get(p); code != 403 || strings.Contains(body, "9434765") {
				t.Errorf("%s GET %s: %d", who, p, code)
			}
		}
		_, inbox, _ := b.get("/console/account/password")
		csrf := csrfOf(t, inbox)
		for _, p := range []string{"/console/campaigns", "/console/campaigns/" + id + "/action/pause", "/console/campaigns/" + id + "/action/cancel"} {
			if code, _, _ := b.post(p, url.Values{"csrf": {csrf}, "name": {"sneaky"}}); code != 403 {
				t.Errorf("%s POST %s: %d", who, p, code)
			}
		}
		if strings.Contains(inbox, "nav-campaigns") {
			t.Errorf("%s sees the campaigns menu", who)
		}
	}
	if st, _ := s.st.Campaign(context.Background(), c.ID); st.State != store.CampaignRunning {
		t.Errorf("campaign is %s after refused actions", st.State)
	}
	if n := s.count(`SELECT count(*) FROM campaigns`); n != 1 {
		t.Errorf("%d campaigns after a refused create", n)
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'campaign.refused'`); n != 2*(len(gets)+3) {
		t.Errorf("%d refusals audited, want %d", n, 2*(len(gets)+3))
	}
}

func TestProgrammeLeadLandsOnCampaigns(t *testing.T) {
	s := newCampaignSite(t)
	tests := []struct{ who, want string }{{"paul", "/console/campaigns"}, {"nina", "/console/inbox"}, {"admin", "/console/inbox"}}
	for _, tt := range tests {
		b := s.browser()
		_, page, _ := b.get("/console/login")
		resp, err := b.c.PostForm(s.url+"/console/login", url.Values{"csrf": {csrfOf(t, page)}, "name": {tt.who}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Location"); got != tt.want {
			t.Errorf("%s lands on %q, want %q", tt.who, got, tt.want)
		}
		if _, _, h := b.get("/console"); h.Get("Location") != tt.want {
			t.Errorf("%s: /console goes to %q", tt.who, h.Get("Location"))
		}
	}
}

// Every patient but Eve has an outcome: 7 of 8 are done (Fay and Gus, with
// no number, end unreachable without an attempt).
func TestCampaignPageFunnel(t *testing.T) {
	s := newCampaignSite(t)
	c := s.create("spring")
	s.progress(c)
	b := s.browser()
	b.login("paul", password)
	code, list, _ := b.get("/console/campaigns")
	if code != 200 || !strings.Contains(list, "spring") || !strings.Contains(list, "running") || !strings.Contains(list, "7 of 8 done") {
		t.Fatalf("list %d:\n%s", code, list)
	}
	code, page, _ := b.get(fmt.Sprintf("/console/campaigns/%d", c.ID))
	if code != 200 {
		t.Fatalf("campaign page %d:\n%s", code, page)
	}
	for _, want := range []string{
		`data-stage="patients"><td>Patients</td><td class="n">8<`,
		`data-stage="planned"><td>Planned</td><td class="n">6<`,
		`data-stage="contacted"><td>Contacted</td><td class="n">5<`,
		`data-stage="answered"><td>Answered</td><td class="n">3<`,
		`data-stage="fine"><td>Fine</td><td class="n">2<`,
		`data-stage="need"><td>Need</td><td class="n">1<`,
		`data-stage="unreachable"><td>Unreachable</td><td class="n">2<`,
		`data-stage="no_contact_route"><td>No contact route</td><td class="n">2<`,
		"Example Surgery", "Riverside Practice", "Diss Health Centre", // practice names
		`id="by-locality"`, `id="by-language"`, `id="by-channel"`, `<svg class="chart chart-wide"`, `<svg class="chart chart-narrow"`,
		`id="next-hour">1 text<`, // Eve's text is still planned
		`id="action-pause"`, `id="action-cancel"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("campaign page lacks %q", want)
		}
	}
	// The one script is the console's own, which keeps the figures
	// current; nothing comes from elsewhere.
	if strings.Count(page, "<script") != 1 || !strings.Contains(page, `<script src="/console/static/campaign.js" defer></script>`) ||
		strings.Contains(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), "http://") {
		t.Error("campaign page loads another script or an external asset")
	}
	for _, want := range []string{`id="live" data-url="/console/campaigns/` + fmt.Sprint(c.ID) + `/live"`, `id="figures-ago">just now<`,
		"recounted every 30 seconds, and this page updates itself"} {
		if !strings.Contains(page, want) {
			t.Errorf("campaign page lacks %q", want)
		}
	}
}

func TestCampaignPauseShowsWhatWillNotGo(t *testing.T) {
	s := newCampaignSite(t)
	c := s.create("spring")
	if _, err := s.eng.Start(context.Background(), c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.login("paul", password)
	code, page, _ := b.get(fmt.Sprintf("/console/campaigns/%d/confirm/pause", c.ID))
	if code != 200 || !strings.Contains(page, "6 texts planned in the next hour will not go until you resume.") {
		t.Fatalf("confirm %d:\n%s", code, page)
	}
	if st, _ := s.st.Campaign(context.Background(), c.ID); st.State != store.CampaignRunning {
		t.Fatal("the confirmation page changed the campaign")
	}
	code, _, h := b.post(fmt.Sprintf("/console/campaigns/%d/action/pause", c.ID), url.Values{"csrf": {csrfOf(t, page)}})
	if code != 303 || !strings.HasSuffix(h.Get("Location"), "done=paused") {
		t.Fatalf("pause: %d %s", code, h.Get("Location"))
	}
	if st, _ := s.st.Campaign(context.Background(), c.ID); st.State != store.CampaignPaused {
		t.Fatalf("campaign %s after pause", st.State)
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'campaign.pause' AND actor = 'user:paul' AND subject_id = $1`, fmt.Sprint(c.ID)); n != 1 {
		t.Errorf("pause audited %d times", n)
	}
	// Pausing again is refused: the state moved on.
	if code, _, _ := b.get(fmt.Sprintf("/console/campaigns/%d/confirm/pause", c.ID)); code != 409 {
		t.Errorf("second pause confirmation: %d", code)
	}
	_, page, _ = b.get(fmt.Sprintf("/console/campaigns/%d/confirm/cancel", c.ID))
	if !strings.Contains(page, "6 texts not yet sent will be cancelled") || !strings.Contains(page, "cannot be undone") {
		t.Errorf("cancel confirmation:\n%s", page)
	}
	b.post(fmt.Sprintf("/console/campaigns/%d/action/cancel", c.ID), url.Values{"csrf": {csrfOf(t, page)}})
	if n := s.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1 AND state = 'planned'`, c.ID); n != 0 {
		t.Errorf("%d attempts still planned after cancel", n)
	}
}

func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, body)
	}
	return rows
}

func TestCampaignWorklistDownload(t *testing.T) {
	s := newCampaignSite(t)
	c := s.create("spring")
	s.progress(c)
	b := s.browser()
	b.login("paul", password)
	tests := []struct {
		kind, locality, practice string
		want                     []string // names
	}{
		{"unreachable", "Norwich", "", []string{"Hal", "=cmd|' /C calc'!A0"}},
		{"unreachable", "Diss", "", nil},
		{"unreachable", "", "D82001", []string{"Hal", "=cmd|' /C calc'!A0"}},
		{"no-contact-route", "", "", []string{"Fay", "Gus"}},
		{"no-contact-route", "Diss", "", []string{"Gus"}},
	}
	for _, tt := range tests {
		code, body, h := b.get(fmt.Sprintf("/console/campaigns/%d/worklists/%s/download?locality=%s&practice=%s", c.ID, tt.kind, tt.locality, tt.practice))
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
			t.Fatalf("%+v: %d %s", tt, code, h.Get("Content-Type"))
		}
		rows := readCSV(t, body)
		var got []string
		for _, r := range rows[1:] {
			got = append(got, r[0])
		}
		var want []string
		for _, n := range tt.want {
			want = append(want, s.nhs[n])
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%+v: NHS numbers %v, want %v", tt, got, want)
		}
		for _, r := range rows[1:] {
			for _, cell := range r {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("%+v: cell %q could run as a formula", tt, cell)
				}
			}
		}
		if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'campaign.worklist.download' AND actor = 'user:paul'
				AND details->>'kind' = $1 AND details->>'locality' = $2 AND (details->>'rows')::int = $3`, tt.kind, tt.locality, len(tt.want)); n < 1 {
			t.Errorf("%+v: download not audited with its row count", tt)
		}
	}
	// Admins see the figures but not the people.
	ab := s.browser()
	ab.login("admin", password)
	for _, p := range []string{"worklists/unreachable", "worklists/unreachable/download", "worklists/no-contact-route/download"} {
		if code, body, _ := ab.get(fmt.Sprintf("/console/campaigns/%d/%s", c.ID, p)); code != 403 || strings.Contains(body, "9434765") {
			t.Errorf("admin GET %s: %d", p, code)
		}
	}
	if code, page, _ := ab.get(fmt.Sprintf("/console/campaigns/%d", c.ID)); code != 200 || strings.Contains(page, `id="wl-unreachable"`) {
		t.Errorf("admin campaign page %d offers the worklists", code)
	}
	_, body, _ := b.get(fmt.Sprintf("/console/campaigns/%d/worklists/unreachable/download?locality=Norwich", c.ID))
	if !strings.Contains(body, `'=cmd|' /C calc'!A0`) || !strings.Contains(body, "'+447700900108") {
		t.Errorf("formula cells not quoted:\n%s", body)
	}
	// The aggregate reports carry counts, not people.
	for _, p := range []string{"report.csv", "daily.csv"} {
		code, body, _ := b.get(fmt.Sprintf("/console/campaigns/%d/%s", c.ID, p))
		if code != 200 {
			t.Fatalf("%s: %d", p, code)
		}
		for _, name := range cohortPatients {
			if strings.Contains(body, name[1]) || strings.Contains(body, name[0]) || (name[4] != "" && strings.Contains(body, name[4][3:])) {
				t.Errorf("%s names patient %s", p, name[0])
			}
		}
		if p == "report.csv" && !strings.Contains(body, "spring,") {
			t.Errorf("report.csv:\n%s", body)
		}
		if p == "report.csv" {
			rows := readCSV(t, body)
			if rows[1][2] != "all" || rows[1][5] != "8" {
				t.Errorf("report.csv first row %v", rows[1])
			}
		}
	}
}

func TestCampaignCreateForm(t *testing.T) {
	s := newCampaignSite(t)
	b := s.browser()
	b.login("paul", password)
	_, form, _ := b.get("/console/campaigns/new")
	csrf := csrfOf(t, form)
	if !strings.Contains(form, `<option value="dob" selected>Day and month of birth`) {
		t.Error("the form does not offer the identity check, day and month of birth by default")
	}
	bad := url.Values{"csrf": {csrf}, "name": {""}, "cohort": {s.cohort}, "sender": {"07700 9000"}, "identity_check": {"shoe-size"},
		"days": {"mon", "tue"}, "start": {"9am"}, "end": {"25:00"}, "timezone": {"Mars/Olympus"},
		"holidays": {"2026-02-30"}, "bank_holidays": {"england-and-wales"}, "pace": {"0"},
		"policy": {`{"steps": [{"channel": "fax", "wait": "48h"}], "conversation_timeout": "24h"}`}}
	code, page, _ := b.post("/console/campaigns", bad)
	if code != 422 {
		t.Fatalf("bad form: %d\n%s", code, page)
	}
	for _, field := range []string{"name", "sender", "start", "end", "timezone", "holidays", "pace", "identity_check", "policy"} {
		i := strings.Index(page, `id="f-`+field+`"`)
		if i < 0 {
			t.Fatalf("no field %s", field)
		}
		box := page[i+1:]
		if j := strings.Index(box, `id="f-`); j > 0 { // up to the next field's box
			box = box[:j]
		}
		if !strings.HasPrefix(page[i:], `id="f-`+field+`"><label`) || !strings.Contains(box, `class="field-error"`) {
			// the error shows inside the field's box, before its input
			t.Errorf("field %s shows no problem: %s", field, page[i:min(len(page), i+300)])
		}
	}
	if !strings.Contains(page, "fax") {
		t.Error("the policy problem does not say what is wrong")
	}
	// No day ticked is a window never open, not the default days.
	noDays := url.Values{"csrf": {csrf}, "name": {"nodays"}, "cohort": {s.cohort}, "sender": {"+447700900000"}, "start": {"09:00"},
		"end": {"17:00"}, "timezone": {"Europe/London"}, "bank_holidays": {"england-and-wales"}, "pace": {"2"}}
	if code, page, _ := b.post("/console/campaigns", noDays); code != 422 || !strings.Contains(page, "at least one day") {
		t.Errorf("no day ticked: %d", code)
	}
	if n := s.count(`SELECT count(*) FROM campaigns`); n != 0 {
		t.Fatalf("%d campaigns created by a bad form", n)
	}
	good := url.Values{"csrf": {csrf}, "name": {"autumn"}, "cohort": {s.cohort}, "sender": {"+447700900000"},
		"days": {"mon", "tue", "wed"}, "start": {"09:00"}, "end": {"17:00"}, "timezone": {"Europe/London"},
		"holidays": {"2026-12-24"}, "bank_holidays": {"england-and-wales"}, "pace": {"2"}, "identity_check": {"year"},
		"policy": {`{"steps": [{"channel": "sms", "wait": "48h"}], "conversation_timeout": "24h"}`}}
	code, _, h := b.post("/console/campaigns", good)
	if code != 303 {
		t.Fatalf("good form: %d", code)
	}
	c, err := s.st.CampaignByName(context.Background(), "autumn")
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("Location") != fmt.Sprintf("/console/campaigns/%d?done=created", c.ID) || c.CreatedBy != "user:paul" || c.Pace != 2 ||
		c.IdentityCheck != "year" {
		t.Errorf("created %+v, went to %s", c, h.Get("Location"))
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'campaign.create' AND actor = 'user:paul'`); n != 1 {
		t.Errorf("create audited %d times", n)
	}
	// The draft's page shows the forecast next to the start button.
	_, page, _ = b.get(fmt.Sprintf("/console/campaigns/%d?finish_by=2020-01-01", c.ID))
	for _, want := range []string{`id="action-start"`, `id="forecast"`, "cannot finish by", "6 patients to reach",
		`<span id="identity-check">calls check the year of birth before any health question</span>`} {
		if !strings.Contains(page, want) {
			t.Errorf("draft page lacks %q", want)
		}
	}
}

// The campaigns page shows programme leads and admins each campaign's
// state, and the bank holiday warning the CLI and the API give, for
// campaigns that may run past the last year of known bank holidays.
func TestCampaignsPageWarnsPastBankHolidays(t *testing.T) {
	var now time.Time
	clock := func() time.Time { return now }
	var eng *outreach.Engine
	s := newSite(t, func(o *console.Options) {
		o.Service = escalation.New(escalation.Options{Store: o.Store, Routing: o.Service.Routing(), Logger: o.Logger, Now: clock})
		eng = outreach.New(outreach.Options{Store: o.Store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PublicURL: "http://127.0.0.1"})
		o.Engine = eng
	})
	ctx := context.Background()
	ids := map[string]int64{}
	for _, c := range []struct{ name, window string }{{"far", `{}`}, {"nobh", `{"bank_holidays":"none"}`}, {"done", `{}`}} {
		gatewaytest.ImportOne(t, s.st, c.name, "Ada")
		camp, err := eng.CreateCampaign(ctx, outreach.CampaignSpec{Name: c.name, Cohort: c.name, Sender: gatewaytest.Sender, Pace: 1,
			Window: []byte(c.window), CreatedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ids[c.name] = camp.ID
	}
	if err := eng.Cancel(ctx, ids["done"], "test"); err != nil {
		t.Fatal(err)
	}
	// Sessions are checked against the console's clock: move them with it.
	setClock := func(t *testing.T, at time.Time) {
		t.Helper()
		now = at
		if _, err := s.st.Pool().Exec(ctx, `UPDATE sessions SET last_seen = $1::timestamptz, expires_at = $1::timestamptz + interval '12 hours'`, at); err != nil {
			t.Fatal(err)
		}
	}
	now = time.Now()
	paul, admin, cara, nina := s.loggedIn("paul"), s.loggedIn("admin"), s.loggedIn("cara"), s.loggedIn("nina")
	warning := func(name string) string { return fmt.Sprintf(`id="coverage-%d"`, ids[name]) }

	tests := []struct {
		name       string
		at         time.Time
		b          *browser
		want       int
		has, lacks []string
	}{
		{"well inside the list", time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC), paul, 200,
			[]string{`id="nav-campaigns"`, fmt.Sprintf(`id="campaign-%d" data-state="draft"`, ids["far"]), `data-state="cancelled"`},
			[]string{`class="warning"`}},
		{"runs into a year with no list", time.Date(2028, 12, 20, 10, 0, 0, 0, time.UTC), paul, 200,
			[]string{warning("far"), "refresh-bank-holidays.sh", "may run past the known bank holidays"},
			[]string{warning("nobh"), warning("done")}},
		{"admins see it too", time.Date(2028, 12, 20, 10, 0, 0, 0, time.UTC), admin, 200, []string{warning("far")}, nil},
		{"not for comms leads", time.Date(2028, 12, 20, 10, 0, 0, 0, time.UTC), cara, 403, nil, []string{"far"}},
		{"not for handlers", time.Date(2028, 12, 20, 10, 0, 0, 0, time.UTC), nina, 403, nil, []string{"far"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setClock(t, tt.at)
			code, page, _ := tt.b.get("/console/campaigns")
			if code != tt.want {
				t.Fatalf("%d, want %d\n%s", code, tt.want, page)
			}
			for _, want := range tt.has {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			for _, not := range tt.lacks {
				if strings.Contains(page, not) {
					t.Errorf("page shows %q", not)
				}
			}
		})
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'campaigns.view'`); n != 3 {
		t.Errorf("%d views audited, want 3", n)
	}
	// The campaign's own page shows it above its controls, and the start
	// confirmation next to the forecast; a window without bank holidays
	// gets none.
	setClock(t, time.Date(2028, 12, 20, 10, 0, 0, 0, time.UTC))
	pages := []struct {
		path string
		warn bool
	}{
		{fmt.Sprintf("/console/campaigns/%d", ids["far"]), true},
		{fmt.Sprintf("/console/campaigns/%d/confirm/start", ids["far"]), true},
		{fmt.Sprintf("/console/campaigns/%d", ids["nobh"]), false},
		{fmt.Sprintf("/console/campaigns/%d/confirm/start", ids["nobh"]), false},
		{fmt.Sprintf("/console/campaigns/%d", ids["done"]), false},
	}
	for _, p := range pages {
		code, page, _ := paul.get(p.path)
		if code != 200 {
			t.Fatalf("%s: %d\n%s", p.path, code, page)
		}
		if got := strings.Contains(page, "refresh-bank-holidays.sh"); got != p.warn {
			t.Errorf("%s: warning shown %v, want %v", p.path, got, p.warn)
		}
	}
	if _, page, _ := paul.get(fmt.Sprintf("/console/campaigns/%d", ids["far"])); strings.Index(page, warning("far")) > strings.Index(page, `id="action-start"`) {
		t.Error("the warning comes after the start button")
	}
}

// campaignLive is what campaign.js fetches: the figures as the page shows
// them, the state and when the figures were counted. It follows the
// campaign as its patients answer, and stops being live once it ends.
func TestCampaignLiveFigures(t *testing.T) {
	// The stored figures, as the workers leave them: the test recounts
	// them itself.
	s := newCampaignSite(t, func(o *console.Options) { o.ReportMaxAge = time.Hour })
	recount := func(id int64) {
		t.Helper()
		if _, err := s.st.RefreshCampaignReport(context.Background(), id, time.Now(), time.UTC); err != nil {
			t.Fatal(err)
		}
	}
	c := s.create("spring")
	s.progress(c)
	b := s.browser()
	b.login("paul", password)
	live := func() map[string]any {
		t.Helper()
		code, body, h := b.get(fmt.Sprintf("/console/campaigns/%d/live", c.ID))
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Fatalf("live %d %s:\n%s", code, h.Get("Content-Type"), body)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := live()
	html, _ := got["html"].(string)
	for _, want := range []string{`data-stage="answered"><td>Answered</td><td class="n">3<`, `data-stage="fine"><td>Fine</td><td class="n">2<`,
		`id="by-locality"`, `id="activity-chart-narrow"`} {
		if !strings.Contains(html, want) {
			t.Errorf("live figures lack %q", want)
		}
	}
	if strings.Contains(html, "9434765") || strings.Contains(html, "Tester") {
		t.Error("live figures name a patient")
	}
	if got["state"] != "running" || got["live"] != true || !strings.Contains(got["controls"].(string), `id="action-pause"`) ||
		!strings.Contains(got["age"].(string), `id="figures-ago"`) {
		t.Errorf("live: %v", got)
	}
	if _, err := time.Parse(time.RFC3339, got["computed_at"].(string)); err != nil {
		t.Errorf("computed_at: %v", err)
	}
	// A page that already shows these figures is told nothing changed.
	code, body, _ := b.get(fmt.Sprintf("/console/campaigns/%d/live?since=%s&state=running", c.ID, url.QueryEscape(got["computed_at"].(string))))
	if code != 200 || !strings.Contains(body, `"unchanged":true`) || strings.Contains(body, "funnel") {
		t.Errorf("unchanged figures: %d %s", code, body)
	}
	// Eve answers: the next fetch shows it.
	if _, err := s.st.FinishJourney(context.Background(), c.ID, s.patientID("Eve"), "fine", "test", nil); err != nil {
		t.Fatal(err)
	}
	recount(c.ID)
	if html := live()["html"].(string); !strings.Contains(html, `data-stage="fine"><td>Fine</td><td class="n">3<`) {
		t.Errorf("after Eve answered:\n%s", html)
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'campaign.view'`); n != 0 {
		t.Errorf("%d live fetches audited as views", n)
	}
	if err := s.eng.Cancel(context.Background(), c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if got := live(); got["state"] != "cancelled" || got["live"] != false {
		t.Errorf("after cancel: state %v live %v", got["state"], got["live"])
	}
	if code, _, _ := b.get("/console/campaigns/999999/live"); code != 404 {
		t.Errorf("unknown campaign: %d", code)
	}
}
