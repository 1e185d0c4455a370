package outreach

import (
	"context"
	"time"
)

// ReportRefreshEvery is how often the workers recompute the stored
// reports of active campaigns: the most a campaign page's figures lag.
const ReportRefreshEvery = 30 * time.Second

// RefreshReports recomputes the stored reports (store.CampaignReport) of
// running and paused campaigns, and of any whose state changed since its
// report, every interval until ctx ends, so campaign pages and the API
// read one stored row rather than scanning a campaign's rows per view.
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
			if _, err := e.store.RefreshCampaignReport(ctx, id, e.now(), loc); err != nil && ctx.Err() == nil {
				e.logger.Error("campaign report refresh failed", "campaign", id, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
