package console_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core (MPL-2.0, testdata/README.md), injected into pages
// to check them for accessibility problems.
//
//go:embed testdata/axe.min.js
var axeSource string

// axeViolations runs axe-core on the current page and returns its serious
// and critical violations, as "rule: target" lines.
func axeViolations(ctx context.Context) ([]string, error) {
	script := axeSource + `;
		axe.run(document, {resultTypes: ['violations']}).then(function (r) {
			return JSON.stringify(r.violations.filter(function (v) {
				return v.impact === 'serious' || v.impact === 'critical';
			}).map(function (v) {
				return v.id + ': ' + v.nodes.map(function (n) { return n.target.join(' '); }).join(', ');
			}));
		})`
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, err
	}
	var out []string
	if err := json.Unmarshal([]byte(res), &out); err != nil {
		return nil, fmt.Errorf("axe result %q: %w", res, err)
	}
	return out, nil
}

func TestBrowserHandlerActsFromOnePage(t *testing.T) {
	ctx := newChrome(t)
	s := newSite(t)
	u := s.addUrgentCase()
	unclear := s.addUnclearReply(u)
	esc := fmt.Sprintf("%s/console/escalations/%d", s.url, u.escalation)
	err := do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(s.url+"/console/inbox"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("name"), "cleo"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("inbox")),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	if v, err := axeViolations(ctx); err != nil || len(v) > 0 {
		t.Errorf("inbox: axe %v %v", v, err)
	}
	shot(t, ctx, "inbox-1280")

	// Search by a number typed as people type it.
	err = do(ctx,
		chromedp.SendKeys(chromedp.ID("q"), "07911 123456"),
		chromedp.Click(chromedp.ID("show")),
		chromedp.WaitVisible(chromedp.ID("searched")),
	)
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if got, _ := text(ctx, chromedp.Text(chromedp.ID("inbox"))); !strings.Contains(got, "Una Urgent") {
		t.Fatalf("search by 07911 123456 found %q", got)
	}

	// The urgent escalation: whom to call and what they said.
	err = do(ctx, chromedp.Click(chromedp.CSS("a.open-escalation")), chromedp.WaitVisible(chromedp.ID("phones")))
	if err != nil {
		t.Fatalf("open the escalation: %v", err)
	}
	if href, err := text(ctx, func(ctx context.Context, tg *chromedp.Target) (string, error) {
		r, err := chromedp.AttributeValue(chromedp.CSS("#phones a.tel"), "href")(ctx, tg)
		return r.Value, err
	}); err != nil || href != "tel:+447911123456" {
		t.Fatalf("phone link %q (%v)", href, err)
	}
	said, _ := text(ctx, chromedp.Text(chromedp.ID("said")))
	for _, want := range []string{"Are you feeling unwell? — Feels unwell", "I had a fall on Tuesday", "hang up and call 999 now"} {
		if !strings.Contains(said, want) {
			t.Errorf("what they said lacks %q: %q", want, said)
		}
	}
	if v, err := axeViolations(ctx); err != nil || len(v) > 0 {
		t.Errorf("escalation page: axe %v %v", v, err)
	}
	// Her other urgent escalation is listed, and offered as the one this
	// repeats.
	if others, _ := text(ctx, chromedp.Text(chromedp.ID("others"))); !strings.Contains(others, "Reply not understood") {
		t.Errorf("other open escalations: %q", others)
	}
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#duplicate-of option[value]:not([value=""])').value`)); err != nil ||
		v != fmt.Sprint(unclear) {
		t.Errorf("duplicate choices: %q %v", v, err)
	}
	shot(t, ctx, "escalation-1280")

	// Resolve without a note is refused with the error summary.
	err = do(ctx,
		chromedp.SetValue(chromedp.ID("outcome"), "helped"),
		chromedp.Click(chromedp.ID("resolve")),
		chromedp.WaitVisible(chromedp.ID("error-summary")),
	)
	if err != nil {
		t.Fatalf("resolve without a note: %v", err)
	}
	if sum, _ := text(ctx, chromedp.Text(chromedp.ID("error-summary"))); !strings.Contains(sum, "Write a note") {
		t.Errorf("error summary %q", sum)
	}
	// The summary takes the focus, so a screen reader reads it first.
	if err := do(ctx, chromedp.WaitReady(chromedp.CSS("#error-summary:focus"))); err != nil {
		t.Errorf("the error summary does not take the focus: %v", err)
	}

	// "I called: no answer" lands on the ledger and the thread.
	err = do(ctx,
		chromedp.Click(chromedp.ID("called-no_answer")),
		chromedp.Click(chromedp.ID("called")),
		chromedp.WaitVisible(`//p[@id="flash" and contains(., "contact ledger")]`),
	)
	if err != nil {
		t.Fatalf("I called: %v", err)
	}
	if thread, _ := text(ctx, chromedp.Text(chromedp.ID("thread"))); !strings.Contains(thread, "Phoned: No answer") {
		t.Errorf("thread after the call: %q", thread)
	}
	if n := s.count(`SELECT count(*) FROM contacts WHERE escalation_id = $1 AND outcome = 'no_answer'`, u.escalation); n != 1 {
		t.Errorf("%d calls on the ledger", n)
	}

	// A text from the console reaches the sandbox and the thread.
	err = do(ctx,
		chromedp.SendKeys(chromedp.ID("sms-body"), "Hello Una, the clinical team will call you shortly."),
		chromedp.Click(chromedp.ID("send-sms")),
		// The flash of the call is still there: wait for the text's.
		chromedp.WaitVisible(`//p[@id="flash" and contains(., "Text sent")]`),
	)
	if err != nil {
		t.Fatalf("send a text: %v", err)
	}
	if thread, _ := text(ctx, chromedp.Text(chromedp.ID("thread"))); !strings.Contains(thread, "the clinical team will call you shortly") {
		t.Errorf("thread after the text: %q", thread)
	}
	reached := false
	for _, m := range s.sandbox.Messages() {
		reached = reached || (m.To == unaMobile && strings.Contains(m.Body, "call you shortly"))
	}
	if !reached {
		t.Error("the text did not reach the sandbox")
	}

	// The patient page passes axe too.
	err = do(ctx, chromedp.Navigate(fmt.Sprintf("%s/console/patients/%d", s.url, u.patient)), chromedp.WaitVisible(chromedp.ID("patient-name")))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := axeViolations(ctx); err != nil || len(v) > 0 {
		t.Errorf("patient page: axe %v %v", v, err)
	}

	// On a phone: nothing scrolls sideways.
	for _, path := range []string{"/console/inbox", esc[len(s.url):], fmt.Sprintf("/console/patients/%d", u.patient)} {
		err := do(ctx,
			chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
			chromedp.Navigate(s.url+path),
			chromedp.WaitVisible(chromedp.ID("main")),
		)
		if err != nil {
			t.Fatal(err)
		}
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if width > 390 {
			t.Errorf("%s at 390 px is %d px wide", path, width)
		}
		if path == "/console/inbox" {
			shot(t, ctx, "inbox-390")
		} else if strings.HasPrefix(path, "/console/escalations/") {
			shot(t, ctx, "escalation-390")
		} else {
			shot(t, ctx, "patient-390")
		}
	}
}

func TestBrowserInboxUpdatesWithoutReload(t *testing.T) {
	ctx := newChrome(t)
	s := newSite(t)
	err := do(ctx,
		chromedp.Navigate(s.url+"/console/inbox"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("name"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("inbox")),
		// A mark on the page that a reload would lose.
		chromedp.Evaluate[chromedp.Void](`window.notReloaded = true; undefined`),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	s.addUrgentCase()
	err = do(ctx, chromedp.WaitVisible(`//ol[@id="inbox"]//a[contains(., "Urgent clinical")]`))
	if err != nil {
		t.Fatalf("the new urgent escalation did not appear: %v", err)
	}
	same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`))
	if err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if !same || !strings.HasPrefix(title, "(1 urgent)") {
		t.Errorf("reloaded %v, title %q", !same, title)
	}
}

// A handler of another team gets neither the page nor the patient from a
// search, in a real browser as over HTTP.
func TestBrowserOtherTeamRefused(t *testing.T) {
	ctx := newChrome(t)
	s := newSite(t)
	u := s.addUrgentCase()
	err := do(ctx,
		chromedp.Navigate(s.url+"/console/inbox"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("name"), "nina"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "07911 123456"),
		chromedp.Click(chromedp.ID("show")),
		chromedp.WaitVisible(chromedp.ID("searched")),
	)
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if got, _ := text(ctx, chromedp.Text(chromedp.ID("main"))); strings.Contains(got, "Una") || !strings.Contains(got, "No escalation of your teams matches") {
		t.Errorf("another team's search shows %q", got)
	}
	err = do(ctx, chromedp.Navigate(fmt.Sprintf("%s/console/escalations/%d", s.url, u.escalation)), chromedp.WaitVisible(chromedp.ID("main")))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := text(ctx, chromedp.Text(chromedp.ID("main"))); strings.Contains(got, "Una") || strings.Contains(got, "07911") ||
		!strings.Contains(got, "nothing here that you can see") {
		t.Errorf("another team's escalation page shows %q", got)
	}
}
