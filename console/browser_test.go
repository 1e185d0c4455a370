package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium to drive: PROTECT_CHROMIUM, else Debian's
// chromium or a Chrome on the PATH.
func chromiumPath() string {
	if p := os.Getenv("PROTECT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newChrome starts headless Chromium with a throw-away profile.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("browser tests skipped: no chromium binary found (apt-get install chromium, run scripts/browser.sh, or set PROTECT_CHROMIUM)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the browser and must not have a deadline: it
	// would stop the browser. Steps below get theirs.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return ctx
}

// do runs steps with a deadline.
func do(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// text reads an element's visible text with a deadline.
func text(ctx context.Context, sel chromedp.Action[string]) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, sel)
}

func TestBrowserHandlerWorksOwnTeamOnly(t *testing.T) {
	ctx := newChrome(t)
	s := newSite(t)
	err := do(ctx,
		chromedp.Navigate(s.url+"/console/inbox"), // redirects to the log-in page
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("name"), "nina"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("inbox")),
	)
	if err != nil {
		t.Fatalf("log in and open the inbox: %v", err)
	}
	inbox, err := text(ctx, chromedp.Text(chromedp.ID("inbox")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inbox, "Ada Tester") || strings.Contains(inbox, "Bob Tester") {
		t.Fatalf("inbox shows %q", inbox)
	}

	err = do(ctx,
		chromedp.Click(chromedp.CSS("a.open-escalation")),
		chromedp.WaitVisible(chromedp.ID("claim")),
		chromedp.Click(chromedp.ID("claim")),
		chromedp.WaitVisible(chromedp.ID("flash")),
	)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if state, err := text(ctx, chromedp.Text(chromedp.ID("state"))); err != nil || !strings.HasPrefix(state, "Claimed by nina") {
		t.Fatalf("after claiming, state %q (%v)", state, err)
	}

	err = do(ctx,
		chromedp.SetValue(chromedp.ID("outcome"), "helped"),
		chromedp.SendKeys(chromedp.ID("resolve-note"), "food parcel on its way"),
		chromedp.Click(chromedp.ID("resolve")),
		chromedp.WaitVisible(chromedp.ID("flash")),
		chromedp.WaitNotPresent(chromedp.ID("resolve")),
	)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	flash, _ := text(ctx, chromedp.Text(chromedp.ID("flash")))
	state, _ := text(ctx, chromedp.Text(chromedp.ID("state")))
	if !strings.Contains(flash, "resolved") || !strings.Contains(state, "Resolved") || !strings.Contains(state, "Helped") {
		t.Fatalf("after resolving: flash %q state %q", flash, state)
	}

	// Another team's escalation, typed into the address bar, is not there.
	err = do(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/console/escalations/%d", s.url, s.theirs)),
		chromedp.WaitVisible(chromedp.ID("error")),
	)
	if err != nil {
		t.Fatalf("open another team's escalation: %v", err)
	}
	notFound, _ := text(ctx, chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(notFound, "nothing here that you can see") || strings.Contains(notFound, "Bob") {
		t.Fatalf("another team's escalation showed %q", notFound)
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE actor = 'user:nina' AND action = 'access.denied' AND patient_id = $1`, s.bobID); n != 1 {
		t.Fatalf("%d access.denied entries for the other patient, want 1", n)
	}
	if n := s.count(`SELECT count(*) FROM escalations WHERE id = $1 AND state = 'resolved' AND outcome = 'helped'`, s.mine); n != 1 {
		t.Fatal("the resolution was not stored")
	}
}

// shot saves the page as name.png in the directory PROTECT_SCREENSHOTS
// names (docs/screenshots/ holds the committed ones), for people to look
// at; without it, nothing.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PROTECT_SCREENSHOTS")
	if dir == "" {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
}

// logIn logs name in from whatever console page path leads to.
func logIn(ctx context.Context, url, name string) error {
	return do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("login")),
	)
}
