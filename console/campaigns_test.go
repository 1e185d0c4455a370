package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/console"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/outreach"
)

// The campaigns page shows programme leads and admins each campaign's
// state, and the bank holiday warning the CLI and the API give, for
// campaigns that may run past the last year of known bank holidays.
func TestCampaignsPageWarnsPastBankHolidays(t *testing.T) {
	var now time.Time
	clock := func() time.Time { return now }
	s := newSite(t, func(o *console.Options) {
		o.Service = escalation.New(escalation.Options{Store: o.Store, Routing: o.Service.Routing(), Logger: o.Logger, Now: clock})
	})
	ctx := context.Background()
	eng := outreach.New(outreach.Options{Store: s.st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PublicURL: "http://127.0.0.1"})
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
}
