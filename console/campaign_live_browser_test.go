package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/console"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/outreach/cohort"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
)

// liveRefresh is how often the workers of the live test recount the
// figures (PROTECT_REPORT_REFRESH in production, 30 s by default).
const liveRefresh = time.Second

// livePatients are the live test's cohort: the sandbox's default persona
// of a number ending in 0 answers the wellbeing check as fine, in 1 as
// needing help, in 4 never answers. Wave 2 is held back until the page
// has shown wave 1.
var livePatients = []struct {
	name, mobile string
	wave         int
}{
	{"Ann", "+447700900200", 1}, {"Ben", "+447700900201", 1}, {"Cy", "+447700900204", 1},
	{"Di", "+447700900210", 2}, {"Ed", "+447700900220", 2}, {"Flo", "+447700900211", 2},
}

// liveSite is the console of a whole gateway: the engine's loops, its
// queue workers, the webhooks and the Twilio sandbox (gatewaytest), and
// the workers' report refresh every liveRefresh, as `protect run` runs
// them. The console reads the stored figures as in production.
type liveSite struct {
	site
	gw *gatewaytest.Gateway
	// stopWorkers stops the engine's loops and the report refresh.
	stopWorkers func()
}

func newLiveSite(t *testing.T) *liveSite {
	t.Helper()
	st, r, logger := freshSite(t)
	ctx := context.Background()
	svc := escalation.New(escalation.Options{Store: st, Routing: r, Logger: logger})
	if _, err := templateadmin.Seed(ctx, st); err != nil { // the shipped texts
		t.Fatal(err)
	}
	gw := gatewaytest.New(t, st)
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	// The engine's loops and the report refresh, stopped before the
	// gateway and the database are.
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { gw.Engine.Run(runCtx) })
	wg.Go(func() { gw.Engine.RefreshReports(runCtx, liveRefresh, loc) })
	stopWorkers := sync.OnceFunc(func() { stop(); wg.Wait() })
	t.Cleanup(stopWorkers)

	con, err := console.New(console.Options{Service: svc, Store: st, SessionKey: strings.Repeat("k", 32), Logger: logger,
		Engine: gw.Engine, ReportRefresh: liveRefresh, Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(&app.Runtime{Store: st, Redis: testdb.Redis(t), Logger: logger}, con))
	t.Cleanup(srv.Close)
	hash, err := console.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, "paul", store.RoleProgrammeLead, hash, nil, "test"); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("nhs_number,given_name,family_name,date_of_birth,mobile,landline,locality\n")
	for i, p := range livePatients {
		fmt.Fprintf(&csv, "%s,%s,Tester,1950-01-01,%s,,Norwich\n", gatewaytest.NHS(500+i), p.name, p.mobile)
	}
	sum, err := cohort.Import(ctx, st, strings.NewReader(csv.String()), "live.csv", 0, io.Discard,
		cohort.Options{Cohort: "live", Phones: phone.Parser{AllowTestNumbers: true}, Logger: logger})
	if err != nil || sum.Rejected > 0 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	return &liveSite{site: site{t: t, url: srv.URL, st: st, svc: svc}, gw: gw, stopWorkers: stopWorkers}
}

// funnelFigures reads the open page's funnel.
const funnelFigures = `(() => {
  const v = s => { const td = document.querySelector('#funnel tr[data-stage="' + s + '"] td.n'); return td ? td.textContent : '?'; };
  return 'contacted ' + v('contacted') + ', answered ' + v('answered') + ', fine ' + v('fine') + ', need ' + v('need');
})()`

// waitForValue polls expr on the open page until it returns want, recording
// each different value seen, for up to a minute: the machine may be
// loaded, and the figures move only as fast as the sandbox's patients,
// the workers' refresh and the page's fetches allow.
func waitForValue(ctx context.Context, t *testing.T, expr, want string, seen *[]string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		got, err := chromedp.Run(rctx, chromedp.Evaluate[string](expr))
		cancel()
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		if len(*seen) == 0 || (*seen)[len(*seen)-1] != got {
			*seen = append(*seen, got)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page shows %q, want %q; it showed %q", got, want, *seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A programme lead opens a running campaign and watches it: as the
// sandbox's simulated patients answer the texts the engine sends them, the
// funnel on the open page goes up, wave by wave, with no reload, and the
// page says how old its figures are. It does so at 1280 px and, after the
// window narrows, at 390 px. With PROTECT_SCREENSHOTS set, the page is
// saved after each wave.
func TestBrowserLeadWatchesFunnelChange(t *testing.T) {
	ctx := newChrome(t)
	s := newLiveSite(t)
	bg := context.Background()
	c, err := s.gw.Engine.CreateCampaign(bg, outreach.CampaignSpec{Name: "Winter wellbeing check", Cohort: "live",
		Sender: gatewaytest.Sender, Pace: 5, Window: gatewaytest.AlwaysOpen, ProgrammeName: "Test Protect", TeamPhone: "01603 000000",
		Policy: json.RawMessage(`{"steps":[{"channel":"sms","wait":"1h"}],"conversation_timeout":"1h"}`), CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// Log in first: the campaign starts once the page is open.
	err = do(ctx, chromedp.EmulateViewport(1280, 900))
	if err == nil {
		err = logIn(ctx, s.url+"/console/login", "paul")
	}
	if err == nil {
		err = do(ctx, chromedp.WaitVisible(chromedp.ID("campaigns")))
	}
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	if _, err := s.gw.Engine.Start(bg, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	// Hold wave 2 back an hour; the engine sends wave 1 at once.
	for _, p := range livePatients {
		if p.wave == 2 {
			if _, err := s.st.Pool().Exec(bg, `UPDATE attempts SET due_at = now() + interval '1 hour'
				WHERE campaign_id = $1 AND to_number = $2 AND state = 'planned'`, c.ID, p.mobile); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = do(ctx, chromedp.Navigate(fmt.Sprintf("%s/console/campaigns/%d", s.url, c.ID)), chromedp.WaitVisible(chromedp.ID("funnel")))
	if err != nil {
		t.Fatalf("open the campaign: %v", err)
	}
	// A mark on this document: a reload or a navigation would lose it.
	mark := func() string {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		got, err := chromedp.Run(rctx, chromedp.Evaluate[string](`window.protectMark || 'gone'`))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = chromedp.Run(rctx, chromedp.Evaluate[string](`window.protectMark = 'still here'`))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	figuresAt := func() string {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		got, err := chromedp.Run(rctx, chromedp.Evaluate[string](`document.getElementById('figures-at').getAttribute('datetime') + ' ' + document.getElementById('figures-ago').textContent`))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	firstAt := figuresAt()

	// Wave 1: Ann is fine, Ben needs help, Cy does not answer.
	var seen []string
	waitForValue(ctx, t, funnelFigures, "contacted 3, answered 2, fine 1, need 1", &seen)
	if seen[0] == seen[len(seen)-1] {
		t.Errorf("the page opened with the final figures %q: nothing was seen to change", seen[0])
	}
	if m := mark(); m != "still here" {
		t.Fatalf("the page was reloaded (mark %q)", m)
	}
	if at := figuresAt(); at == firstAt {
		t.Errorf("the figures' time did not move: %q", at)
	}
	shot(t, ctx, "campaign-live-1280")

	// The lead narrows the window to a phone's width; wave 2 goes.
	if err := do(ctx, chromedp.EmulateViewport(390, 900)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.Pool().Exec(bg, `UPDATE attempts SET due_at = now() WHERE campaign_id = $1 AND state = 'planned'`, c.ID); err != nil {
		t.Fatal(err)
	}
	waitForValue(ctx, t, funnelFigures, "contacted 6, answered 5, fine 3, need 2", &seen)
	if m := mark(); m != "still here" {
		t.Fatalf("the page was reloaded (mark %q)", m)
	}
	t.Logf("the open page showed, in turn: %q", seen)
	// The breakdowns and the worklist counts follow the funnel.
	rctx, cancel = context.WithTimeout(ctx, 20*time.Second)
	locality, err := chromedp.Run(rctx, chromedp.Evaluate[string](`document.querySelector('#by-locality tr[data-key="Norwich"] td[data-label="Answered"]').textContent`))
	cancel()
	if err != nil || locality != "5" {
		t.Errorf("Norwich answered %q (%v), want 5", locality, err)
	}
	// The age of the figures is said in words and kept current.
	ago, err := text(ctx, chromedp.Text(chromedp.ID("figures-age")))
	if err != nil || !strings.Contains(ago, "Figures as of") || !strings.Contains(ago, "ago") && !strings.Contains(ago, "just now") ||
		!strings.Contains(ago, "recounted every second") {
		t.Errorf("figures age %q (%v)", ago, err)
	}
	shot(t, ctx, "campaign-live-390")
	// Another lead pauses the campaign: the state and the controls follow.
	if err := s.gw.Engine.Pause(bg, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	paused := `document.getElementById('state').textContent + ' ' + !!document.getElementById('action-resume') + ' ' + !!document.getElementById('action-pause')`
	waitForValue(ctx, t, paused, "paused true false", &[]string{})
	// The workers stop: within three refreshes or so the page says its
	// figures are older than they should be.
	s.stopWorkers()
	stale := `document.getElementById('figures-age').classList.contains('stale') + ' ' + (window.protectMark || 'gone')`
	waitForValue(ctx, t, stale, "true still here", &[]string{})
	// The database agrees with what the lead saw.
	var answered, fine, need int
	if err := s.st.Pool().QueryRow(bg, `SELECT count(*) FILTER (WHERE outcome IN ('fine', 'need')), count(*) FILTER (WHERE outcome = 'fine'),
			count(*) FILTER (WHERE outcome = 'need') FROM campaign_patients WHERE campaign_id = $1`, c.ID).Scan(&answered, &fine, &need); err != nil {
		t.Fatal(err)
	}
	if fine != 3 || need != 2 {
		t.Errorf("stored outcomes: fine %d need %d", fine, need)
	}
}
