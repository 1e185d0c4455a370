package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
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
	// States counts the campaign's patients by where their journey
	// stands (pending, contacting, conversing, done); Attempts counts its
	// attempts by state.
	States   map[string]int `json:"patient_states"`
	Attempts map[string]int `json:"attempt_states"`
}

// Counts are the report's patients by state and outcome, attempts by
// state and needs by category, as CampaignStatus counts them live.
func (r CampaignReport) Counts() CampaignCounts {
	c := CampaignCounts{Patients: r.Funnel.Patients, States: map[string]int{}, Outcomes: map[string]int{},
		Attempts: map[string]int{}, NeedsByType: map[string]int{}}
	maps.Copy(c.States, r.States)
	maps.Copy(c.Attempts, r.Attempts)
	for k, n := range map[string]int{"fine": r.Funnel.Fine, "need": r.Funnel.Need, "opted_out": r.Funnel.OptedOut,
		"unreachable": r.Funnel.Unreachable + r.Funnel.NoRoute} {
		if n > 0 {
			c.Outcomes[k] = n
		}
	}
	for _, kc := range r.Needs {
		c.NeedsByType[kc.Key] = kc.Count
	}
	return c
}

// ComputeCampaignReport counts a campaign's figures from its patients,
// attempts, answers, needs and escalations. It reads every row of the
// campaign, so views read the stored copy (CampaignReport) and a refresh
// loop calls this; days are cut in loc.
//
// It reads the campaign's attempts twice, each pass able to run in
// parallel: once summed up by patient (into a temporary table, for the
// funnel) and once counted by when they were due and sent and by state.
// One pass over the campaign's patients then gives the funnel by channel,
// locality, practice and language, the patients by state, and the
// outcomes and first answers by time. Counts are binned in UTC and cut
// into local hours here; days are summed from the hours. Everything is
// read in one repeatable-read transaction, so the figures agree with each
// other.
func (s *Store) ComputeCampaignReport(ctx context.Context, id int64, now time.Time, loc *time.Location) (CampaignReport, error) {
	start := time.Now()
	r := CampaignReport{CampaignID: id, ComputedAt: now, NextHour: map[string]int{}, NextDay: map[string]int{},
		States: map[string]int{}, Attempts: map[string]int{}}
	if _, err := s.Campaign(ctx, id); err != nil {
		return r, err
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		return computeReport(ctx, tx, &r, now, loc)
	})
	if err != nil {
		return r, fmt.Errorf("campaign %d report: %w", id, err)
	}
	r.TookMillis = int(time.Since(start).Milliseconds())
	return r, nil
}

// reportWorkMem is the memory each of the report's aggregations may use
// before spilling to disk: grouping a million patients' attempts by
// patient takes about 220 MB in hash tables (hash_mem_multiplier 2).
const reportWorkMem = "128MB"

// reportBin is the width of the time bins the report counts in before
// they are cut into local hours. Every time zone's offset is a multiple
// of 15 minutes, so each bin falls in one local hour; binning in UTC
// (date_bin) is arithmetic, where a local date_trunc per row converts
// every timestamp, which at 10 million attempts took much of the time.
// The statistics attempts_report_bins (migration 0024) are on these
// expressions, written the same way.
const reportBin = "15 minutes"

// wallHour is the local hour t falls in, as 2006-01-02T15:00:00.
func wallHour(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02T15") + ":00:00"
}

func computeReport(ctx context.Context, tx pgx.Tx, r *CampaignReport, now time.Time, loc *time.Location) error {
	id := r.CampaignID
	if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '`+reportWorkMem+`'`); err != nil {
		return err
	}
	// Each patient's attempts, summed up: one (parallel) pass over the
	// campaign's attempts. channel is the channel of the patient's latest
	// step (attempts are texts or calls).
	_, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE report_patients ON COMMIT DROP AS
		SELECT patient_id, bool_or(sent_at IS NOT NULL) AS contacted,
			bool_or(state IN ('delivered', 'answered', 'completed')) AS delivered,
			CASE WHEN max(step) FILTER (WHERE channel = 'voice') > coalesce(max(step) FILTER (WHERE channel = 'sms'), -1)
				THEN 'voice' ELSE 'sms' END AS channel
		FROM attempts WHERE campaign_id = $1 GROUP BY patient_id`, id)
	if err != nil {
		return fmt.Errorf("attempts by patient: %w", err)
	}
	if _, err := tx.Exec(ctx, `ANALYZE report_patients`); err != nil {
		return fmt.Errorf("attempts by patient: %w", err)
	}
	hours := map[string]*Bucket{}
	hour := func(t time.Time) *Bucket {
		k := wallHour(t, loc)
		b := hours[k]
		if b == nil {
			b = &Bucket{}
			hours[k] = b
		}
		return b
	}
	// The attempts by when they were due and sent, and state: a second
	// pass (the statistics attempts_report_bins let it run in parallel).
	rows, err := tx.Query(ctx, `SELECT date_bin('`+reportBin+`', due_at, timestamptz 'epoch'),
			date_bin('`+reportBin+`', sent_at, timestamptz 'epoch'), state, count(*)
		FROM attempts WHERE campaign_id = $1 GROUP BY 1, 2, 3`, id)
	if err != nil {
		return fmt.Errorf("attempt buckets: %w", err)
	}
	for rows.Next() {
		var due time.Time
		var sent *time.Time
		var state string
		var n int
		if err := rows.Scan(&due, &sent, &state, &n); err != nil {
			rows.Close()
			return fmt.Errorf("attempt buckets: %w", err)
		}
		r.Attempts[state] += n
		if state != "cancelled" {
			hour(due).Planned += n
		}
		if sent != nil {
			hour(*sent).Contacts += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("attempt buckets: %w", err)
	}

	// One pass over the campaign's patients, grouped eight ways. bits says
	// which grouping a row belongs to (GROUPING of the seven dimensions).
	rows, err = tx.Query(ctx, `WITH ans AS (
			SELECT patient_id, min(answered_at) AS first FROM answers WHERE campaign_id = $1 GROUP BY patient_id),
		pp AS (
			SELECT coalesce(a.channel, 'none') AS channel, p.locality, p.gp_practice_code AS practice, p.language,
				a.patient_id IS NOT NULL AS planned, coalesce(a.contacted, false) AS contacted,
				coalesce(a.delivered, false) AS delivered,
				(ans.patient_id IS NOT NULL OR cp.outcome IN ('fine', 'need')) AS answered, cp.outcome, cp.state,
				date_bin('`+reportBin+`', cp.outcome_at, timestamptz 'epoch') AS outcome_bin,
				date_bin('`+reportBin+`', ans.first, timestamptz 'epoch') AS answer_bin
			FROM campaign_patients cp JOIN patients p ON p.id = cp.patient_id
			LEFT JOIN report_patients a ON a.patient_id = cp.patient_id
			LEFT JOIN ans ON ans.patient_id = cp.patient_id
			WHERE cp.campaign_id = $1)
		SELECT GROUPING(channel, locality, practice, language, state, outcome_bin, answer_bin), coalesce(channel, ''),
			coalesce(locality, ''), coalesce(practice, ''), coalesce(language, ''), coalesce(state, ''),
			coalesce(outcome_bin, answer_bin),
			count(*), count(*) FILTER (WHERE planned), count(*) FILTER (WHERE contacted),
			count(*) FILTER (WHERE delivered), count(*) FILTER (WHERE answered),
			count(*) FILTER (WHERE outcome = 'fine'), count(*) FILTER (WHERE outcome = 'need'),
			count(*) FILTER (WHERE outcome = 'opted_out'),
			count(*) FILTER (WHERE outcome = 'unreachable' AND planned),
			count(*) FILTER (WHERE outcome = 'unreachable' AND NOT planned)
		FROM pp GROUP BY GROUPING SETS ((), (channel), (locality), (practice), (language), (state), (outcome_bin), (answer_bin))
		ORDER BY 1, 2, 3, 4, 5, 6, 7`, id)
	if err != nil {
		return fmt.Errorf("funnel: %w", err)
	}
	var practiceCodes []string
	for rows.Next() {
		var bits int
		var ch, locality, pr, lang, state string
		var bin *time.Time
		var f Funnel
		if err := rows.Scan(&bits, &ch, &locality, &pr, &lang, &state, &bin, &f.Patients, &f.Planned, &f.Contacted, &f.Delivered,
			&f.Answered, &f.Fine, &f.Need, &f.OptedOut, &f.Unreachable, &f.NoRoute); err != nil {
			rows.Close()
			return fmt.Errorf("funnel: %w", err)
		}
		// GROUPING sets a bit for each dimension left out: channel 64,
		// locality 32, practice 16, language 8, state 4, outcome bin 2,
		// answer bin 1.
		switch bits {
		case 127:
			r.Funnel = f
		case 63:
			r.ByChannel = append(r.ByChannel, FunnelRow{Key: ch, Label: ch, Funnel: f})
		case 95:
			r.ByLocality = append(r.ByLocality, FunnelRow{Key: locality, Label: locality, Funnel: f})
		case 111:
			r.ByPractice = append(r.ByPractice, FunnelRow{Key: pr, Label: pr, Funnel: f})
			practiceCodes = append(practiceCodes, pr)
		case 119:
			r.ByLanguage = append(r.ByLanguage, FunnelRow{Key: lang, Label: lang, Funnel: f})
		case 123:
			r.States[state] = f.Patients
		case 125:
			if bin != nil {
				b := hour(*bin)
				b.Fine += f.Fine
				b.Need += f.Need
				b.OptedOut += f.OptedOut
				b.Unreachable += f.Unreachable + f.NoRoute
			}
		case 126:
			if bin != nil {
				hour(*bin).Answered += f.Patients
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("funnel: %w", err)
	}
	if r.Hours, r.Days, err = hoursAndDays(hours, loc); err != nil {
		return err
	}
	names, err := practiceNames(ctx, tx, practiceCodes)
	if err != nil {
		return err
	}
	for i, row := range r.ByPractice {
		if n := names[row.Key]; n != "" {
			r.ByPractice[i].Label = n
		}
	}
	if r.Needs, err = keyCounts(ctx, tx, `SELECT category, count(*) FROM needs WHERE campaign_id = $1 GROUP BY 1 ORDER BY 2 DESC, 1`, id); err != nil {
		return err
	}
	if r.Escalations, err = teamEscalations(ctx, tx, id, now); err != nil {
		return err
	}
	if r.NextHour, err = plannedBefore(ctx, tx, id, now.Add(time.Hour)); err != nil {
		return err
	}
	if r.NextDay, err = plannedBefore(ctx, tx, id, now.Add(24*time.Hour)); err != nil {
		return err
	}
	return nil
}

// hoursAndDays turns counts by hour (local wall time, as
// 2006-01-02T15:04:05) into the report's hours, those with attempts
// planned or sent or first answers, and its days, summed from every hour,
// outcomes included.
func hoursAndDays(byHour map[string]*Bucket, loc *time.Location) (hours, days []Bucket, err error) {
	keys := slices.Sorted(maps.Keys(byHour))
	byDay := map[string]*Bucket{}
	var dayKeys []string
	for _, k := range keys {
		b := byHour[k]
		if b.Planned+b.Contacts+b.Answered > 0 {
			h := Bucket{Planned: b.Planned, Contacts: b.Contacts, Answered: b.Answered}
			if h.Start, err = time.ParseInLocation("2006-01-02T15:04:05", k, loc); err != nil {
				return nil, nil, fmt.Errorf("report hours: %w", err)
			}
			hours = append(hours, h)
		}
		dk := k[:len("2006-01-02")]
		d := byDay[dk]
		if d == nil {
			d = &Bucket{}
			byDay[dk] = d
			dayKeys = append(dayKeys, dk)
		}
		d.Planned += b.Planned
		d.Contacts += b.Contacts
		d.Answered += b.Answered
		d.Fine += b.Fine
		d.Need += b.Need
		d.OptedOut += b.OptedOut
		d.Unreachable += b.Unreachable
	}
	for _, dk := range dayKeys {
		d := *byDay[dk]
		if d.Start, err = time.ParseInLocation(time.DateOnly, dk, loc); err != nil {
			return nil, nil, fmt.Errorf("report days: %w", err)
		}
		days = append(days, d)
	}
	return hours, days, nil
}

func practiceNames(ctx context.Context, q querier, codes []string) (map[string]string, error) {
	out := map[string]string{}
	rows, err := q.Query(ctx, `SELECT code, name FROM practices WHERE code = ANY($1)`, codes)
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

func keyCounts(ctx context.Context, q querier, sql string, args ...any) ([]KeyCount, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyCount, error) {
		var k KeyCount
		err := r.Scan(&k.Key, &k.Count)
		return k, err
	})
}

func teamEscalations(ctx context.Context, q querier, id int64, now time.Time) ([]TeamEscalations, error) {
	rows, err := q.Query(ctx, `SELECT team,
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

// PlannedBefore counts a campaign's attempts waiting to go that are due
// before t, by channel: what a pause holds back and a cancel drops.
func (s *Store) PlannedBefore(ctx context.Context, id int64, t time.Time) (map[string]int, error) {
	return plannedBefore(ctx, s.pool, id, t)
}

func plannedBefore(ctx context.Context, q querier, id int64, t time.Time) (map[string]int, error) {
	rows, err := q.Query(ctx, `SELECT channel, count(*) FROM attempts
		WHERE campaign_id = $1 AND state = 'planned' AND due_at < $2 GROUP BY 1`, id, t)
	if err != nil {
		return nil, fmt.Errorf("planned attempts: %w", err)
	}
	kcs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[KeyCount])
	if err != nil {
		return nil, fmt.Errorf("planned attempts: %w", err)
	}
	m := map[string]int{}
	for _, kc := range kcs {
		m[kc.Key] = kc.Count
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
			co.members, r.computed_at, r.report -> 'funnel'
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
	rows, err := s.pool.Query(ctx, `SELECT c.id, c.name, c.created_at, c.members FROM cohorts c ORDER BY c.name`)
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
// other than except that has started. Contacted and answered patients
// come from each campaign's stored report (its funnel counts them the
// same way), so a draft's page, which forecasts on every view, does not
// scan the attempts of earlier campaigns; campaigns with no stored report
// yet are counted from their rows.
func (s *Store) ForecastHistory(ctx context.Context, except int64) (ForecastHistory, error) {
	h := ForecastHistory{Escalations: map[string]int{}}
	err := s.pool.QueryRow(ctx, `WITH started AS (
			SELECT c.id, r.report -> 'funnel' AS f FROM campaigns c LEFT JOIN campaign_reports r ON r.campaign_id = c.id
			WHERE c.id <> $1 AND c.started_at IS NOT NULL),
		live AS (
			SELECT count(DISTINCT s.id) AS campaigns,
				count(*) FILTER (WHERE EXISTS (SELECT 1 FROM attempts a WHERE a.campaign_id = cp.campaign_id
					AND a.patient_id = cp.patient_id AND a.sent_at IS NOT NULL)) AS contacted,
				count(*) FILTER (WHERE cp.outcome IN ('fine', 'need')
					OR EXISTS (SELECT 1 FROM answers an WHERE an.campaign_id = cp.campaign_id AND an.patient_id = cp.patient_id)) AS answered
			FROM started s JOIN campaign_patients cp ON cp.campaign_id = s.id WHERE s.f IS NULL),
		stored AS (
			SELECT count(*) FILTER (WHERE (f ->> 'patients')::int > 0) AS campaigns,
				coalesce(sum((f ->> 'contacted')::int), 0) AS contacted, coalesce(sum((f ->> 'answered')::int), 0) AS answered
			FROM started WHERE f IS NOT NULL)
		SELECT live.campaigns + stored.campaigns, live.contacted + stored.contacted, live.answered + stored.answered
		FROM live, stored`, except).Scan(&h.Campaigns, &h.Contacted, &h.Answered)
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

// RefreshCampaignReport computes a campaign's report and stores it.
func (s *Store) RefreshCampaignReport(ctx context.Context, id int64, now time.Time, loc *time.Location) (CampaignReport, error) {
	r, err := s.ComputeCampaignReport(ctx, id, now, loc)
	if err != nil {
		return r, err
	}
	return r, s.SaveCampaignReport(ctx, r)
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
