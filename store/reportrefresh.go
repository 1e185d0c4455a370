package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReportCostFactor bounds how often a campaign's report is recomputed by
// what the last computation cost: not again until ReportCostFactor times
// its took_ms has passed since it started, however short the refresh
// interval. A report that took 20 s is recomputed at most every 200 s, so
// refreshing never takes more than a tenth of a connection's time per
// campaign, and a slow compute never runs back to back.
const ReportCostFactor = 10

// InlineReportBudget is the most a report's last computation may have
// taken for a page to recompute a stale report itself
// (FreshCampaignReport); a costlier one is shown as stored, with its age,
// and left to the workers' refresh loop.
const InlineReportBudget = 100 * time.Millisecond

// reportLeaseMin is the shortest lease on a refresh claim: a process that
// dies mid-compute holds its claim this long at least. The lease is also
// at least five times the last computation.
var reportLeaseMin = 2 * time.Minute

// staleReport is the condition, on campaigns c left-joined to their
// stored report r, for the refresh loop to recompute a report: a running
// or paused campaign whose report is older than the loop's interval and
// than ReportCostFactor times its last computation, and any started
// campaign whose report predates its last change of state (or that has
// none).
const staleReport = `((c.state IN ('running', 'paused') AND (r.computed_at IS NULL
		OR r.computed_at < @now::timestamptz - greatest(@max_age::interval, r.took_ms * @cost_factor * interval '1 millisecond')))
	OR (c.started_at IS NOT NULL AND (r.computed_at IS NULL OR r.computed_at < c.state_changed_at)))`

// StaleReportCampaigns lists the campaigns whose stored report the
// refresh loop should recompute (see ReportCostFactor), least recently
// computed first.
func (s *Store) StaleReportCampaigns(ctx context.Context, now time.Time, maxAge time.Duration) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.id FROM campaigns c LEFT JOIN campaign_reports r ON r.campaign_id = c.id
		WHERE `+staleReport+` ORDER BY r.computed_at NULLS FIRST, c.id`,
		pgx.NamedArgs{"now": now, "max_age": maxAge, "cost_factor": ReportCostFactor})
	if err != nil {
		return nil, fmt.Errorf("stale reports: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// claimReportRefresh claims the refresh of campaign id for holder unless
// another holder's lease runs, and, with stale, only if the report is
// still stale by StaleReportCampaigns' rule at now with maxAge (another
// process may have just refreshed it). It reports whether it claimed.
func (s *Store) claimReportRefresh(ctx context.Context, id int64, holder string, stale bool, now time.Time, maxAge time.Duration) (bool, error) {
	rows, err := s.pool.Query(ctx, `INSERT INTO campaign_report_claims AS k (campaign_id, holder, lease_until)
		SELECT c.id, @holder, now() + greatest(@lease_min::interval, coalesce(r.took_ms, 0) * 5 * interval '1 millisecond')
		FROM campaigns c LEFT JOIN campaign_reports r ON r.campaign_id = c.id
		WHERE c.id = @id AND (NOT @stale OR `+staleReport+`)
		ON CONFLICT (campaign_id) DO UPDATE SET holder = EXCLUDED.holder, claimed_at = EXCLUDED.claimed_at,
			lease_until = EXCLUDED.lease_until
		WHERE k.lease_until <= now()
		RETURNING k.campaign_id`,
		pgx.NamedArgs{"id": id, "holder": holder, "lease_min": reportLeaseMin, "stale": stale, "now": now,
			"max_age": maxAge, "cost_factor": ReportCostFactor})
	if err != nil {
		return false, fmt.Errorf("claim report refresh %d: %w", id, err)
	}
	n, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return false, fmt.Errorf("claim report refresh %d: %w", id, err)
	}
	return len(n) == 1, nil
}

// releaseReportRefresh ends holder's claim on campaign id's refresh. It
// runs even when ctx has ended, so a cancelled compute does not hold the
// claim until its lease runs out.
func (s *Store) releaseReportRefresh(ctx context.Context, id int64, holder string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM campaign_report_claims WHERE campaign_id = $1 AND holder = $2`, id, holder); err != nil {
		return fmt.Errorf("release report refresh %d: %w", id, err)
	}
	return nil
}

func newHolder() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// refreshClaimed computes and stores campaign id's report under a claim,
// and reports false, with no error, when it could not claim it.
func (s *Store) refreshClaimed(ctx context.Context, id int64, stale bool, now time.Time, maxAge time.Duration, loc *time.Location) (CampaignReport, bool, error) {
	holder := newHolder()
	ok, err := s.claimReportRefresh(ctx, id, holder, stale, now, maxAge)
	if err != nil || !ok {
		return CampaignReport{}, false, err
	}
	r, err := s.ComputeCampaignReport(ctx, id, now, loc)
	if err == nil {
		err = s.SaveCampaignReport(ctx, r)
	}
	if rerr := s.releaseReportRefresh(ctx, id, holder); err == nil {
		err = rerr
	}
	return r, err == nil, err
}

// RefreshStaleCampaignReport recomputes and stores campaign id's report
// if it is still stale by StaleReportCampaigns' rule and no other process
// is computing it: one process computes a campaign at a time, and one
// that listed it stale a while ago does not recompute a report another
// has just stored. It reports whether it computed; the refresh loop calls
// it.
func (s *Store) RefreshStaleCampaignReport(ctx context.Context, id int64, now time.Time, maxAge time.Duration, loc *time.Location) (CampaignReport, bool, error) {
	return s.refreshClaimed(ctx, id, true, now, maxAge, loc)
}

// TryRefreshCampaignReport recomputes and stores campaign id's report
// now, whatever its age, unless another process is computing it; it
// reports whether it computed. A campaign's controls call it after a
// change of state.
func (s *Store) TryRefreshCampaignReport(ctx context.Context, id int64, now time.Time, loc *time.Location) (CampaignReport, bool, error) {
	return s.refreshClaimed(ctx, id, false, now, 0, loc)
}

// RefreshChangedCampaignReport brings campaign id's report up to date
// after a change of state when that is cheap (no report stored yet, or
// its last computation took at most InlineReportBudget), so the page a
// lead lands on shows the change. A costlier one is left to the refresh
// loop, which recomputes any report older than its campaign's last change
// at its next pass: a lead's pause must not wait for a count of ten
// million attempts.
func (s *Store) RefreshChangedCampaignReport(ctx context.Context, id int64, now time.Time, loc *time.Location) error {
	r, err := s.CampaignReport(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	case time.Duration(r.TookMillis)*time.Millisecond > InlineReportBudget:
		return nil
	}
	_, _, err = s.TryRefreshCampaignReport(ctx, id, now, loc)
	return err
}

// FreshCampaignReport returns campaign id's stored report when it is at
// most maxAge old. An older one is recomputed here only when that is
// cheap (its last computation took at most InlineReportBudget) and no
// other process is computing it; otherwise the stored one is returned as
// it is, with its ComputedAt for the page to say how old it is, and the
// refresh loop brings it up to date. With no stored report at all it is
// computed and stored.
func (s *Store) FreshCampaignReport(ctx context.Context, id int64, maxAge time.Duration, now time.Time, loc *time.Location) (CampaignReport, error) {
	r, err := s.CampaignReport(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		fresh, ok, err := s.TryRefreshCampaignReport(ctx, id, now, loc)
		if err != nil || ok {
			return fresh, err
		}
		// Another process is computing the first report: count too
		// rather than show nothing.
		return s.ComputeCampaignReport(ctx, id, now, loc)
	case err != nil:
		return r, err
	case now.Sub(r.ComputedAt) <= maxAge || time.Duration(r.TookMillis)*time.Millisecond > InlineReportBudget:
		return r, nil
	}
	fresh, ok, err := s.TryRefreshCampaignReport(ctx, id, now, loc)
	if err != nil || !ok {
		return r, err
	}
	return fresh, nil
}
