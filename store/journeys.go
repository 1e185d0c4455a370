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

func scanJourney(row pgx.Row) (Journey, error) {
	var j Journey
	err := row.Scan(&j.CampaignID, &j.PatientID, &j.CampaignState, &j.State, &j.Step, &j.Channel, &j.ContactNumber,
		&j.Conversation, &j.WaitUntil, &j.QuestionnaireID, &j.Policy, &j.Window, &j.Sender, &j.ProgrammeName,
		&j.TeamPhone, &j.GivenName, &j.PracticeName, &j.PracticePhone, &j.Language, &j.Mobile, &j.MobileKind,
		&j.Landline, &j.LandlineKind, &j.PreferredChannel, &j.OptedOut)
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

// OpenConversation finds the conversation a reply from number belongs to:
// the most recently active unfinished journey on that number.
func (s *Store) OpenConversation(ctx context.Context, number string) (Journey, error) {
	j, err := scanJourney(s.pool.QueryRow(ctx, `SELECT `+journeyColumns+` `+journeyFrom+`
		WHERE cp.contact_number = $1 AND cp.state IN ('contacting', 'conversing') AND cp.channel = 'sms'
		ORDER BY cp.last_activity DESC LIMIT 1`, number))
	if errors.Is(err, pgx.ErrNoRows) {
		return j, ErrNotFound
	}
	if err != nil {
		return j, fmt.Errorf("open conversation: %w", err)
	}
	return j, nil
}

// DueJourneys lists journeys whose wait has run out (no reply to an
// attempt, or a conversation left unfinished), oldest first.
func (s *Store) DueJourneys(ctx context.Context, limit int) ([]Journey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+journeyColumns+` `+journeyFrom+`
		WHERE cp.state IN ('contacting', 'conversing') AND cp.wait_until < now()
		ORDER BY cp.wait_until LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("due journeys: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Journey, error) { return scanJourney(r) })
}

// Inbound is a message received from a patient (or anyone).
type Inbound struct {
	SID  string
	From string
	To   string
	Body string
}

// ReceiveInbound stores an inbound message once. When Twilio repeats the
// webhook, duplicate is true and reply holds what was answered the first
// time (nil if that request never finished), so the answer can be replayed.
func (s *Store) ReceiveInbound(ctx context.Context, in Inbound) (id int64, duplicate bool, reply *string, err error) {
	err = s.pool.QueryRow(ctx, `INSERT INTO messages (direction, provider_sid, from_number, to_number, body, kind)
		VALUES ('in', $1, $2, $3, $4, 'received') ON CONFLICT (provider_sid) DO NOTHING RETURNING id`,
		in.SID, in.From, in.To, in.Body).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.pool.QueryRow(ctx, `SELECT id, reply FROM messages WHERE provider_sid = $1`, in.SID).Scan(&id, &reply)
		if err != nil {
			return 0, true, nil, fmt.Errorf("receive inbound: %w", err)
		}
		return id, true, reply, nil
	}
	if err != nil {
		return 0, false, nil, fmt.Errorf("receive inbound: %w", err)
	}
	return id, false, nil, nil
}

// Reply is the outcome of handling an inbound message, written in one
// transaction with the answer it records.
type Reply struct {
	MessageID    int64
	PatientID    int64 // 0 when the sender is unknown
	CampaignID   int64
	Kind         string // answer, unmatched, keyword, unknown_sender, no_conversation
	NeedsHuman   bool
	TwiML        string
	Outbound     []string // texts sent back, for the timeline
	From, To     string   // of the reply (our number, the patient)
	Answer       *AnswerRow
	Needs        []NeedRow
	Conversation json.RawMessage
	// JourneyState and Outcome update the journey (empty: unchanged).
	JourneyState string
	Outcome      string
	Reason       string
	WaitUntil    *time.Time
}

// AnswerRow is one answer to a question.
type AnswerRow struct {
	Question string
	Option   string
	Raw      string
	Channel  string
	Attempt  int64
}

// NeedRow is a need to record.
type NeedRow struct {
	Category string
	Priority string
	Detail   string
}

// RecordReply stores what an inbound message did: the answer, needs, the
// conversation state, the journey's new state or outcome, and the TwiML
// reply (kept for replays).
func (s *Store) RecordReply(ctx context.Context, r Reply) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var patient, campaign any
		if r.PatientID != 0 {
			patient = r.PatientID
		}
		if r.CampaignID != 0 {
			campaign = r.CampaignID
		}
		if _, err := tx.Exec(ctx, `UPDATE messages SET patient_id = $2, campaign_id = $3, kind = $4, needs_human = $5, reply = $6
			WHERE id = $1`, r.MessageID, patient, campaign, r.Kind, r.NeedsHuman, r.TwiML); err != nil {
			return fmt.Errorf("record reply: message: %w", err)
		}
		var answerID any
		if r.Answer != nil {
			var id int64
			err := tx.QueryRow(ctx, `INSERT INTO answers (campaign_id, patient_id, message_id, channel, question, option_key, raw)
				VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
				r.CampaignID, r.PatientID, r.MessageID, r.Answer.Channel, r.Answer.Question, r.Answer.Option, r.Answer.Raw).Scan(&id)
			if err != nil {
				return fmt.Errorf("record reply: answer: %w", err)
			}
			answerID = id
		}
		for _, n := range r.Needs {
			if _, err := tx.Exec(ctx, `INSERT INTO needs (campaign_id, patient_id, category, priority, answer_id, message_id, detail)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, campaign, r.PatientID, n.Category, n.Priority, answerID, r.MessageID, n.Detail); err != nil {
				return fmt.Errorf("record reply: need: %w", err)
			}
		}
		for _, body := range r.Outbound {
			if _, err := tx.Exec(ctx, `INSERT INTO messages (direction, patient_id, campaign_id, from_number, to_number, body, kind)
				VALUES ('out', $1, $2, $3, $4, $5, 'reply')`, patient, campaign, r.From, r.To, body); err != nil {
				return fmt.Errorf("record reply: outbound: %w", err)
			}
		}
		if r.CampaignID != 0 && r.PatientID != 0 && (r.JourneyState != "" || r.Conversation != nil) {
			_, err := tx.Exec(ctx, `UPDATE campaign_patients SET
					conversation = coalesce($3, conversation),
					state = CASE WHEN $4 = '' THEN state ELSE $4 END,
					outcome = CASE WHEN $5 = '' THEN outcome ELSE $5 END,
					outcome_reason = CASE WHEN $5 = '' THEN outcome_reason ELSE $6 END,
					outcome_at = CASE WHEN $5 = '' THEN outcome_at ELSE now() END,
					wait_until = CASE WHEN $4 = 'done' THEN NULL ELSE coalesce($7, wait_until) END,
					last_activity = now()
				WHERE campaign_id = $1 AND patient_id = $2 AND state <> 'done'`,
				r.CampaignID, r.PatientID, r.Conversation, r.JourneyState, r.Outcome, r.Reason, r.WaitUntil)
			if err != nil {
				return fmt.Errorf("record reply: journey: %w", err)
			}
			if r.JourneyState == "done" {
				if _, err := tx.Exec(ctx, `UPDATE attempts SET state = 'cancelled', status_at = now()
					WHERE campaign_id = $1 AND patient_id = $2 AND state IN ('planned', 'queued', 'retry')`, r.CampaignID, r.PatientID); err != nil {
					return fmt.Errorf("record reply: cancel attempts: %w", err)
				}
			}
		}
		return nil
	})
}

// PatientsByNumber lists the patients who have this number (a couple may
// share one).
func (s *Store) PatientsByNumber(ctx context.Context, number string) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM patients WHERE mobile = $1 OR landline = $1 ORDER BY id`, number)
	if err != nil {
		return nil, fmt.Errorf("patients by number: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// OptOut opts out every patient on the number: their pending attempts are
// cancelled and their open journeys end as opted out.
func (s *Store) OptOut(ctx context.Context, number, reason string) ([]int64, error) {
	var ids []int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE patients SET opted_out_at = coalesce(opted_out_at, now()), updated_at = now()
			WHERE mobile = $1 OR landline = $1 RETURNING id`, number)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil || len(ids) == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE attempts SET state = 'cancelled', status_at = now(), error_message = 'opted out'
			WHERE patient_id = ANY($1) AND state IN ('planned', 'queued', 'retry')`, ids); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE campaign_patients SET state = 'done', outcome = 'opted_out', outcome_reason = $2,
				outcome_at = now(), wait_until = NULL
			WHERE patient_id = ANY($1) AND state <> 'done'`, ids, reason)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("opt out: %w", err)
	}
	return ids, nil
}

// OptIn reverses an opt-out for every patient on the number. Journeys that
// ended as opted out stay ended: a campaign does not restart by itself.
func (s *Store) OptIn(ctx context.Context, number string) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `UPDATE patients SET opted_out_at = NULL, updated_at = now()
		WHERE (mobile = $1 OR landline = $1) AND opted_out_at IS NOT NULL RETURNING id`, number)
	if err != nil {
		return nil, fmt.Errorf("opt in: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
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

// SettleAttempts marks the sent attempts of a journey answered or
// unanswered when it moves on, so reports can count them.
func (s *Store) SettleAttempts(ctx context.Context, campaignID, patientID int64, state string) error {
	_, err := s.pool.Exec(ctx, `UPDATE attempts SET state = $3, status_at = now()
		WHERE campaign_id = $1 AND patient_id = $2 AND state IN ('sent', 'delivered')`, campaignID, patientID, state)
	if err != nil {
		return fmt.Errorf("settle attempts: %w", err)
	}
	return nil
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
