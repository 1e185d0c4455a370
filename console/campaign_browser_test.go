package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/store"
)

// chartLabelPixels is the smallest label of the activity chart shown, in
// CSS pixels: its font size scaled as its SVG is.
const chartLabelPixels = `(() => {
  let least = 1000, shown = 0;
  for (const svg of document.querySelectorAll('svg.chart')) {
    if (svg.getBoundingClientRect().width === 0) { continue; }
    shown++;
    for (const t of svg.querySelectorAll('text')) {
      least = Math.min(least, parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
    }
  }
  return shown === 1 ? least : -shown;
})()`

// A programme lead opens the campaigns, sees a running campaign's funnel
// and escalations, and pauses it from the console after reading what the
// pause will hold back. At 1280 and 390 pixels wide no page scrolls
// sideways. With PROTECT_SCREENSHOTS set to a directory, each page is saved
// there as PNG (docs/screenshots/ holds the committed ones).
func TestBrowserLeadSeesAndPausesCampaign(t *testing.T) {
	ctx := newChrome(t)
	s := newCampaignSite(t)
	c := s.create("Spring shielding check")
	s.progress(c)
	bg := context.Background()
	// The intake opens Bob's food need (and any hand-over of the people not
	// reached) as escalations. Bob's was claimed in an hour and resolved in
	// four; the others are open and overdue.
	if n, err := s.svc.Intake(bg); err != nil || n < 1 {
		t.Fatalf("intake %d %v", n, err)
	}
	if _, err := s.st.Pool().Exec(bg, `UPDATE escalations SET opened_at = now() - interval '5 hours', due_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	var bob int64
	if err := s.st.Pool().QueryRow(bg, `SELECT id FROM escalations WHERE patient_id = $1`, s.patientID("Bob")).Scan(&bob); err != nil {
		t.Fatal(err)
	}
	nina := escalation.Actor{Name: "user:nina", Role: store.RoleHandler, Teams: []string{"norwich-council"}}
	if err := s.svc.Claim(bg, nina, bob); err != nil {
		t.Fatal(err)
	}
	if err := s.svc.Resolve(bg, nina, bob, "helped", "food parcel delivered"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.Pool().Exec(bg, `UPDATE escalations SET claimed_at = opened_at + interval '1 hour', closed_at = opened_at + interval '4 hours' WHERE id = $1`, bob); err != nil {
		t.Fatal(err)
	}
	draft := s.create("Autumn flu invitations")

	// Log in through the form; the browser keeps the session cookie.
	err := logIn(ctx, s.url+"/console/login", "paul")
	if err == nil {
		err = do(ctx, chromedp.WaitVisible(chromedp.ID("campaigns")))
	}
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	pages := []struct{ name, path, ready string }{
		{"campaign-list", "/console/campaigns", "campaigns"},
		{"campaign-page", fmt.Sprintf("/console/campaigns/%d", c.ID), "funnel"},
		{"campaign-draft", fmt.Sprintf("/console/campaigns/%d", draft.ID), "forecast"},
		{"campaign-confirm-pause", fmt.Sprintf("/console/campaigns/%d/confirm/pause", c.ID), "confirm"},
	}
	for _, width := range []int64{1280, 390} {
		for _, p := range pages {
			err := do(ctx, chromedp.EmulateViewport(width, 900), chromedp.Navigate(s.url+p.path), chromedp.WaitVisible(chromedp.ID(p.ready)))
			if err != nil {
				t.Fatalf("%s at %d: %v", p.name, width, err)
			}
			rctx, cancel := context.WithTimeout(ctx, 30e9)
			over, err := chromedp.Run(rctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if over > 0 {
				t.Errorf("%s at %d px scrolls sideways by %d px", p.name, width, over)
			}
			if p.name == "campaign-page" {
				// The chart's labels read at this width: at least 11 CSS
				// pixels, whichever drawing shows.
				rctx, cancel := context.WithTimeout(ctx, 30e9)
				px, err := chromedp.Run(rctx, chromedp.Evaluate[float64](chartLabelPixels))
				cancel()
				if err != nil || px < 11 {
					t.Errorf("chart labels at %d px are %.1f CSS px high (%v), want at least 11", width, px, err)
				}
				// Bob's escalation took an hour to claim and four to
				// resolve; the others are open past their time to claim.
				esc, err := text(ctx, chromedp.Text(chromedp.CSS(`#escalations tr[data-team="norwich-council"]`)))
				if err != nil || strings.Count(esc, "1h 00m") != 2 || strings.Count(esc, "4h 00m") != 2 {
					t.Errorf("Norwich escalations at %d px: %q (%v)", width, esc, err)
				}
			}
			shot(t, ctx, fmt.Sprintf("%s-%d", p.name, width))
		}
	}

	// The pause page said what will not go; confirming pauses at once.
	says, err := text(ctx, chromedp.Text(chromedp.ID("says")))
	if err != nil || !strings.Contains(says, "1 text planned in the next hour will not go until you resume") {
		t.Fatalf("pause confirmation says %q (%v)", says, err)
	}
	err = do(ctx, chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("action-resume")))
	if err != nil {
		t.Fatalf("confirm pause: %v", err)
	}
	if st, _ := s.st.Campaign(bg, c.ID); st.State != store.CampaignPaused {
		t.Fatalf("campaign %s after the lead paused it", st.State)
	}
	if n := s.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1 AND state = 'planned' AND sent_at IS NULL`, c.ID); n != 1 {
		t.Errorf("%d attempts held back, want Eve's 1", n)
	}
}

// formProblems reads, for each field box of the create form with a
// problem, how many problems it shows, whether each is inside the box,
// within the window's width and no further than 80 px above the box's
// input, and whether the page scrolls sideways.
const formProblems = `(() => {
  const out = {fields: {}, sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth};
  for (const box of document.querySelectorAll('#campaign-form [id^="f-"]')) {
    const errs = box.querySelectorAll(':scope > .field-error');
    if (errs.length === 0) { continue; }
    const b = box.getBoundingClientRect();
    const input = box.querySelector('input, select, textarea');
    const ir = input ? input.getBoundingClientRect() : b;
    let placed = true;
    for (const e of errs) {
      const r = e.getBoundingClientRect();
      const inside = r.width > 0 && r.height > 0 && r.left >= b.left - 1 && r.right <= b.right + 1 && r.top >= b.top - 1 && r.bottom <= b.bottom + 1;
      const onScreen = r.left >= 0 && r.right <= window.innerWidth;
      const near = Math.abs(ir.top - r.bottom) <= 80 || Math.abs(r.top - ir.bottom) <= 80;
      if (!inside || !onScreen || !near || e.textContent.trim() === '') { placed = false; }
    }
    out.fields[box.id.slice(2)] = {n: errs.length, placed: placed, text: Array.from(errs).map(e => e.textContent).join(' | ')};
  }
  return JSON.stringify(out);
})()`

// A programme lead fills the create form with a wrong window and policy
// and submits it: every problem shows at once, each inside its field's
// box next to its input, readable at 1280 and 390 px, what was typed is
// kept, and no campaign is created.
func TestBrowserCampaignFormShowsEveryProblem(t *testing.T) {
	ctx := newChrome(t)
	s := newCampaignSite(t)
	browserLogin(ctx, t, s.url, "paul")
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(s.url + "/console/campaigns/new"),
		chromedp.WaitVisible(chromedp.ID("campaign-form")),
		chromedp.SetValue(chromedp.ID("cohort"), s.cohort),
		chromedp.SendKeys(chromedp.ID("sender"), "07700 9000"),
	}
	// Every day unticked: the window is never open.
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat"} {
		steps = append(steps, chromedp.Click(chromedp.CSS(`input[name="days"][value="`+d+`"]`)))
	}
	for _, f := range [][2]string{{"start", "9am"}, {"end", "25:00"}, {"timezone", "Mars/Olympus"}, {"holidays", "2026-02-30"}, {"pace", "0"},
		{"policy", `{"steps": [{"channel": "fax", "wait": "48h"}], "conversation_timeout": "24h"}`}} {
		steps = append(steps, chromedp.SetValue(chromedp.ID(f[0]), f[1]))
	}
	steps = append(steps, chromedp.Click(chromedp.ID("create")), chromedp.WaitVisible(chromedp.ID("error")))
	for i, step := range steps {
		if err := do(ctx, step); err != nil {
			t.Fatalf("fill and submit the form, step %d: %v", i, err)
		}
	}
	summary, err := text(ctx, chromedp.Text(chromedp.ID("error")))
	if err != nil || !strings.Contains(summary, "was not created") {
		t.Errorf("summary %q (%v)", summary, err)
	}
	// A summary above the form links to each problem's field.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	links, err := chromedp.Run(rctx, chromedp.Evaluate[int](`document.querySelectorAll('#error-summary a[href^="#f-"]').length`))
	cancel()
	if err != nil || links != 9 {
		t.Errorf("the summary links to %d problems (%v), want 9", links, err)
	}
	if err := do(ctx, chromedp.WaitReady(chromedp.CSS("#error-summary:focus"))); err != nil {
		t.Errorf("the error summary does not take the focus: %v", err)
	}
	want := map[string]string{"name": "", "sender": "", "days": "", "start": "", "end": "", "timezone": "Mars/Olympus",
		"holidays": "2026-02-30", "pace": "", "policy": "fax"}
	for _, width := range []int64{1280, 390} {
		if err := do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		raw, err := chromedp.Run(rctx, chromedp.Evaluate[string](formProblems))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Fields map[string]struct {
				N      int
				Placed bool
				Text   string
			}
			Sideways int
		}
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatal(err)
		}
		for field, words := range want {
			f, ok := got.Fields[field]
			switch {
			case !ok:
				t.Errorf("at %d px, %s shows no problem", width, field)
			case !f.Placed:
				t.Errorf("at %d px, %s's problem %q is not next to it, or not on screen", width, field, f.Text)
			case !strings.Contains(f.Text, words):
				t.Errorf("at %d px, %s says %q, which does not name %q", width, field, f.Text, words)
			}
		}
		if got.Sideways > 0 {
			t.Errorf("at %d px the form scrolls sideways by %d px", width, got.Sideways)
		}
		shot(t, ctx, fmt.Sprintf("campaign-form-errors-%d", width))
	}
	// What the lead typed is still there to correct.
	rctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	kept, err := chromedp.Run(rctx, chromedp.Evaluate[string](`[document.getElementById('timezone').value, document.getElementById('start').value, document.getElementById('policy').value.includes('fax')].join(' ')`))
	cancel()
	if err != nil || kept != "Mars/Olympus 9am true" {
		t.Errorf("the form kept %q (%v)", kept, err)
	}
	if n := s.count(`SELECT count(*) FROM campaigns`); n != 0 {
		t.Errorf("%d campaigns created by a bad form", n)
	}
}
