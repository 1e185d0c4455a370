package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Journey is a patient's place in a campaign, loaded to decide what happens
// next after a reply, a failure or a silence.
type Journey struct {
	CampaignID       int64
	PatientID        int64
	CampaignState    string
	State            string
	Step             int
	Channel          string
	ContactNumber    string
	Conversation     json.RawMessage
	WaitUntil        *time.Time
	QuestionnaireID  int64
	Policy           json.RawMessage
	Window           json.RawMessage
	Sender           string
	ProgrammeName    string
	TeamPhone        string
	GivenName        string
	PracticeName     string
	PracticePhone    string
	Language         string
	Mobile           string
	MobileKind       string
	Landline         string
	LandlineKind     string
	PreferredChannel string
	OptedOut         bool
}

const journeyColumns = `cp.campaign_id, cp.patient_id, c.state, cp.state, cp.step, coalesce(cp.channel, ''),
	coalesce(cp.contact_number, ''), cp.conversation, cp.wait_until, c.questionnaire_id, c.policy, c.calling_window,
	c.sender, c.programme_name, c.team_phone, p.given_name, coalesce(pr.name, ''), coalesce(pr.phone, ''), p.language,
	coalesce(p.mobile, ''), coalesce(p.mobile_kind, ''), coalesce(p.landline, ''), coalesce(p.landline_kind, ''),
	p.preferred_channel, p.opted_out_at IS NOT NULL`

const journeyFrom = `FROM campaign_patients cp
	JOIN campaigns c ON c.id = cp.campaign_id
	JOIN patients p ON p.id = cp.patient_id
	LEFT JOIN practices pr ON pr.code = p.gp_practice_code`

// fields are the scan targets of journeyColumns, in order.
func (j *Journey) fields() []any {
	// JSON columns are scanned as bytes: into a json.RawMessage pgx would
	// run the JSON decoder over them only to copy them.
	return []any{&j.CampaignID, &j.PatientID, &j.CampaignState, &j.State, &j.Step, &j.Channel, &j.ContactNumber,
		(*[]byte)(&j.Conversation), &j.WaitUntil, &j.QuestionnaireID, (*[]byte)(&j.Policy), (*[]byte)(&j.Window), &j.Sender, &j.ProgrammeName,
		&j.TeamPhone, &j.GivenName, &j.PracticeName, &j.PracticePhone, &j.Language, &j.Mobile, &j.MobileKind,
		&j.Landline, &j.LandlineKind, &j.PreferredChannel, &j.OptedOut}
}

func scanJourney(row pgx.Row) (Journey, error) {
	var j Journey
	err := row.Scan(j.fields()...)
	return j, err
}

// Journey loads one patient's journey in a campaign.
func (s *Store) Journey(ctx context.Context, campaignID, patientID int64) (Journey, error) {
	j, err := scanJourney(s.pool.QueryRow(ctx, `SELECT `+journeyColumns+` `+journeyFrom+`
		WHERE cp.campaign_id = $1 AND cp.patient_id = $2`, campaignID, patientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return j, fmt.Errorf("journey %d/%d: %w", campaignID, patientID, ErrNotFound)
	}
	if err != nil {
		return j, fmt.Errorf("journey %d/%d: %w", campaignID, patientID, err)
	}
	return j, nil
}

// DueJourneys lists journeys whose wait has run out (no reply to an
// attempt, or a conversation left unfinished), oldest first. A journey
// with an attempt still in flight is not due: it waits for that attempt
// to settle.
func (s *Store) DueJourneys(ctx context.Context, limit int) ([]Journey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+journeyColumns+` `+journeyFrom+`
		WHERE cp.state IN ('contacting', 'conversing') AND cp.wait_until < now()
		  AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.campaign_id = cp.campaign_id AND a.patient_id = cp.patient_id
			AND a.state IN ('planned', 'queued', 'sending', 'retry'))
		ORDER BY cp.wait_until LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("due journeys: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Journey, error) { return scanJourney(r) })
}

// NextAttempt plans the patient's next attempt and puts the journey back to
// pending. It is idempotent on (campaign, patient, step).
func (s *Store) NextAttempt(ctx context.Context, campaignID, patientID int64, step int, channel, to string, due time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE campaign_patients SET state = 'pending', step = $3, wait_until = NULL
			WHERE campaign_id = $1 AND patient_id = $2 AND state IN ('pending', 'contacting') AND step < $3`,
			campaignID, patientID, step)
		if err != nil {
			return fmt.Errorf("next attempt: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // moved on already (a reply, an opt-out, or a repeat of this call)
		}
		_, err = tx.Exec(ctx, `INSERT INTO attempts (campaign_id, patient_id, step, channel, to_number, due_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (campaign_id, patient_id, step) DO NOTHING`,
			campaignID, patientID, step, channel, to, due)
		if err != nil {
			return fmt.Errorf("next attempt: %w", err)
		}
		return nil
	})
}

// FinishJourney ends a journey with an outcome and records needs, unless it
// has ended already. It reports whether this call ended it.
func (s *Store) FinishJourney(ctx context.Context, campaignID, patientID int64, outcome, reason string, needs []NeedRow, fromStates ...string) (bool, error) {
	ended := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if len(fromStates) == 0 {
			fromStates = []string{"pending", "contacting", "conversing"}
		}
		tag, err := tx.Exec(ctx, `UPDATE campaign_patients SET state = 'done', outcome = $3, outcome_reason = $4,
				outcome_at = now(), wait_until = NULL
			WHERE campaign_id = $1 AND patient_id = $2 AND state = ANY($5)`, campaignID, patientID, outcome, reason, fromStates)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		ended = true
		for _, n := range needs {
			if _, err := tx.Exec(ctx, `INSERT INTO needs (campaign_id, patient_id, category, priority, detail)
				VALUES ($1, $2, $3, $4, $5)`, campaignID, patientID, n.Category, n.Priority, n.Detail); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE attempts SET state = 'cancelled', status_at = now()
			WHERE campaign_id = $1 AND patient_id = $2 AND state IN ('planned', 'queued', 'retry')`, campaignID, patientID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("finish journey %d/%d: %w", campaignID, patientID, err)
	}
	return ended, nil
}

// Route is a channel and number an attempt used.
type Route struct {
	Channel   string
	To        string
	ErrorCode int
}

// FailedRoutes lists the routes whose attempts failed for good for a
// patient in a campaign.
func (s *Store) FailedRoutes(ctx context.Context, campaignID, patientID int64) ([]Route, error) {
	rows, err := s.pool.Query(ctx, `SELECT channel, to_number, coalesce(error_code, 0) FROM attempts
		WHERE campaign_id = $1 AND patient_id = $2 AND state IN ('failed', 'undelivered')`, campaignID, patientID)
	if err != nil {
		return nil, fmt.Errorf("failed routes: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Route, error) {
		var rt Route
		err := r.Scan(&rt.Channel, &rt.To, &rt.ErrorCode)
		return rt, err
	})
}
