package outreach

import (
	"context"
	"time"
)

// ReportRefreshEvery is how often the workers look for stale reports of
// active campaigns: the most a small campaign's figures lag. A large
// campaign's are recomputed less often, as their cost says
// (store.ReportCostFactor).
const ReportRefreshEvery = 30 * time.Second

// RefreshReports recomputes the stored reports (store.CampaignReport) of
// running and paused campaigns, and of any whose state changed since its
// report, until ctx ends, so campaign pages and the API read one stored
// row rather than scanning a campaign's rows per view. Every interval it
// lists the stale reports: a report is stale once it is older than
// interval and than store.ReportCostFactor times its last computation, so
// a compute of 20 s runs at most every 200 s, never back to back. Each
// refresh is claimed first (store.RefreshStaleCampaignReport): however
// many worker processes run this loop, one computes a campaign at a time.
// Days are cut in loc.
func (e *Engine) RefreshReports(ctx context.Context, interval time.Duration, loc *time.Location) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ids, err := e.store.StaleReportCampaigns(ctx, e.now(), interval)
		if err != nil && ctx.Err() == nil {
			e.logger.Error("campaign reports: list stale", "error", err)
		}
		for _, id := range ids {
			if ctx.Err() != nil {
				return
			}
			r, ok, err := e.store.RefreshStaleCampaignReport(ctx, id, e.now(), interval, loc)
			switch {
			case err != nil && ctx.Err() == nil:
				e.logger.Error("campaign report refresh failed", "campaign", id, "error", err)
			case ok && time.Duration(r.TookMillis)*time.Millisecond > interval/10:
				e.logger.Info("campaign report refreshed", "campaign", id, "took_ms", r.TookMillis)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
