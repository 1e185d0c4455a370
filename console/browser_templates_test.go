package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/protectnow/protect/internal/gatewaytest"
)

// waitFor waits until a JavaScript expression is true.
func waitFor(ctx context.Context, expr string) error {
	return do(ctx, chromedp.Poll[chromedp.Void](expr))
}

// A comms lead edits a template and sees the preview and the SMS count
// change as she types, replaces the character that forced Unicode, and
// submits; the old wording is still sent; a second person approves; the
// next message the sandbox receives carries the new wording.
func TestBrowserTemplateEditApproveReachesSandbox(t *testing.T) {
	ctx := newChrome(t)
	s := newSite(t)
	g := gatewaytest.New(t, s.st)
	const oldWording = "Hello Margaret, this is your GP practice for Test Protect. We are checking on people"
	if got := g.FirstMessage("before", nil); !strings.HasPrefix(got, oldWording) {
		t.Fatalf("first message %q", got)
	}
	intro := s.template("wellbeing.intro", "sms", "en")

	// Cara opens the template from the list.
	if err := logIn(ctx, s.url+"/console/templates", "cara"); err != nil {
		t.Fatalf("log in: %v", err)
	}
	row := `tr[data-key="wellbeing.intro"][data-channel="sms"][data-language="en"] a.open-template`
	if err := do(ctx, chromedp.WaitVisible(chromedp.ID("templates")), chromedp.Click(chromedp.CSS(row)),
		chromedp.WaitVisible(chromedp.ID("body"))); err != nil {
		t.Fatalf("open the template: %v", err)
	}
	parts := func() string {
		t.Helper()
		p, err := text(ctx, chromedp.Text(chromedp.ID("sms-parts")))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := parts(); p != "2" {
		t.Fatalf("the shipped text is %s parts, want 2", p)
	}

	// She types the new wording with a smart quote: the report follows
	// without a click, Unicode and three parts.
	const typed = "Hello ((first_name)), this is ((programme_name)). We’re checking on people who may need extra support. Please answer a few short questions. Reply STOP to opt out."
	err := do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("body").value = ""`),
		chromedp.SendKeys(chromedp.ID("body"), typed),
	)
	if err != nil {
		t.Fatalf("type: %v", err)
	}
	if err := waitFor(ctx, `document.getElementById("sms-encoding") && document.getElementById("sms-encoding").textContent === "UCS-2"`); err != nil {
		t.Fatalf("the count did not turn Unicode as she typed: %v", err)
	}
	preview, _ := text(ctx, chromedp.Text(chromedp.ID("preview")))
	if !strings.HasPrefix(preview, "Hello Margaret, this is Protect NoW. We’re checking") {
		t.Fatalf("preview %q", preview)
	}
	if p := parts(); p != "3" {
		t.Fatalf("with a smart quote: %s parts, want 3", p)
	}
	chars, _ := text(ctx, chromedp.Text(chromedp.ID("unicode-chars")))
	if !strings.Contains(chars, "’") || !strings.Contains(chars, "use '") {
		t.Fatalf("Unicode characters listed as %q", chars)
	}
	if loc, _ := text(ctx, chromedp.Location()); loc != fmt.Sprintf("%s/console/templates/%d", s.url, intro.ID) {
		t.Fatalf("the page was posted (%s): the report should update in place", loc)
	}

	// One click replaces it: GSM-7 and one part.
	if err := do(ctx, chromedp.Click(chromedp.ID("use-gsm"))); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.getElementById("sms-encoding").textContent === "GSM-7" && !document.getElementById("use-gsm")`); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if p := parts(); p != "1" {
		t.Fatalf("after replacing: %s parts, want 1", p)
	}
	body, _ := text(ctx, chromedp.Value(chromedp.ID("body")))
	if !strings.Contains(body, "We're checking") {
		t.Fatalf("body after replacing: %q", body)
	}

	// Save and submit with a note.
	err = do(ctx,
		chromedp.SendKeys(chromedp.ID("note"), "shorter, one part"),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	state, _ := text(ctx, chromedp.Text(chromedp.CSS("#version-2 .state")))
	if state != "pending" {
		t.Fatalf("version 2 is %q", state)
	}
	if err := do(ctx, chromedp.WaitNotPresent(chromedp.ID("approve-2"))); err != nil {
		t.Fatal(err)
	}

	// Before approval the old wording is still sent.
	if got := g.FirstMessage("pending", nil); !strings.HasPrefix(got, oldWording) {
		t.Fatalf("a pending version was sent: %q", got)
	}

	// Ann, an approver, approves.
	err = do(ctx, chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login-form")))
	if err != nil {
		t.Fatalf("log out: %v", err)
	}
	if err := logIn(ctx, fmt.Sprintf("%s/console/templates/%d", s.url, intro.ID), "ann"); err != nil {
		t.Fatalf("log in as ann: %v", err)
	}
	err = do(ctx,
		chromedp.WaitVisible(chromedp.ID("approve-2")),
		chromedp.SendKeys(chromedp.ID("decide-note-2"), "agreed"),
		chromedp.Click(chromedp.ID("approve-2")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	live, _ := text(ctx, chromedp.Text(chromedp.ID("live")))
	if !strings.HasPrefix(live, "version 2, approved by user:ann") {
		t.Fatalf("live: %q", live)
	}

	// The gateway's text cache reloads from PostgreSQL (every 500 ms in
	// tests), as another process's would; then the next message carries
	// the new wording.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _, err := g.Texts.Body(context.Background(), "sms", "wellbeing.intro", "en")
		if err == nil && strings.Contains(b, "We're checking") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine's texts still have %q (%v)", b, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	const newWording = "Hello Margaret, this is Test Protect. We're checking on people"
	if got := g.FirstMessage("after", nil); !strings.HasPrefix(got, newWording) {
		t.Fatalf("after approval the sandbox got %q", got)
	}
}
