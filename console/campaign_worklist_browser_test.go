package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/protectnow/protect/store"
)

// browserLogin logs who in through the form.
func browserLogin(ctx context.Context, t *testing.T, url, who string) {
	t.Helper()
	err := logIn(ctx, url+"/console/login", who)
	if err == nil {
		err = do(ctx, chromedp.WaitVisible(chromedp.ID("logout")))
	}
	if err != nil {
		t.Fatalf("log %s in: %v", who, err)
	}
}

// A programme lead chooses a locality on the campaign page, opens the list
// of people not reached after every attempt, and downloads it: the file
// Chromium saves holds exactly that locality's unreachable patients, with
// every cell that a spreadsheet would run as a formula quoted.
func TestBrowserLeadDownloadsUnreachableWorklist(t *testing.T) {
	ctx := newChrome(t)
	s := newCampaignSite(t)
	c := s.create("Spring shielding check")
	s.progress(c)
	// Eve, in Diss, is not reached either: the locality must leave her out.
	if _, err := s.st.FinishJourney(context.Background(), c.ID, s.patientID("Eve"), "unreachable", "no answer after every attempt", nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Download events from now on, for up to two minutes.
	wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	progress := chromedp.Events(wait, cdpbrowser.DownloadProgress)
	browserLogin(ctx, t, s.url, "paul")
	err := do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			yes := true
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &yes})
			return err
		}),
		chromedp.Navigate(fmt.Sprintf("%s/console/campaigns/%d", s.url, c.ID)),
		chromedp.WaitVisible(chromedp.ID("worklist-form")),
		chromedp.SetValue(chromedp.ID("wl-locality"), "Norwich"),
		chromedp.Click(chromedp.ID("wl-unreachable")),
		chromedp.WaitVisible(chromedp.ID("download")),
	)
	if err != nil {
		t.Fatalf("open the Norwich worklist: %v", err)
	}
	list, err := text(ctx, chromedp.Text(chromedp.ID("worklist")))
	if err != nil || !strings.Contains(list, "Hal Tester") || strings.Contains(list, "Eve") || strings.Contains(list, "Fay") {
		t.Fatalf("Norwich worklist shows %q (%v)", list, err)
	}
	if os.Getenv("PROTECT_SCREENSHOTS") != "" {
		for _, width := range []int64{390, 1280} {
			if err := do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
				t.Fatal(err)
			}
			shot(t, ctx, fmt.Sprintf("campaign-worklist-%d", width))
		}
	}
	if err := do(ctx, chromedp.Click(chromedp.ID("download"))); err != nil {
		t.Fatalf("click download: %v", err)
	}
	var file string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v (%v)", err, wait.Err())
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			t.Fatal("the download was cancelled")
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
	}
	if file == "" {
		t.Fatal("no download completed")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, string(b))
	if len(rows) == 0 || rows[0][0] != "nhs_number" || rows[0][6] != "locality" {
		t.Fatalf("header %v", rows)
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[0])
		if r[6] != "Norwich" || r[10] == "" {
			t.Errorf("row %v: not Norwich, or no reason", r)
		}
		for _, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q could run as a formula", cell)
			}
		}
	}
	want := []string{s.nhs["Hal"], s.nhs["=cmd|' /C calc'!A0"]}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("downloaded NHS numbers %v, want Norwich's unreachable %v", got, want)
	}
	if !strings.Contains(string(b), "'=cmd|' /C calc'!A0") {
		t.Errorf("the formula-named patient is not quoted:\n%s", b)
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'campaign.worklist.download' AND actor = 'user:paul'
			AND details->>'locality' = 'Norwich' AND (details->>'rows')::int = 2`); n != 1 {
		t.Errorf("%d audited downloads of 2 Norwich rows, want 1", n)
	}
}

// A handler and a comms lead who type the address of any campaign page or
// download are refused, and see no patient and no figure.
func TestBrowserOtherRolesRefusedCampaigns(t *testing.T) {
	ctx := newChrome(t)
	s := newCampaignSite(t)
	c := s.create("Spring shielding check")
	s.progress(c)
	base := fmt.Sprintf("/console/campaigns/%d", c.ID)
	paths := []string{"/console/campaigns", "/console/campaigns/new", base, base + "/live",
		base + "/confirm/pause", base + "/confirm/cancel", base + "/confirm/resume", base + "/confirm/start",
		base + "/worklists/unreachable", base + "/worklists/no-contact-route",
		base + "/worklists/unreachable/download", base + "/worklists/unreachable/download?locality=Norwich",
		base + "/worklists/no-contact-route/download", base + "/report.csv", base + "/daily.csv"}
	for _, who := range []string{"nina", "cara"} {
		browserLogin(ctx, t, s.url, who)
		for _, p := range paths {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			resp, err := chromedp.RunResponse(rctx, chromedp.Navigate(s.url+p))
			cancel()
			if err != nil {
				t.Fatalf("%s opens %s: %v", who, p, err)
			}
			body, err := text(ctx, chromedp.Text(chromedp.CSS("body")))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 403 || !strings.Contains(body, "Campaigns are for programme leads") {
				t.Errorf("%s GET %s: %d %q", who, p, resp.Status, body)
			}
			for _, pt := range cohortPatients {
				if strings.Contains(body, pt[1]) || strings.Contains(body, pt[0]+" Tester") {
					t.Errorf("%s GET %s shows patient %s", who, p, pt[0])
				}
			}
			if strings.Contains(body, "Spring shielding check") {
				t.Errorf("%s GET %s names the campaign", who, p)
			}
		}
		if err := do(ctx, chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login-form"))); err != nil {
			t.Fatalf("%s logs out: %v", who, err)
		}
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'campaign.refused'`); n != 2*len(paths) {
		t.Errorf("%d refusals audited, want %d", n, 2*len(paths))
	}
	if st, _ := s.st.Campaign(context.Background(), c.ID); st.State != store.CampaignRunning {
		t.Errorf("campaign %s after the refusals", st.State)
	}
}
