package store_test

import (
	"context"
	"fmt"
	"strings"
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

// After a change of state a cheap report is recomputed at once, so the
// lead sees the change; a costly one is left to the refresh loop, so a
// pause does not wait for it.
func TestRefreshChangedCampaignReport(t *testing.T) {
	testdb.Reset(t)
	ctx := context.Background()
	st := testdb.Store(t)
	now := time.Now().Truncate(time.Millisecond)
	tests := []struct {
		name      string
		report    bool
		took      time.Duration
		recompute bool
	}{
		{"none stored", false, 0, true},
		{"cheap", true, time.Millisecond, true},
		{"costly", true, 20 * time.Second, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := reportCampaign(t, st, fmt.Sprintf("c%d", i), "paused", now.Add(-time.Minute))
			if tt.report {
				r := store.CampaignReport{CampaignID: id, ComputedAt: now.Add(-time.Hour), TookMillis: int(tt.took.Milliseconds())}
				if err := st.SaveCampaignReport(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.RefreshChangedCampaignReport(ctx, id, now, time.UTC); err != nil {
				t.Fatal(err)
			}
			r, err := st.CampaignReport(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.ComputedAt.Equal(now); got != tt.recompute {
				t.Errorf("recomputed %v, want %v (report of %v)", got, tt.recompute, r.ComputedAt)
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

// The report's hours and days are cut in local time, across the end of
// summer time: attempts planned (cancelled ones left out) and sent, first
// answers by hour, and outcomes by day too.
func TestCampaignReportHoursAndDays(t *testing.T) {
	testdb.Reset(t)
	ctx := context.Background()
	st := testdb.Store(t)
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Summer time ends on 25 October 2026 at 01:00 UTC (02:00 BST).
	id := reportCampaign(t, st, "dst", "running", utc("2026-10-24T23:30:00Z"))
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE attempts SET state = 'delivered', sent_at = $2 WHERE campaign_id = $1 AND step = 0`,
			[]any{id, utc("2026-10-24T23:31:00Z")}}, // 00:31 BST on the 25th
		{`INSERT INTO attempts (campaign_id, patient_id, step, channel, to_number, due_at, state)
			SELECT $1::bigint, patient_id, 1, 'sms', '+447911000000', $2, 'cancelled' FROM campaign_patients WHERE campaign_id = $1`,
			[]any{id, utc("2026-10-24T22:59:00Z")}}, // 23:59 BST on the 24th, cancelled
		{`INSERT INTO attempts (campaign_id, patient_id, step, channel, to_number, due_at, state, sent_at)
			SELECT $1::bigint, patient_id, 2, 'sms', '+447911000000', $2, 'sent', $3 FROM campaign_patients WHERE campaign_id = $1`,
			[]any{id, utc("2026-10-25T00:10:00Z"), utc("2026-10-25T01:10:00Z")}}, // 01:10 BST, sent 01:10 GMT
		{`INSERT INTO answers (campaign_id, patient_id, channel, question, option_key, raw, answered_at)
			SELECT $1::bigint, patient_id, 'sms', 'ok', 'yes', 'yes', $2 FROM campaign_patients WHERE campaign_id = $1`,
			[]any{id, utc("2026-10-25T11:45:00Z")}},
		{`UPDATE campaign_patients SET state = 'done', outcome = 'fine', outcome_at = $2 WHERE campaign_id = $1`,
			[]any{id, utc("2026-10-25T12:00:00Z")}},
	} {
		if _, err := st.Pool().Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	r, err := st.ComputeCampaignReport(ctx, id, utc("2026-10-26T09:00:00Z"), loc)
	if err != nil {
		t.Fatal(err)
	}
	type b struct{ Planned, Contacts, Answered, Fine int }
	tests := []struct {
		name    string
		buckets []store.Bucket
		layout  string
		want    map[string]b
	}{
		{"hours", r.Hours, "2006-01-02T15", map[string]b{
			"2026-10-25T00": {Planned: 1, Contacts: 1},
			"2026-10-25T01": {Planned: 1, Contacts: 1}, // the hour that happens twice
			"2026-10-25T11": {Answered: 1},
		}},
		{"days", r.Days, time.DateOnly, map[string]b{
			"2026-10-25": {Planned: 2, Contacts: 2, Answered: 1, Fine: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]b{}
			for _, x := range tt.buckets {
				got[x.Start.In(loc).Format(tt.layout)] = b{x.Planned, x.Contacts, x.Answered, x.Fine}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	f := r.Funnel
	if f.Patients != 1 || f.Planned != 1 || f.Contacted != 1 || f.Delivered != 1 || f.Answered != 1 || f.Fine != 1 {
		t.Errorf("funnel %+v", f)
	}
	c := r.Counts()
	if fmt.Sprint(c.States) != "map[done:1]" || fmt.Sprint(c.Attempts) != "map[cancelled:1 delivered:1 sent:1]" ||
		fmt.Sprint(c.Outcomes) != "map[fine:1]" {
		t.Errorf("counts %+v", c)
	}
}

// A cohort's member count follows its members, however they are added
// or removed.
func TestCohortMembersCounted(t *testing.T) {
	testdb.Reset(t)
	ctx := context.Background()
	st := testdb.Store(t)
	co, err := st.EnsureCohort(ctx, "counted")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		sql  string
		want int
	}{
		{"patients added", `INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth)
			SELECT '8' || lpad(i::text, 9, '0'), 'A', 'B', '1950-01-01' FROM generate_series(1, 5) i`, 0},
		{"members added in one statement", `INSERT INTO cohort_members (cohort_id, patient_id) SELECT $1, id FROM patients`, 5},
		{"again, nothing new", `INSERT INTO cohort_members (cohort_id, patient_id) SELECT $1, id FROM patients ON CONFLICT DO NOTHING`, 5},
		{"two removed", `DELETE FROM cohort_members WHERE cohort_id = $1 AND patient_id IN (SELECT id FROM patients ORDER BY id LIMIT 2)`, 3},
		{"a patient deleted", `DELETE FROM patients WHERE id = (SELECT max(patient_id) FROM cohort_members WHERE cohort_id = $1)`, 2},
	}
	for _, s := range steps {
		args := []any{co.ID}
		if !strings.Contains(s.sql, "$1") {
			args = nil
		}
		if _, err := st.Pool().Exec(ctx, s.sql, args...); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, err := st.CohortByName(ctx, "counted")
		if err != nil || got.Members != s.want {
			t.Errorf("%s: %d members (%v), want %d", s.name, got.Members, err, s.want)
		}
	}
}
