package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Campaign states.
const (
	CampaignDraft     = "draft"
	CampaignRunning   = "running"
	CampaignPaused    = "paused"
	CampaignCancelled = "cancelled"
	CampaignCompleted = "completed"
)

// Campaign is a run of a questionnaire over a cohort.
type Campaign struct {
	ID              int64           `json:"id"`
	Name            string          `json:"name"`
	CohortID        int64           `json:"cohort_id"`
	CohortName      string          `json:"cohort"`
	QuestionnaireID int64           `json:"questionnaire_id"`
	Sender          string          `json:"sender"`
	VoiceSender     string          `json:"voice_sender,omitempty"`
	ProgrammeName   string          `json:"programme_name"`
	TeamPhone       string          `json:"team_phone,omitempty"`
	State           string          `json:"state"`
	Window          json.RawMessage `json:"window"`
	Pace            float64         `json:"pace"`
	Policy          json.RawMessage `json:"policy"`
	CreatedBy       string          `json:"created_by"`
	CreatedAt       time.Time       `json:"created_at"`
	StartedAt       *time.Time      `json:"started_at,omitempty"`
	PlannedAt       *time.Time      `json:"planned_at,omitempty"`
	FinishedAt      *time.Time      `json:"finished_at,omitempty"`

	// IdentityCheck is how calls confirm who answered: dob, year or off.
	IdentityCheck string `json:"identity_check"`
}

const campaignColumns = `c.id, c.name, c.cohort_id, co.name, c.questionnaire_id, c.sender, c.voice_sender, c.programme_name,
	c.team_phone, c.state, c.calling_window, c.pace, c.policy, c.created_by, c.created_at, c.started_at, c.planned_at, c.finished_at,
	c.identity_check`

// campaignDest are the scan destinations of campaignColumns, in order:
// one list, so a query that adds columns after them cannot fall out of
// step with it.
func campaignDest(c *Campaign) []any {
	return []any{&c.ID, &c.Name, &c.CohortID, &c.CohortName, &c.QuestionnaireID, &c.Sender, &c.VoiceSender,
		&c.ProgrammeName, &c.TeamPhone, &c.State, &c.Window, &c.Pace, &c.Policy, &c.CreatedBy, &c.CreatedAt,
		&c.StartedAt, &c.PlannedAt, &c.FinishedAt, &c.IdentityCheck}
}

func scanCampaign(row pgx.Row) (Campaign, error) {
	var c Campaign
	err := row.Scan(campaignDest(&c)...)
	return c, err
}

// CreateCampaign stores a new campaign in the draft state.
func (s *Store) CreateCampaign(ctx context.Context, c Campaign) (Campaign, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO campaigns (name, cohort_id, questionnaire_id, sender, voice_sender,
			programme_name, team_phone, calling_window, pace, policy, created_by, identity_check)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, coalesce(nullif($12, ''), 'dob')) RETURNING id`,
		c.Name, c.CohortID, c.QuestionnaireID, c.Sender, c.VoiceSender, c.ProgrammeName, c.TeamPhone,
		c.Window, c.Pace, c.Policy, c.CreatedBy, c.IdentityCheck).Scan(&id)
	if isUniqueViolation(err) {
		return Campaign{}, fmt.Errorf("create campaign %q: %w", c.Name, ErrDuplicate)
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("create campaign %q: %w", c.Name, err)
	}
	return s.Campaign(ctx, id)
}

// Campaign loads a campaign by ID.
func (s *Store) Campaign(ctx context.Context, id int64) (Campaign, error) {
	c, err := scanCampaign(s.pool.QueryRow(ctx, `SELECT `+campaignColumns+`
		FROM campaigns c JOIN cohorts co ON co.id = c.cohort_id WHERE c.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("campaign %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("campaign %d: %w", id, err)
	}
	return c, nil
}

// CampaignByName loads a campaign by name.
func (s *Store) CampaignByName(ctx context.Context, name string) (Campaign, error) {
	c, err := scanCampaign(s.pool.QueryRow(ctx, `SELECT `+campaignColumns+`
		FROM campaigns c JOIN cohorts co ON co.id = c.cohort_id WHERE c.name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("campaign %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("campaign %q: %w", name, err)
	}
	return c, nil
}

// Campaigns lists campaigns, newest first.
func (s *Store) Campaigns(ctx context.Context) ([]Campaign, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+campaignColumns+`
		FROM campaigns c JOIN cohorts co ON co.id = c.cohort_id ORDER BY c.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	defer rows.Close()
	var out []Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, fmt.Errorf("list campaigns: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ActiveCampaigns lists running campaigns, and paused ones whose patients
// may still be replying.
func (s *Store) ActiveCampaigns(ctx context.Context) ([]Campaign, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+campaignColumns+`
		FROM campaigns c JOIN cohorts co ON co.id = c.cohort_id WHERE c.state IN ('running', 'paused') ORDER BY c.id`)
	if err != nil {
		return nil, fmt.Errorf("active campaigns: %w", err)
	}
	defer rows.Close()
	var out []Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, fmt.Errorf("active campaigns: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ErrStateConflict means a campaign was not in a state the change allows.
var ErrStateConflict = errors.New("campaign is not in a state that allows this")

// SetCampaignState moves a campaign from one of the from states to to.
func (s *Store) SetCampaignState(ctx context.Context, id int64, to string, from ...string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE campaigns SET state = $2, state_changed_at = now(),
			started_at = CASE WHEN $2 = 'running' THEN coalesce(started_at, now()) ELSE started_at END,
			finished_at = CASE WHEN $2 IN ('cancelled', 'completed') THEN now() ELSE finished_at END
		WHERE id = $1 AND state = ANY($3)`, id, to, from)
	if err != nil {
		return fmt.Errorf("campaign %d to %s: %w", id, to, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("campaign %d to %s: %w", id, to, ErrStateConflict)
	}
	return nil
}

// CancelCampaign stops a campaign for good: attempts not yet sent are
// cancelled, and patients still waiting are closed without an outcome
// change for those who already have one.
func (s *Store) CancelCampaign(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE campaigns SET state = 'cancelled', state_changed_at = now(), finished_at = now()
			WHERE id = $1 AND state IN ('draft', 'running', 'paused')`, id)
		if err != nil {
			return fmt.Errorf("cancel campaign %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("cancel campaign %d: %w", id, ErrStateConflict)
		}
		_, err = tx.Exec(ctx, `UPDATE attempts SET state = 'cancelled', status_at = now()
			WHERE campaign_id = $1 AND state IN ('planned', 'queued', 'retry')`, id)
		if err != nil {
			return fmt.Errorf("cancel campaign %d attempts: %w", id, err)
		}
		return nil
	})
}

// CompleteFinishedCampaigns marks running campaigns whose every patient
// has an outcome as completed, and returns their IDs.
func (s *Store) CompleteFinishedCampaigns(ctx context.Context) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `UPDATE campaigns c SET state = 'completed', state_changed_at = now(), finished_at = now()
		WHERE c.state = 'running' AND c.planned_at IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM campaign_patients cp WHERE cp.campaign_id = c.id AND cp.state <> 'done')
		RETURNING c.id`)
	if err != nil {
		return nil, fmt.Errorf("complete campaigns: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// CampaignCounts is where a campaign's patients stand.
type CampaignCounts struct {
	Patients    int            `json:"patients"`
	States      map[string]int `json:"states"`
	Outcomes    map[string]int `json:"outcomes"`
	Attempts    map[string]int `json:"attempts"`
	NeedsByType map[string]int `json:"needs"`
}

// CampaignStatus counts patients by state and outcome, and attempts by state.
func (s *Store) CampaignStatus(ctx context.Context, id int64) (CampaignCounts, error) {
	c := CampaignCounts{States: map[string]int{}, Outcomes: map[string]int{}, Attempts: map[string]int{}, NeedsByType: map[string]int{}}
	rows, err := s.pool.Query(ctx, `SELECT state, coalesce(outcome, ''), count(*) FROM campaign_patients
		WHERE campaign_id = $1 GROUP BY 1, 2`, id)
	if err != nil {
		return c, fmt.Errorf("campaign status: %w", err)
	}
	for rows.Next() {
		var st, oc string
		var n int
		if err := rows.Scan(&st, &oc, &n); err != nil {
			rows.Close()
			return c, fmt.Errorf("campaign status: %w", err)
		}
		c.Patients += n
		c.States[st] += n
		if oc != "" {
			c.Outcomes[oc] += n
		}
	}
	rows.Close()
	if err := s.countInto(ctx, c.Attempts, `SELECT state, count(*) FROM attempts WHERE campaign_id = $1 GROUP BY 1`, id); err != nil {
		return c, err
	}
	if err := s.countInto(ctx, c.NeedsByType, `SELECT category, count(*) FROM needs WHERE campaign_id = $1 GROUP BY 1`, id); err != nil {
		return c, err
	}
	return c, nil
}

func (s *Store) countInto(ctx context.Context, m map[string]int, q string, args ...any) error {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		m[k] = n
	}
	return rows.Err()
}

// SaveQuestionnaire stores a questionnaire definition, returning the
// existing row when the same definition (checksum) is already stored, else
// a new version.
func (s *Store) SaveQuestionnaire(ctx context.Context, key, title, checksum string, definition []byte) (id int64, version int, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('questionnaire:' || $1))`, key); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT id, version FROM questionnaires WHERE key = $1 AND checksum = $2`, key, checksum).Scan(&id, &version)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO questionnaires (key, version, checksum, title, definition)
			VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM questionnaires WHERE key = $1), $2, $3, $4)
			RETURNING id, version`, key, checksum, title, definition).Scan(&id, &version)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("save questionnaire %s: %w", key, err)
	}
	return id, version, nil
}

// QuestionnaireDefinition loads a stored questionnaire definition.
func (s *Store) QuestionnaireDefinition(ctx context.Context, id int64) ([]byte, error) {
	var def []byte
	err := s.aux.QueryRow(ctx, `SELECT definition FROM questionnaires WHERE id = $1`, id).Scan(&def)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("questionnaire %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("questionnaire %d: %w", id, err)
	}
	return def, nil
}
