package outreach_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
)

// The refresh loop stores a report for a running campaign, and none for a
// draft, so pages read one stored row.
func TestRefreshReports(t *testing.T) {
	testdb.Reset(t)
	st := testdb.Store(t)
	ctx := context.Background()
	eng := outreach.New(outreach.Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PublicURL: "http://127.0.0.1"})
	ids := map[string]int64{}
	for _, name := range []string{"running", "draft"} {
		gatewaytest.ImportOne(t, st, name, "Ada")
		c, err := eng.CreateCampaign(ctx, outreach.CampaignSpec{Name: name, Cohort: name, Sender: gatewaytest.Sender, Pace: 1,
			Window: json.RawMessage(`{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00", "bank_holidays": "none"}`)})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = c.ID
	}
	if _, err := eng.Start(ctx, ids["running"], "test"); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	go func() {
		// One pass is enough: stop the loop once the report is there.
		for rctx.Err() == nil {
			if _, err := st.CampaignReport(ctx, ids["running"]); err == nil {
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	eng.RefreshReports(rctx, time.Hour, time.UTC)
	r, err := st.CampaignReport(ctx, ids["running"])
	if err != nil || r.Funnel.Patients != 1 || r.Funnel.Planned != 1 || r.NextHour["sms"] != 1 {
		t.Fatalf("running campaign's report %+v %v", r, err)
	}
	if _, err := st.CampaignReport(ctx, ids["draft"]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a draft got a report: %v", err)
	}
}
