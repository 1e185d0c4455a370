package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/store"
)

// reportCampaign makes a campaign in state with one patient and one
// planned attempt, its state changed at changed.
func reportCampaign(t *testing.T, st *store.Store, name, state string, changed time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := st.Pool().QueryRow(ctx, `WITH co AS (INSERT INTO cohorts (name) VALUES ($1) RETURNING id),
			q AS (INSERT INTO questionnaires (key, version, checksum, title, definition)
				VALUES ($1, 1, $1, 'q', '{}') RETURNING id)
		INSERT INTO campaigns (name, cohort_id, questionnaire_id, sender, calling_window, pace, policy, created_by,
			state, started_at, state_changed_at)
		SELECT $1, co.id, q.id, '+447700900999', '{}', 1, '{}', 'test', $2,
			CASE WHEN $2 <> 'draft' THEN $3::timestamptz END, $3 FROM co, q RETURNING id`, name, state, changed).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Pool().Exec(ctx, `WITH p AS (INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth, mobile, mobile_kind)
			VALUES (lpad($1::bigint::text, 10, '9'), 'Ada', 'Test', '1940-01-01', '+4479110' || lpad($1::bigint::text, 5, '0'), 'mobile') RETURNING id),
		cp AS (INSERT INTO campaign_patients (campaign_id, patient_id) SELECT $1::bigint, id FROM p)
		INSERT INTO attempts (campaign_id, patient_id, step, channel, to_number, due_at)
		SELECT $1::bigint, id, 0, 'sms', '+447911000000', $2 FROM p`, id, changed)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// The refresh loop's rule: an active campaign's report is recomputed once
// older than the interval and than ReportCostFactor times its last
// computation; a started campaign's once its state changed after it.
func TestStaleReportCampaigns(t *testing.T) {
	testdb.Reset(t)
	st := testdb.Store(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	const interval = 30 * time.Second
	tests := []struct {
		name    string
		state   string
		changed time.Duration // state changed this long before now
		report  bool
		age     time.Duration // of the stored report
		took    time.Duration // its computation
		stale   bool
	}{
		{"running, no report", "running", time.Hour, false, 0, 0, true},
		{"running, fresh", "running", time.Hour, true, 10 * time.Second, 5 * time.Millisecond, false},
		{"running, older than the interval", "running", time.Hour, true, 31 * time.Second, 5 * time.Millisecond, true},
		{"running, slow compute, not yet 10 times its cost", "running", time.Hour, true, 150 * time.Second, 20 * time.Second, false},
		{"running, slow compute, 10 times its cost", "running", time.Hour, true, 201 * time.Second, 20 * time.Second, true},
		{"paused, slow compute, but the state changed after it", "paused", time.Second, true, 10 * time.Second, 20 * time.Second, true},
		{"completed, report after the change", "completed", time.Hour, true, 30 * time.Minute, 5 * time.Millisecond, false},
		{"completed, no report", "completed", time.Hour, false, 0, 0, true},
		{"draft", "draft", time.Hour, false, 0, 0, false},
	}
	want := map[int64]string{}
	for i, tt := range tests {
		id := reportCampaign(t, st, fmt.Sprintf("c%d", i), tt.state, now.Add(-tt.changed))
		if tt.report {
			r := store.CampaignReport{CampaignID: id, ComputedAt: now.Add(-tt.age), TookMillis: int(tt.took.Milliseconds())}
			if err := st.SaveCampaignReport(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if tt.stale {
			want[id] = tt.name
		}
	}
	ids, err := st.StaleReportCampaigns(ctx, now, interval)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]bool{}
	for _, id := range ids {
		got[id] = true
		if _, ok := want[id]; !ok {
			t.Errorf("campaign %d listed stale, wrongly", id)
		}
	}
	for id, name := range want {
		if !got[id] {
			t.Errorf("%s: not listed stale", name)
		}
	}
}

// However many processes refresh a stale report at once, one computes
// it: the others find it claimed, or already fresh once the claim is
// released.
func TestRefreshStaleCampaignReportOnce(t *testing.T) {
	testdb.Reset(t)
	ctx := context.Background()
	now := time.Now()
	st := testdb.Store(t)
	id := reportCampaign(t, st, "busy", "running", now.Add(-time.Hour))
	// Each "process" its own pool.
	stores := make([]*store.Store, 6)
	for i := range stores {
		s, err := store.OpenWith(ctx, testdb.URL(), store.PoolOptions{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		stores[i] = s
	}
	for round := range 3 {
		at := now.Add(time.Duration(round) * time.Hour)
		var wg sync.WaitGroup
		var mu sync.Mutex
		computed := 0
		start := make(chan struct{})
		for _, s := range stores {
			wg.Go(func() {
				<-start
				_, ok, err := s.RefreshStaleCampaignReport(ctx, id, at, 30*time.Second, time.UTC)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					computed++
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if computed != 1 {
			t.Fatalf("round %d: %d processes computed the report, want 1", round, computed)
		}
		r, err := st.CampaignReport(ctx, id)
		if err != nil || !r.ComputedAt.Equal(at) || r.Funnel.Patients != 1 {
			t.Fatalf("round %d: stored report %+v, %v", round, r, err)
		}
	}
	var claims int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM campaign_report_claims`).Scan(&claims); err != nil || claims != 0 {
		t.Errorf("%d claims left after the refreshes (%v)", claims, err)
	}
}

// A claim held by another process stops a refresh until it is released or
// its lease runs out; a claim whose holder died is taken over.
func TestReportRefreshClaim(t *testing.T) {
	testdb.Reset(t)
	ctx := context.Background()
	st := testdb.Store(t)
	now := time.Now()
	id := reportCampaign(t, st, "claimed", "running", now.Add(-time.Hour))
	claim := func(until string) {
		t.Helper()
		if _, err := st.Pool().Exec(ctx, `INSERT INTO campaign_report_claims (campaign_id, holder, lease_until)
			VALUES ($1, 'other', now() + $2::interval)
			ON CONFLICT (campaign_id) DO UPDATE SET holder = 'other', lease_until = EXCLUDED.lease_until`, id, until); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		lease string // of the other holder's claim; "" for none
		fresh bool   // FreshCampaignReport: recompute
		want  bool
	}{
		{"held by another", "1 minute", false, false},
		{"held by another, forced", "1 minute", true, false},
		{"holder died, lease over", "-1 second", false, true},
		{"free", "", false, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := st.Pool().Exec(ctx, `DELETE FROM campaign_report_claims`); err != nil {
				t.Fatal(err)
			}
			if tt.lease != "" {
				claim(tt.lease)
			}
			at := now.Add(time.Duration(i+1) * time.Hour)
			var ok bool
			var err error
			if tt.fresh {
				_, ok, err = st.TryRefreshCampaignReport(ctx, id, at, time.UTC)
			} else {
				_, ok, err = st.RefreshStaleCampaignReport(ctx, id, at, time.Minute, time.UTC)
			}
			if err != nil || ok != tt.want {
				t.Fatalf("refreshed %v (%v), want %v", ok, err, tt.want)
			}
		})
	}
}

// Pages recompute a stale report themselves only when that is cheap; a
// costly one is shown as stored, with its age.
func TestFreshCampaignReport(t *testing.T) {
	testdb.Reset(t)
	ctx := context.Background()
	st := testdb.Store(t)
	now := time.Now().Truncate(time.Millisecond)
	tests := []struct {
		name      string
		report    bool
		age, took time.Duration
		recompute bool
	}{
		{"none stored", false, 0, 0, true},
		{"fresh", true, 10 * time.Second, time.Millisecond, false},
		{"stale and cheap", true, time.Hour, time.Millisecond, true},
		{"stale and costly", true, time.Hour, 20 * time.Second, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := reportCampaign(t, st, fmt.Sprintf("f%d", i), "running", now.Add(-2*time.Hour))
			if tt.report {
				r := store.CampaignReport{CampaignID: id, ComputedAt: now.Add(-tt.age), TookMillis: int(tt.took.Milliseconds())}
				if err := st.SaveCampaignReport(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			r, err := st.FreshCampaignReport(ctx, id, time.Minute, now, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.ComputedAt.Equal(now); got != tt.recompute {
				t.Errorf("recomputed %v, want %v (report of %v)", got, tt.recompute, r.ComputedAt)
			}
			if tt.recompute && r.Funnel.Patients != 1 {
				t.Errorf("recomputed funnel %+v", r.Funnel)
			}
		})
	}
}

// The forecast's history counts the same from a campaign's stored report
// as from its rows.
func TestForecastHistoryFromReports(t *testing.T) {
	testdb.Reset(t)
	ctx := context.Background()
	st := testdb.Store(t)
	now := time.Now()
	for i, sent := range []bool{true, false, true} {
		id := reportCampaign(t, st, fmt.Sprintf("h%d", i), "running", now.Add(-time.Hour))
		if sent {
			if _, err := st.Pool().Exec(ctx, `UPDATE attempts SET state = 'delivered', sent_at = now() WHERE campaign_id = $1`, id); err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			if _, err := st.Pool().Exec(ctx, `INSERT INTO answers (campaign_id, patient_id, channel, question, option_key, raw)
				SELECT campaign_id, patient_id, 'sms', 'ok', 'yes', 'yes' FROM campaign_patients WHERE campaign_id = $1`, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	draft := reportCampaign(t, st, "draft", "draft", now)
	live, err := st.ForecastHistory(ctx, draft)
	if err != nil {
		t.Fatal(err)
	}
	if live.Campaigns != 3 || live.Contacted != 2 || live.Answered != 1 {
		t.Fatalf("history from rows %+v", live)
	}
	// Reports for two of the three: the rest still counted from rows.
	ids, err := st.StaleReportCampaigns(ctx, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:2] {
		if _, err := st.RefreshCampaignReport(ctx, id, now, time.UTC); err != nil {
			t.Fatal(err)
		}
	}
	mixed, err := st.ForecastHistory(ctx, draft)
	if err != nil {
		t.Fatal(err)
	}
	if mixed.Campaigns != live.Campaigns || mixed.Contacted != live.Contacted || mixed.Answered != live.Answered {
		t.Errorf("history from reports %+v, from rows %+v", mixed, live)
	}
}
