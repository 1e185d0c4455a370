package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
)

// shape is the generated campaign's size and time span.
type shape struct {
	Patients int
	Attempts int
	// Days the campaign has been running; a tenth of its patients are
	// still waiting, some with attempts planned in the days ahead.
	Days int
}

// load fills a migrated database with a cohort "bench" of s.Patients
// patients and a running campaign "bench" over it with about s.Attempts
// attempts, with answers, needs and escalations, all in set-based SQL
// (generate_series and INSERT … SELECT), and returns the campaign's id.
//
// Each patient draws a fate once (a row of the unlogged table
// bench_fate): no contact route (about 9%: neither number), fine, need,
// opted out, unreachable after every attempt, or still in progress, and a
// number of attempts averaging s.Attempts over the patients with a route.
// Attempts, answers, needs and escalations follow from the fate, so the
// report's figures are consistent with each other. Messages are not
// generated: no report or campaign page reads them.
func load(ctx context.Context, st *store.Store, eng *outreach.Engine, s shape, logf func(string, ...any)) (int64, error) {
	routing, err := escalation.LoadRoutingFile("")
	if err != nil {
		return 0, err
	}
	if _, err := st.EnsureCohort(ctx, "bench"); err != nil {
		return 0, err
	}
	camp, err := eng.CreateCampaign(ctx, outreach.CampaignSpec{Name: "bench", Cohort: "bench", Sender: "+447700900999",
		VoiceSender: "+447700900998", Pace: 50, CreatedBy: "bench",
		Window: []byte(`{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"08:00","end":"20:00","timezone":"Europe/London","bank_holidays":"none"}`)})
	if err != nil {
		return 0, err
	}
	// A second, finished campaign and a draft, so the list has more than
	// one row; they are small.
	for _, name := range []string{"earlier", "next"} {
		if _, err := eng.CreateCampaign(ctx, outreach.CampaignSpec{Name: name, Cohort: "bench", Sender: "+447700900999",
			Pace: 50, CreatedBy: "bench", Window: []byte(`{"days":["mon","tue","wed","thu","fri"],"start":"09:00","end":"17:00","timezone":"Europe/London"}`)}); err != nil {
			return 0, err
		}
	}
	teamOf := func(cat string) string { return routing.Route(store.PendingNeed{Category: cat, Priority: "normal"}) }
	cats := []string{"food", "medicines", "clinical", "social", "call-back", "unreachable"}
	teams := make([]string, len(cats))
	for i, c := range cats {
		teams[i] = teamOf(c)
	}

	// One connection, with room to sort.
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"settings", `SET maintenance_work_mem = '512MB'; SET work_mem = '256MB';
			SET synchronous_commit = off; SELECT setseed(0.14)`, nil},
		{"practices", `INSERT INTO practices (code, name, phone, locality)
			SELECT 'D8' || lpad(i::text, 4, '0'), (ARRAY['Riverside', 'Market Street', 'Church Lane', 'The Old School', 'Park View',
				'Station Road', 'Mill House', 'Coastal'])[1 + i % 8] || ' Surgery ' || i, '+44160349' || lpad(i::text, 4, '0'),
				(ARRAY['Norwich', 'Great Yarmouth', 'Waveney', 'North Norfolk', 'South Norfolk', 'Breckland'])[1 + i % 6]
			FROM generate_series(0, 149) i`, nil},
		// 85% have a mobile, 40% a landline; practices carry their
		// locality; 85% English, the rest in six other languages.
		{"patients", `INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth, mobile, mobile_kind,
				landline, landline_kind, gp_practice_code, locality, language)
			SELECT '9' || lpad(i::text, 9, '0'),
				(ARRAY['Ada', 'Brian', 'Carys', 'Dev', 'Edith', 'Farid', 'Grace', 'Huw', 'Iris', 'John', 'Katarzyna', 'Liam'])[1 + i % 12],
				(ARRAY['Smith', 'Jones', 'Patel', 'O''Brien', 'Nowak', 'Williams', 'Khan', 'Brown', 'Evans', 'Taylor'])[1 + (i / 12) % 10],
				date '1925-01-01' + (random() * 29000)::int,
				CASE WHEN m THEN '+447' || lpad((i % 1000000000)::text, 9, '0') END, CASE WHEN m THEN 'mobile' END,
				CASE WHEN l THEN '+441603' || lpad((i % 1000000)::text, 6, '0') END, CASE WHEN l THEN 'landline' END,
				'D8' || lpad(pr::text, 4, '0'),
				(ARRAY['Norwich', 'Great Yarmouth', 'Waveney', 'North Norfolk', 'South Norfolk', 'Breckland'])[1 + pr % 6],
				CASE WHEN lg < 0.85 THEN 'en' WHEN lg < 0.89 THEN 'pl' WHEN lg < 0.92 THEN 'pa' WHEN lg < 0.95 THEN 'ro'
					WHEN lg < 0.97 THEN 'bn' WHEN lg < 0.99 THEN 'cy' ELSE 'ur' END
			FROM (SELECT i, random() < 0.85 AS m, random() < 0.40 AS l, floor(random() * 150)::int AS pr, random() AS lg
				FROM generate_series(1, $1::int) i) g`, []any{s.Patients}},
		{"cohort members", `INSERT INTO cohort_members (cohort_id, patient_id)
			SELECT (SELECT id FROM cohorts WHERE name = 'bench'), id FROM patients`, nil},
		// From here on, foreign-key triggers are off: the rows are
		// consistent by construction. (The cohort's member count, kept by
		// a trigger, is done.)
		{"foreign keys off", `SET session_replication_role = replica`, nil},
		// Each patient's fate. start is when their first attempt was due
		// (planning spread them over the first 60% of the days at the
		// campaign's pace), n their number of attempts.
		{"fates", `CREATE UNLOGGED TABLE bench_fate AS
			SELECT p.id AS patient_id, p.mobile, p.landline,
				CASE WHEN p.mobile IS NULL AND p.landline IS NULL THEN 'noroute'
					WHEN r < 0.50 THEN 'fine' WHEN r < 0.62 THEN 'need' WHEN r < 0.65 THEN 'opted_out'
					WHEN r < 0.82 THEN 'unreachable' WHEN r < 0.90 THEN 'pending' WHEN r < 0.96 THEN 'contacting'
					ELSE 'conversing' END AS fate,
				now() - make_interval(days => $1::int) + (row_number() OVER (ORDER BY p.id))::float8 / $2::int
					* make_interval(days => $1::int) * 0.6 AS start,
				random() AS r2, random() AS r3
			FROM (SELECT id, mobile, landline, random() AS r FROM patients) p`, []any{s.Days, s.Patients}},
		{"fate columns", `ALTER TABLE bench_fate ADD COLUMN n int, ADD COLUMN done_at timestamptz`, nil},
		{"fate attempts", `UPDATE bench_fate SET
				n = CASE WHEN fate = 'noroute' THEN 0
					ELSE greatest(1, round($1::float8 * (0.2 + 1.6 * r2))::int) END,
				done_at = CASE WHEN fate IN ('pending', 'contacting', 'conversing') THEN NULL
					WHEN fate = 'noroute' THEN now() - make_interval(days => $2::int)
					ELSE start + (now() - start) * (0.3 + 0.7 * r3) END`,
			[]any{float64(s.Attempts) / float64(routedGuess(s.Patients)), s.Days}},
		// Attempts: due at even steps from start to the outcome (or a
		// step every 12 hours for patients still in progress, so some are
		// still planned); voice for landline-only patients and every
		// third step of those with both numbers.
		{"attempts", `INSERT INTO attempts (campaign_id, patient_id, step, channel, to_number, due_at, state, queued_at,
				claimed_at, tries, provider_sid, body, sent_at, status_at, created_at)
			SELECT $1, f.patient_id, s, ch, CASE WHEN ch = 'sms' THEN f.mobile ELSE f.landline END, due,
				CASE WHEN due > now() THEN 'planned'
					WHEN f.fate = 'opted_out' AND s = f.n - 1 AND f.n > 2 THEN 'cancelled'
					WHEN ch = 'sms' THEN (ARRAY['delivered', 'delivered', 'delivered', 'delivered', 'delivered', 'delivered',
						'delivered', 'sent', 'undelivered', 'failed'])[1 + (f.patient_id + s) % 10]
					ELSE (ARRAY['completed', 'completed', 'answered', 'unanswered', 'unanswered', 'failed'])[1 + (f.patient_id + s) % 6] END,
				CASE WHEN due <= now() THEN due END, CASE WHEN due <= now() THEN due END, CASE WHEN due <= now() THEN 1 ELSE 0 END,
				CASE WHEN due <= now() THEN (CASE WHEN ch = 'sms' THEN 'SM' ELSE 'CA' END) || 'b' || f.patient_id || 'x' || s END,
				CASE WHEN ch = 'sms' THEN 'Hello from NHS Protect. We are checking in with people in your area: are you OK? Reply YES or NO. Reply STOP to opt out.' END,
				CASE WHEN due <= now() THEN due + interval '2 seconds' END, CASE WHEN due <= now() THEN due + interval '9 seconds' END,
				f.start - interval '1 hour'
			FROM bench_fate f, generate_series(0, f.n - 1) s,
				LATERAL (SELECT CASE WHEN f.mobile IS NULL OR (f.landline IS NOT NULL AND s % 3 = 2) THEN 'voice' ELSE 'sms' END AS ch,
					CASE WHEN f.done_at IS NULL THEN f.start + s * interval '12 hours'
						ELSE f.start + (f.done_at - f.start) * s / f.n END AS due) x
			WHERE f.n > 0
			ORDER BY f.patient_id, s`, []any{camp.ID}},
		{"campaign patients", `INSERT INTO campaign_patients (campaign_id, patient_id, state, outcome, outcome_reason, step,
				channel, contact_number, wait_until, last_activity, outcome_at)
			SELECT $1, patient_id,
				CASE WHEN fate IN ('pending', 'contacting', 'conversing') THEN fate ELSE 'done' END,
				CASE WHEN fate = 'noroute' THEN 'unreachable' WHEN fate IN ('pending', 'contacting', 'conversing') THEN NULL ELSE fate END,
				CASE fate WHEN 'noroute' THEN 'no contact route' WHEN 'unreachable' THEN 'no answer after every attempt'
					WHEN 'opted_out' THEN 'replied STOP' ELSE '' END,
				greatest(n - 1, 0),
				CASE WHEN fate = 'conversing' THEN 'sms' END, CASE WHEN fate = 'conversing' THEN mobile END,
				CASE WHEN fate IN ('contacting', 'conversing') THEN now() + interval '1 day' END,
				coalesce(done_at, start), done_at
			FROM bench_fate`, []any{camp.ID}},
		// Answers: the first four questions for those who finished the
		// questionnaire, the first one for those conversing now.
		{"answers", `INSERT INTO answers (campaign_id, patient_id, channel, question, option_key, raw, answered_at)
			SELECT $1, f.patient_id, CASE WHEN f.mobile IS NULL THEN 'voice' ELSE 'sms' END, q,
				CASE WHEN f.fate = 'need' AND q = 'food' THEN 'yes' WHEN q = 'ok' THEN 'yes' ELSE 'no' END, 'yes',
				coalesce(f.done_at, now() - interval '1 hour') - (4 - k) * interval '3 minutes'
			FROM bench_fate f, unnest(ARRAY['ok', 'food', 'medicines', 'unwell']) WITH ORDINALITY AS qs(q, k)
			WHERE f.fate IN ('fine', 'need') OR (f.fate = 'conversing' AND k = 1)`, []any{camp.ID}},
		// Escalations: one or two categories for each patient with a
		// need, and one "unreachable" for every patient not reached;
		// 60% resolved, 15% claimed, the rest open.
		{"escalations", `INSERT INTO escalations (patient_id, campaign_id, category, priority, team, routed_team, state,
				claimed_by, claimed_at, outcome, closed_by, closed_at, need_count, due_at, opened_at, updated_at)
			SELECT patient_id, $1, cat, pri, team, team, st,
				CASE WHEN st <> 'open' THEN 'handler' END, CASE WHEN st <> 'open' THEN at + claim END,
				CASE WHEN st = 'resolved' THEN 'helped' END, CASE WHEN st = 'resolved' THEN 'handler' END,
				CASE WHEN st = 'resolved' THEN at + claim + claim * 3 END, 1, at + interval '4 hours', at, at
			FROM (SELECT f.patient_id, c.cat, ($2::text[])[c.k] AS team,
					CASE WHEN c.cat = 'clinical' THEN 'high' WHEN c.cat = 'unreachable' THEN 'normal'
						WHEN f.r3 < 0.02 THEN 'urgent' ELSE 'normal' END AS pri,
					CASE WHEN (f.r2 * 1000)::int % 20 < 12 THEN 'resolved' WHEN (f.r2 * 1000)::int % 20 < 15 THEN 'claimed' ELSE 'open' END AS st,
					f.done_at AS at, make_interval(mins => 5 + ((f.r3 * 100000)::int % 600)) AS claim
				FROM bench_fate f
				JOIN LATERAL unnest($3::text[]) WITH ORDINALITY AS c(cat, k)
					ON (f.fate = 'need' AND c.k <= 5 AND (c.k = 1 + (f.patient_id % 5) OR c.k = 1 + ((f.patient_id / 5) % 5) AND f.r2 < 0.3))
					OR (f.fate IN ('unreachable', 'noroute') AND c.cat = 'unreachable')) e`, []any{camp.ID, teams, cats}},
		{"needs", `INSERT INTO needs (campaign_id, patient_id, category, priority, detail, created_at, escalation_id)
			SELECT campaign_id, patient_id, category, priority, '', opened_at, id FROM escalations WHERE campaign_id = $1`, []any{camp.ID}},
		{"campaign state", `UPDATE campaigns SET state = 'running', started_at = now() - make_interval(days => $2::int),
				planned_at = now() - make_interval(days => $2::int), state_changed_at = now() - make_interval(days => $2::int)
			WHERE id = $1`, []any{camp.ID, s.Days}},
		{"other campaigns", `UPDATE campaigns SET state = 'completed', started_at = now() - interval '60 days', planned_at = now() - interval '60 days',
				finished_at = now() - interval '40 days', state_changed_at = now() - interval '40 days' WHERE name = 'earlier'`, nil},
		{"drop fates", `DROP TABLE bench_fate`, nil},
	}
	for _, step := range steps {
		t := time.Now()
		var err error
		if step.args == nil {
			// Simple protocol: the settings are several statements.
			_, err = conn.Conn().PgConn().Exec(ctx, step.sql).ReadAll()
		} else {
			_, err = conn.Exec(ctx, step.sql, step.args...)
		}
		if err != nil {
			return 0, fmt.Errorf("load %s: %w", step.what, err)
		}
		logf("  %-18s %6.1f s", step.what, time.Since(t).Seconds())
	}
	t := time.Now()
	if _, err := conn.Exec(ctx, `RESET session_replication_role`); err != nil {
		return 0, err
	}
	// What autovacuum would have done by now on tables this size.
	for _, tbl := range []string{"patients", "cohort_members", "campaign_patients", "attempts", "answers", "needs", "escalations", "practices", "campaigns"} {
		if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+pgx.Identifier{tbl}.Sanitize()); err != nil {
			return 0, fmt.Errorf("vacuum %s: %w", tbl, err)
		}
	}
	logf("  %-18s %6.1f s", "vacuum analyze", time.Since(t).Seconds())
	return camp.ID, nil
}

// routedGuess is how many of n patients have a contact route: 85% have a
// mobile and 40% a landline, independently, so 1 − 0.15 × 0.6 = 91%.
func routedGuess(n int) int { return max(1, n*91/100) }
