package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Funnel is how far a group of a campaign's patients got: each count is
// of patients, and every patient is counted in at most one outcome.
type Funnel struct {
	Patients  int `json:"patients"`
	Planned   int `json:"planned"`   // given at least one attempt
	Contacted int `json:"contacted"` // at least one attempt sent
	Delivered int `json:"delivered"` // at least one text delivered or call answered
	Answered  int `json:"answered"`  // answered at least one question
	Fine      int `json:"fine"`
	Need      int `json:"need"`
	OptedOut  int `json:"opted_out"`
	// Unreachable are patients not reached after every attempt.
	Unreachable int `json:"unreachable"`
	// NoRoute are patients with no number the campaign could use: they
	// were never contacted.
	NoRoute int `json:"no_contact_route"`
}

// Done is how many patients have an outcome.
func (f Funnel) Done() int { return f.Fine + f.Need + f.OptedOut + f.Unreachable + f.NoRoute }

// Waiting is how many patients have no outcome yet.
func (f Funnel) Waiting() int { return f.Patients - f.Done() }

// FunnelRow is the funnel of one group: a channel, locality, practice or
// language.
type FunnelRow struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Funnel
}

// KeyCount is a count under a key.
type KeyCount struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// TeamEscalations are a campaign's escalations of one team, with how long
// they took to claim and resolve.
type TeamEscalations struct {
	Team     string `json:"team"`
	Open     int    `json:"open"`
	Claimed  int    `json:"claimed"`
	Overdue  int    `json:"overdue"`
	Resolved int    `json:"resolved"`
	// Times in seconds; 0 when nothing was claimed or resolved yet.
	ClaimMedian   float64 `json:"claim_median_seconds"`
	ClaimP90      float64 `json:"claim_p90_seconds"`
	ResolveMedian float64 `json:"resolve_median_seconds"`
	ResolveP90    float64 `json:"resolve_p90_seconds"`
}

// Bucket counts a campaign's activity in one hour or day.
type Bucket struct {
	Start time.Time `json:"start"`
	// Planned attempts were due in the bucket (cancelled ones excluded).
	Planned int `json:"planned"`
	// Contacts are attempts sent in the bucket.
	Contacts int `json:"contacts"`
	// Answered are patients whose first answer came in the bucket.
	Answered int `json:"answered"`
	// Outcomes reached in the bucket (days only).
	Fine        int `json:"fine,omitempty"`
	Need        int `json:"need,omitempty"`
	OptedOut    int `json:"opted_out,omitempty"`
	Unreachable int `json:"unreachable,omitempty"`
}

// CampaignReport is a campaign's figures at ComputedAt. It holds counts
// only: no patient can be identified from it.
type CampaignReport struct {
	CampaignID  int64             `json:"campaign_id"`
	ComputedAt  time.Time         `json:"computed_at"`
	TookMillis  int               `json:"took_ms"`
	Funnel      Funnel            `json:"funnel"`
	ByChannel   []FunnelRow       `json:"by_channel"`
	ByLocality  []FunnelRow       `json:"by_locality"`
	ByPractice  []FunnelRow       `json:"by_practice"`
	ByLanguage  []FunnelRow       `json:"by_language"`
	Needs       []KeyCount        `json:"needs"`
	Escalations []TeamEscalations `json:"escalations"`
	Hours       []Bucket          `json:"hours"`
	Days        []Bucket          `json:"days"`
	// NextHour and NextDay count attempts waiting to go (by channel) that
	// are due before ComputedAt plus an hour or a day, including any held
	// back while the campaign is paused.
	NextHour map[string]int `json:"next_hour"`
	NextDay  map[string]int `json:"next_day"`
}

// ComputeCampaignReport counts a campaign's figures from its patients,
// attempts, answers, needs and escalations. It reads every row of the
// campaign, so views read the stored copy (CampaignReport) and a refresh
// loop calls this; days are cut in loc.
func (s *Store) ComputeCampaignReport(ctx context.Context, id int64, now time.Time, loc *time.Location) (CampaignReport, error) {
	start := time.Now()
	r := CampaignReport{CampaignID: id, ComputedAt: now, NextHour: map[string]int{}, NextDay: map[string]int{}}
	if _, err := s.Campaign(ctx, id); err != nil {
		return r, err
	}
	// One pass over the campaign's patients, grouped five ways. bits says
	// which grouping a row belongs to (GROUPING of the four dimensions).
	rows, err := s.pool.Query(ctx, `WITH a AS (
			SELECT patient_id, bool_or(sent_at IS NOT NULL) AS contacted,
				bool_or(state IN ('delivered', 'answered', 'completed')) AS delivered,
				(array_agg(channel ORDER BY step DESC))[1] AS channel
			FROM attempts WHERE campaign_id = $1 GROUP BY patient_id),
		ans AS (SELECT DISTINCT patient_id FROM answers WHERE campaign_id = $1),
		pp AS (
			SELECT coalesce(a.channel, 'none') AS channel, p.locality, p.gp_practice_code AS practice, p.language,
				a.patient_id IS NOT NULL AS planned, coalesce(a.contacted, false) AS contacted,
				coalesce(a.delivered, false) AS delivered,
				(ans.patient_id IS NOT NULL OR cp.outcome IN ('fine', 'need')) AS answered, cp.outcome
			FROM campaign_patients cp JOIN patients p ON p.id = cp.patient_id
			LEFT JOIN a ON a.patient_id = cp.patient_id
			LEFT JOIN ans ON ans.patient_id = cp.patient_id
			WHERE cp.campaign_id = $1)
		SELECT GROUPING(channel, locality, practice, language), coalesce(channel, ''), coalesce(locality, ''),
			coalesce(practice, ''), coalesce(language, ''),
			count(*), count(*) FILTER (WHERE planned), count(*) FILTER (WHERE contacted),
			count(*) FILTER (WHERE delivered), count(*) FILTER (WHERE answered),
			count(*) FILTER (WHERE outcome = 'fine'), count(*) FILTER (WHERE outcome = 'need'),
			count(*) FILTER (WHERE outcome = 'opted_out'),
			count(*) FILTER (WHERE outcome = 'unreachable' AND planned),
			count(*) FILTER (WHERE outcome = 'unreachable' AND NOT planned)
		FROM pp GROUP BY GROUPING SETS ((), (channel), (locality), (practice), (language))
		ORDER BY 1, 2, 3, 4, 5`, id)
	if err != nil {
		return r, fmt.Errorf("campaign report funnel: %w", err)
	}
	var practiceCodes []string
	for rows.Next() {
		var bits int
		var ch, loc, pr, lang string
		var f Funnel
		if err := rows.Scan(&bits, &ch, &loc, &pr, &lang, &f.Patients, &f.Planned, &f.Contacted, &f.Delivered,
			&f.Answered, &f.Fine, &f.Need, &f.OptedOut, &f.Unreachable, &f.NoRoute); err != nil {
			rows.Close()
			return r, fmt.Errorf("campaign report funnel: %w", err)
		}
		// GROUPING sets a bit for each dimension left out: channel 8,
		// locality 4, practice 2, language 1.
		switch bits {
		case 15:
			r.Funnel = f
		case 7:
			r.ByChannel = append(r.ByChannel, FunnelRow{Key: ch, Label: ch, Funnel: f})
		case 11:
			r.ByLocality = append(r.ByLocality, FunnelRow{Key: loc, Label: loc, Funnel: f})
		case 13:
			r.ByPractice = append(r.ByPractice, FunnelRow{Key: pr, Label: pr, Funnel: f})
			practiceCodes = append(practiceCodes, pr)
		case 14:
			r.ByLanguage = append(r.ByLanguage, FunnelRow{Key: lang, Label: lang, Funnel: f})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("campaign report funnel: %w", err)
	}
	names, err := s.practiceNames(ctx, practiceCodes)
	if err != nil {
		return r, err
	}
	for i, row := range r.ByPractice {
		if n := names[row.Key]; n != "" {
			r.ByPractice[i].Label = n
		}
	}
	if r.Needs, err = s.keyCounts(ctx, `SELECT category, count(*) FROM needs WHERE campaign_id = $1 GROUP BY 1 ORDER BY 2 DESC, 1`, id); err != nil {
		return r, err
	}
	if r.Escalations, err = s.teamEscalations(ctx, id, now); err != nil {
		return r, err
	}
	if r.Hours, err = s.buckets(ctx, id, "hour", loc, false); err != nil {
		return r, err
	}
	if r.Days, err = s.buckets(ctx, id, "day", loc, true); err != nil {
		return r, err
	}
	if r.NextHour, err = s.PlannedBefore(ctx, id, now.Add(time.Hour)); err != nil {
		return r, err
	}
	if r.NextDay, err = s.PlannedBefore(ctx, id, now.Add(24*time.Hour)); err != nil {
		return r, err
	}
	r.TookMillis = int(time.Since(start).Milliseconds())
	return r, nil
}

func (s *Store) practiceNames(ctx context.Context, codes []string) (map[string]string, error) {
	out := map[string]string{}
	rows, err := s.pool.Query(ctx, `SELECT code, name FROM practices WHERE code = ANY($1)`, codes)
	if err != nil {
		return nil, fmt.Errorf("practice names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c, n string
		if err := rows.Scan(&c, &n); err != nil {
			return nil, fmt.Errorf("practice names: %w", err)
		}
		out[c] = n
	}
	return out, rows.Err()
}

func (s *Store) keyCounts(ctx context.Context, q string, args ...any) ([]KeyCount, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyCount, error) {
		var k KeyCount
		err := r.Scan(&k.Key, &k.Count)
		return k, err
	})
}

func (s *Store) teamEscalations(ctx context.Context, id int64, now time.Time) ([]TeamEscalations, error) {
	rows, err := s.pool.Query(ctx, `SELECT team,
			count(*) FILTER (WHERE state = 'open'), count(*) FILTER (WHERE state = 'claimed'),
			count(*) FILTER (WHERE (state = 'open' AND due_at < $2) OR (state = 'claimed' AND resolve_by < $2)),
			count(*) FILTER (WHERE state = 'resolved'),
			coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM claimed_at - opened_at)), 0),
			coalesce(percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM claimed_at - opened_at)), 0),
			coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - opened_at))
				FILTER (WHERE state = 'resolved'), 0),
			coalesce(percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - opened_at))
				FILTER (WHERE state = 'resolved'), 0)
		FROM escalations WHERE campaign_id = $1 GROUP BY team ORDER BY team`, id, now)
	if err != nil {
		return nil, fmt.Errorf("campaign escalations: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TeamEscalations, error) {
		var t TeamEscalations
		err := r.Scan(&t.Team, &t.Open, &t.Claimed, &t.Overdue, &t.Resolved, &t.ClaimMedian, &t.ClaimP90,
			&t.ResolveMedian, &t.ResolveP90)
		return t, err
	})
}

// buckets counts attempts planned and sent, and first answers, by hour or
// day (cut in loc); with outcomes, the outcomes reached too.
func (s *Store) buckets(ctx context.Context, id int64, unit string, loc *time.Location, outcomes bool) ([]Bucket, error) {
	q := `WITH planned AS (
			SELECT date_trunc($2, due_at AT TIME ZONE $3) AS b, count(*) AS n FROM attempts
			WHERE campaign_id = $1 AND state <> 'cancelled' GROUP BY 1),
		sent AS (
			SELECT date_trunc($2, sent_at AT TIME ZONE $3) AS b, count(*) AS n FROM attempts
			WHERE campaign_id = $1 AND sent_at IS NOT NULL GROUP BY 1),
		answered AS (
			SELECT date_trunc($2, first AT TIME ZONE $3) AS b, count(*) AS n
			FROM (SELECT min(answered_at) AS first FROM answers WHERE campaign_id = $1 GROUP BY patient_id) f GROUP BY 1),
		outcomes AS (
			SELECT date_trunc($2, outcome_at AT TIME ZONE $3) AS b,
				count(*) FILTER (WHERE outcome = 'fine') AS fine, count(*) FILTER (WHERE outcome = 'need') AS need,
				count(*) FILTER (WHERE outcome = 'opted_out') AS opted_out,
				count(*) FILTER (WHERE outcome = 'unreachable') AS unreachable
			FROM campaign_patients WHERE campaign_id = $1 AND $4 AND outcome_at IS NOT NULL GROUP BY 1),
		keys AS (SELECT b FROM planned UNION SELECT b FROM sent UNION SELECT b FROM answered UNION SELECT b FROM outcomes)
		SELECT to_char(k.b, 'YYYY-MM-DD"T"HH24:MI:SS'), coalesce(p.n, 0), coalesce(s.n, 0), coalesce(a.n, 0),
			coalesce(o.fine, 0), coalesce(o.need, 0), coalesce(o.opted_out, 0), coalesce(o.unreachable, 0)
		FROM keys k LEFT JOIN planned p ON p.b = k.b LEFT JOIN sent s ON s.b = k.b
		LEFT JOIN answered a ON a.b = k.b LEFT JOIN outcomes o ON o.b = k.b
		WHERE k.b IS NOT NULL ORDER BY k.b`
	rows, err := s.pool.Query(ctx, q, id, unit, loc.String(), outcomes)
	if err != nil {
		return nil, fmt.Errorf("campaign %s buckets: %w", unit, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Bucket, error) {
		var b Bucket
		var wall string
		if err := r.Scan(&wall, &b.Planned, &b.Contacts, &b.Answered, &b.Fine, &b.Need, &b.OptedOut, &b.Unreachable); err != nil {
			return b, err
		}
		t, err := time.ParseInLocation("2006-01-02T15:04:05", wall, loc)
		b.Start = t
		return b, err
	})
}

// PlannedBefore counts a campaign's attempts waiting to go that are due
// before t, by channel: what a pause holds back and a cancel drops.
func (s *Store) PlannedBefore(ctx context.Context, id int64, t time.Time) (map[string]int, error) {
	m := map[string]int{}
	err := s.countInto(ctx, m, `SELECT channel, count(*) FROM attempts
		WHERE campaign_id = $1 AND state = 'planned' AND due_at < $2 GROUP BY 1`, id, t)
	if err != nil {
		return nil, fmt.Errorf("planned attempts: %w", err)
	}
	return m, nil
}

// PendingAttempts counts a campaign's attempts not yet sent (planned,
// queued or waiting for a retry), by channel: what a cancel drops.
func (s *Store) PendingAttempts(ctx context.Context, id int64) (map[string]int, error) {
	m := map[string]int{}
	err := s.countInto(ctx, m, `SELECT channel, count(*) FROM attempts
		WHERE campaign_id = $1 AND state IN ('planned', 'queued', 'retry') GROUP BY 1`, id)
	if err != nil {
		return nil, fmt.Errorf("pending attempts: %w", err)
	}
	return m, nil
}

// SaveCampaignReport stores a computed report, replacing an older one.
func (s *Store) SaveCampaignReport(ctx context.Context, r CampaignReport) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("save campaign report: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO campaign_reports (campaign_id, computed_at, took_ms, report)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (campaign_id) DO UPDATE SET computed_at = EXCLUDED.computed_at, took_ms = EXCLUDED.took_ms,
			report = EXCLUDED.report
		WHERE campaign_reports.computed_at <= EXCLUDED.computed_at`, r.CampaignID, r.ComputedAt, r.TookMillis, b)
	if err != nil {
		return fmt.Errorf("save campaign report %d: %w", r.CampaignID, err)
	}
	return nil
}

// CampaignReport loads a campaign's stored report; ErrNotFound when none
// has been computed yet.
func (s *Store) CampaignReport(ctx context.Context, id int64) (CampaignReport, error) {
	var r CampaignReport
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT report FROM campaign_reports WHERE campaign_id = $1`, id).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("campaign %d report: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("campaign %d report: %w", id, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("campaign %d report: %w", id, err)
	}
	return r, nil
}

// CampaignSummary is a campaign with the headline of its stored report.
type CampaignSummary struct {
	Campaign
	CohortSize int        `json:"cohort_size"`
	Funnel     *Funnel    `json:"funnel,omitempty"`
	ReportAt   *time.Time `json:"report_at,omitempty"`
}

// CampaignSummaries lists campaigns, newest first, with their cohort's
// size and the funnel of their stored report (nil when none yet).
func (s *Store) CampaignSummaries(ctx context.Context) ([]CampaignSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+campaignColumns+`,
			(SELECT count(*) FROM cohort_members m WHERE m.cohort_id = c.cohort_id), r.computed_at, r.report -> 'funnel'
		FROM campaigns c JOIN cohorts co ON co.id = c.cohort_id
		LEFT JOIN campaign_reports r ON r.campaign_id = c.id ORDER BY c.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("campaign summaries: %w", err)
	}
	defer rows.Close()
	var out []CampaignSummary
	for rows.Next() {
		var cs CampaignSummary
		var funnel []byte
		c := &cs.Campaign
		if err := rows.Scan(append(campaignDest(c), &cs.CohortSize, &cs.ReportAt, &funnel)...); err != nil {
			return nil, fmt.Errorf("campaign summaries: %w", err)
		}
		if funnel != nil {
			cs.Funnel = &Funnel{}
			if err := json.Unmarshal(funnel, cs.Funnel); err != nil {
				return nil, fmt.Errorf("campaign summaries: %w", err)
			}
		}
		out = append(out, cs)
	}
	return out, rows.Err()
}

// Cohorts lists cohorts by name with their sizes.
func (s *Store) Cohorts(ctx context.Context) ([]Cohort, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.id, c.name, c.created_at,
			(SELECT count(*) FROM cohort_members m WHERE m.cohort_id = c.id)
		FROM cohorts c ORDER BY c.name`)
	if err != nil {
		return nil, fmt.Errorf("cohorts: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Cohort, error) {
		var c Cohort
		err := r.Scan(&c.ID, &c.Name, &c.CreatedAt, &c.Members)
		return c, err
	})
}

// Worklist kinds.
const (
	// WorklistUnreachable is patients not reached after every attempt.
	WorklistUnreachable = "unreachable"
	// WorklistNoRoute is patients with no number the campaign could use.
	WorklistNoRoute = "no-contact-route"
)

// WorklistQuery chooses a worklist's patients.
type WorklistQuery struct {
	CampaignID int64
	Kind       string // WorklistUnreachable or WorklistNoRoute
	Locality   string // "" for all
	Practice   string // GP practice code, "" for all
	Limit      int    // 0 for all
}

// WorklistEntry is one person to follow up by phone or visit.
type WorklistEntry struct {
	PatientID    int64      `json:"patient_id"`
	NHSNumber    string     `json:"nhs_number"`
	GivenName    string     `json:"given_name"`
	FamilyName   string     `json:"family_name"`
	DateOfBirth  time.Time  `json:"date_of_birth"`
	Mobile       string     `json:"mobile"`
	Landline     string     `json:"landline"`
	Locality     string     `json:"locality"`
	PracticeCode string     `json:"practice_code"`
	PracticeName string     `json:"practice_name"`
	Language     string     `json:"language"`
	Reason       string     `json:"reason"`
	Attempts     int        `json:"attempts"`
	LastAttempt  *time.Time `json:"last_attempt_at,omitempty"`
	OutcomeAt    *time.Time `json:"outcome_at,omitempty"`
}

// ErrBadWorklist is returned for an unknown worklist kind.
var ErrBadWorklist = errors.New("unknown worklist")

// Worklist calls fn for each patient of the worklist, in NHS number order,
// and returns how many there were. Rows are streamed, so a worklist of a
// million patients is never held in memory.
func (s *Store) Worklist(ctx context.Context, q WorklistQuery, fn func(WorklistEntry) error) (int, error) {
	var planned string
	switch q.Kind {
	case WorklistUnreachable:
		planned = "EXISTS"
	case WorklistNoRoute:
		planned = "NOT EXISTS"
	default:
		return 0, fmt.Errorf("worklist %q: %w", q.Kind, ErrBadWorklist)
	}
	limit := any(nil)
	if q.Limit > 0 {
		limit = q.Limit
	}
	rows, err := s.pool.Query(ctx, `SELECT p.id, p.nhs_number, p.given_name, p.family_name, p.date_of_birth,
			coalesce(p.mobile, ''), coalesce(p.landline, ''), p.locality, p.gp_practice_code, coalesce(pr.name, ''),
			p.language, cp.outcome_reason, cp.outcome_at,
			(SELECT count(*) FROM attempts a WHERE a.campaign_id = cp.campaign_id AND a.patient_id = cp.patient_id
				AND a.sent_at IS NOT NULL),
			(SELECT max(a.sent_at) FROM attempts a WHERE a.campaign_id = cp.campaign_id AND a.patient_id = cp.patient_id)
		FROM campaign_patients cp JOIN patients p ON p.id = cp.patient_id
		LEFT JOIN practices pr ON pr.code = p.gp_practice_code
		WHERE cp.campaign_id = $1 AND cp.outcome = 'unreachable'
		  AND `+planned+` (SELECT 1 FROM attempts a WHERE a.campaign_id = cp.campaign_id AND a.patient_id = cp.patient_id)
		  AND ($2 = '' OR p.locality = $2) AND ($3 = '' OR p.gp_practice_code = $3)
		ORDER BY p.nhs_number LIMIT $4`, q.CampaignID, q.Locality, q.Practice, limit)
	if err != nil {
		return 0, fmt.Errorf("worklist: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var e WorklistEntry
		if err := rows.Scan(&e.PatientID, &e.NHSNumber, &e.GivenName, &e.FamilyName, &e.DateOfBirth, &e.Mobile, &e.Landline,
			&e.Locality, &e.PracticeCode, &e.PracticeName, &e.Language, &e.Reason, &e.OutcomeAt, &e.Attempts,
			&e.LastAttempt); err != nil {
			return n, fmt.Errorf("worklist: %w", err)
		}
		if err := fn(e); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("worklist: %w", err)
	}
	return n, nil
}

// ForecastHistory is what earlier campaigns say about patients: how many
// were contacted, how many answered, and the escalations they led to by
// the team routing chose and by category.
type ForecastHistory struct {
	Campaigns int
	Contacted int
	Answered  int
	// Escalations by routed team, of needs patients reported (not the
	// system's "unreachable" ones, which the forecast derives itself).
	Escalations map[string]int
}

// ForecastHistory counts the patients and escalations of every campaign
// other than except that has started.
func (s *Store) ForecastHistory(ctx context.Context, except int64) (ForecastHistory, error) {
	h := ForecastHistory{Escalations: map[string]int{}}
	err := s.pool.QueryRow(ctx, `SELECT count(DISTINCT c.id),
			count(*) FILTER (WHERE EXISTS (SELECT 1 FROM attempts a WHERE a.campaign_id = cp.campaign_id
				AND a.patient_id = cp.patient_id AND a.sent_at IS NOT NULL)),
			count(*) FILTER (WHERE cp.outcome IN ('fine', 'need')
				OR EXISTS (SELECT 1 FROM answers an WHERE an.campaign_id = cp.campaign_id AND an.patient_id = cp.patient_id))
		FROM campaigns c JOIN campaign_patients cp ON cp.campaign_id = c.id
		WHERE c.id <> $1 AND c.started_at IS NOT NULL`, except).Scan(&h.Campaigns, &h.Contacted, &h.Answered)
	if err != nil {
		return h, fmt.Errorf("forecast history: %w", err)
	}
	err = s.countInto(ctx, h.Escalations, `SELECT e.routed_team, count(*) FROM escalations e JOIN campaigns c ON c.id = e.campaign_id
		WHERE c.id <> $1 AND c.started_at IS NOT NULL AND e.category <> 'unreachable' GROUP BY 1`, except)
	if err != nil {
		return h, fmt.Errorf("forecast history: %w", err)
	}
	return h, nil
}

// ContactablePatients counts a cohort's members who have not opted out and
// have a phone number: whom a campaign over it will try to reach.
func (s *Store) ContactablePatients(ctx context.Context, cohortID int64) (members, contactable int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE p.contact_route AND p.opted_out_at IS NULL)
		FROM cohort_members m JOIN patients p ON p.id = m.patient_id WHERE m.cohort_id = $1`, cohortID).Scan(&members, &contactable)
	if err != nil {
		return 0, 0, fmt.Errorf("contactable patients: %w", err)
	}
	return members, contactable, nil
}

// FreshCampaignReport returns the stored report when it is at most maxAge
// old; older, or
// missing, it computes it afresh and stores it.
func (s *Store) FreshCampaignReport(ctx context.Context, id int64, maxAge time.Duration, now time.Time, loc *time.Location) (CampaignReport, error) {
	r, err := s.CampaignReport(ctx, id)
	if err == nil && now.Sub(r.ComputedAt) <= maxAge {
		return r, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return r, err
	}
	return s.RefreshCampaignReport(ctx, id, now, loc)
}

// RefreshCampaignReport computes a campaign's report and stores it.
func (s *Store) RefreshCampaignReport(ctx context.Context, id int64, now time.Time, loc *time.Location) (CampaignReport, error) {
	r, err := s.ComputeCampaignReport(ctx, id, now, loc)
	if err != nil {
		return r, err
	}
	return r, s.SaveCampaignReport(ctx, r)
}

// StaleReportCampaigns lists the campaigns whose stored report should be
// recomputed: running and paused ones whose report is older than maxAge,
// and any whose report predates its last change of state.
func (s *Store) StaleReportCampaigns(ctx context.Context, now time.Time, maxAge time.Duration) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.id FROM campaigns c LEFT JOIN campaign_reports r ON r.campaign_id = c.id
		WHERE (c.state IN ('running', 'paused') AND (r.computed_at IS NULL OR r.computed_at < $1))
		   OR (c.started_at IS NOT NULL AND (r.computed_at IS NULL OR r.computed_at < c.state_changed_at))
		ORDER BY r.computed_at NULLS FIRST`, now.Add(-maxAge))
	if err != nil {
		return nil, fmt.Errorf("stale reports: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// EscalationLoad counts a team's unresolved escalations at one priority
// and state (open or claimed), and how many of them are overdue: open past
// the time to claim, or claimed past the time to resolve.
type EscalationLoad struct {
	Team, Priority, State string
	Count, Overdue        int
}

// EscalationLoads counts unresolved escalations by team, priority and
// state, for the metrics gauges. It reads only unresolved rows (the inbox
// index).
func (s *Store) EscalationLoads(ctx context.Context, now time.Time) ([]EscalationLoad, error) {
	rows, err := s.pool.Query(ctx, `SELECT team, priority, state, count(*),
			count(*) FILTER (WHERE (state = 'open' AND due_at < $1) OR (state = 'claimed' AND resolve_by < $1))
		FROM escalations WHERE state IN ('open', 'claimed') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, now)
	if err != nil {
		return nil, fmt.Errorf("escalation loads: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (EscalationLoad, error) {
		var l EscalationLoad
		err := r.Scan(&l.Team, &l.Priority, &l.State, &l.Count, &l.Overdue)
		return l, err
	})
}

// CampaignFunnel is a campaign's name and state with the funnel of its
// stored report.
type CampaignFunnel struct {
	Name, State string
	Funnel      Funnel
}

// CampaignFunnels lists the funnels of every campaign's stored report (the
// workers keep those of active campaigns fresh), for the metrics gauges:
// one row per campaign, never a scan of its patients.
func (s *Store) CampaignFunnels(ctx context.Context) ([]CampaignFunnel, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.name, c.state, r.report -> 'funnel'
		FROM campaigns c JOIN campaign_reports r ON r.campaign_id = c.id ORDER BY c.id`)
	if err != nil {
		return nil, fmt.Errorf("campaign funnels: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (CampaignFunnel, error) {
		var f CampaignFunnel
		var b []byte
		if err := r.Scan(&f.Name, &f.State, &b); err != nil {
			return f, err
		}
		return f, json.Unmarshal(b, &f.Funnel)
	})
}
