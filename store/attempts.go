package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// QueueDue marks up to limit planned attempts of a running campaign that are
// due as queued and returns them. SKIP LOCKED lets several dispatchers
// run at once without queueing an attempt twice.
func (s *Store) QueueDue(ctx context.Context, campaignID int64, limit int) ([]QueuedAttempt, error) {
	rows, err := s.pool.Query(ctx, `UPDATE attempts SET state = 'queued', queued_at = now()
		WHERE id IN (
			SELECT a.id FROM attempts a
			WHERE a.campaign_id = $1 AND a.state = 'planned' AND a.due_at <= now()
			ORDER BY a.due_at, a.id LIMIT $2 FOR UPDATE SKIP LOCKED)
		  AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = $1 AND c.state = 'running')
		RETURNING id, channel`, campaignID, limit)
	if err != nil {
		return nil, fmt.Errorf("queue due attempts: %w", err)
	}
	return collectQueued(rows)
}

func collectQueued(rows pgx.Rows) ([]QueuedAttempt, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (QueuedAttempt, error) {
		var a QueuedAttempt
		err := r.Scan(&a.ID, &a.Channel)
		return a, err
	})
}

// QueuedCount counts a campaign's attempts waiting for a worker.
func (s *Store) QueuedCount(ctx context.Context, campaignID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM attempts WHERE campaign_id = $1 AND state = 'queued'`, campaignID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("queued count: %w", err)
	}
	return n, nil
}

// QueuedAttempt is an attempt handed to (or to be handed again to) the queue.
type QueuedAttempt struct {
	ID      int64
	Channel string
}

// StaleQueued lists attempts queued (or waiting for a retry, or claimed by
// a worker whose lease ran out) longer ago than age: their tasks may have
// been lost with Redis, so the reconciler enqueues them again.
func (s *Store) StaleQueued(ctx context.Context, age time.Duration, limit int) ([]QueuedAttempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, channel FROM attempts
		WHERE (state = 'queued' AND queued_at < now() - $1::interval)
		   OR (state IN ('sending', 'retry') AND lease_until < now() - $1::interval)
		ORDER BY id LIMIT $2`, age, limit)
	if err != nil {
		return nil, fmt.Errorf("stale attempts: %w", err)
	}
	return collectQueued(rows)
}

// Work is a claimed attempt with everything needed to send it.
type Work struct {
	AttemptID  int64
	CampaignID int64
	PatientID  int64
	Step       int
	Channel    string
	To         string
	Tries      int
	ClaimedAt  time.Time
	// FirstClaimedAt is when the first try began: nothing Twilio created
	// before it belongs to this attempt.
	FirstClaimedAt  time.Time
	Sender          string
	VoiceSender     string
	ProgrammeName   string
	TeamPhone       string
	Window          json.RawMessage
	Policy          json.RawMessage
	QuestionnaireID int64
	GivenName       string
	PracticeName    string
	PracticePhone   string
	Language        string
	OptedOut        bool
	PatientState    string
	Conversation    json.RawMessage
}

// ClaimResult says why a claim did not give work.
type ClaimResult int

// Claim results.
const (
	Claimed       ClaimResult = iota
	ClaimDone                 // already sent, cancelled or claimed by a live worker: nothing to do
	ClaimPaused               // the campaign is not running: put back for later
	ClaimNotFound             // no such attempt
)

// ClaimAttempt takes an attempt for sending. Only one worker can hold it:
// the update succeeds for a queued, planned or retrying attempt, or one
// whose previous worker's lease ran out. Tries counts claims, so a claim
// with Tries > 1 knows an earlier try may have reached Twilio.
func (s *Store) ClaimAttempt(ctx context.Context, id int64, lease time.Duration) (Work, ClaimResult, error) {
	var w Work
	err := s.pool.QueryRow(ctx, `UPDATE attempts a SET state = 'sending', claimed_at = now(),
			first_claimed_at = coalesce(a.first_claimed_at, now()),
			lease_until = now() + $2::interval, tries = a.tries + 1
		FROM campaigns c
		WHERE a.id = $1 AND c.id = a.campaign_id AND c.state = 'running'
		  AND (a.state IN ('queued', 'planned', 'retry') OR (a.state = 'sending' AND a.lease_until < now()))
		RETURNING a.id, a.campaign_id, a.patient_id, a.step, a.channel, a.to_number, a.tries, a.claimed_at, a.first_claimed_at`,
		id, lease).Scan(&w.AttemptID, &w.CampaignID, &w.PatientID, &w.Step, &w.Channel, &w.To, &w.Tries, &w.ClaimedAt, &w.FirstClaimedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		res, err := s.whyNotClaimed(ctx, id)
		return w, res, err
	}
	if err != nil {
		return w, ClaimDone, fmt.Errorf("claim attempt %d: %w", id, err)
	}
	err = s.pool.QueryRow(ctx, `SELECT c.sender, c.voice_sender, c.programme_name, c.team_phone, c.calling_window, c.policy,
			c.questionnaire_id, p.given_name, coalesce(pr.name, ''), coalesce(pr.phone, ''), p.language,
			p.opted_out_at IS NOT NULL, cp.state, cp.conversation
		FROM attempts a
		JOIN campaigns c ON c.id = a.campaign_id
		JOIN patients p ON p.id = a.patient_id
		JOIN campaign_patients cp ON cp.campaign_id = a.campaign_id AND cp.patient_id = a.patient_id
		LEFT JOIN practices pr ON pr.code = p.gp_practice_code
		WHERE a.id = $1`, id).Scan(&w.Sender, &w.VoiceSender, &w.ProgrammeName, &w.TeamPhone, &w.Window, &w.Policy,
		&w.QuestionnaireID, &w.GivenName, &w.PracticeName, &w.PracticePhone, &w.Language, &w.OptedOut,
		&w.PatientState, &w.Conversation)
	if err != nil {
		return w, Claimed, fmt.Errorf("load attempt %d: %w", id, err)
	}
	return w, Claimed, nil
}

func (s *Store) whyNotClaimed(ctx context.Context, id int64) (ClaimResult, error) {
	var state, cstate string
	err := s.pool.QueryRow(ctx, `SELECT a.state, c.state FROM attempts a JOIN campaigns c ON c.id = a.campaign_id WHERE a.id = $1`, id).Scan(&state, &cstate)
	if errors.Is(err, pgx.ErrNoRows) {
		return ClaimNotFound, nil
	}
	if err != nil {
		return ClaimDone, fmt.Errorf("attempt %d: %w", id, err)
	}
	if cstate != CampaignRunning && (state == "queued" || state == "retry") {
		// Paused: the dispatcher queues it again on resume.
		_, err := s.pool.Exec(ctx, `UPDATE attempts SET state = 'planned', queued_at = NULL WHERE id = $1 AND state IN ('queued', 'retry')`, id)
		if err != nil {
			return ClaimDone, fmt.Errorf("unqueue attempt %d: %w", id, err)
		}
		return ClaimPaused, nil
	}
	return ClaimDone, nil
}

// Reschedule puts a claimed attempt back in the plan at due (outside the
// calling window, or held back by a limit).
func (s *Store) Reschedule(ctx context.Context, id int64, due time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE attempts SET state = 'planned', due_at = $2, queued_at = NULL, lease_until = NULL,
			tries = greatest(tries - 1, 0)
		WHERE id = $1 AND state = 'sending'`, id, due)
	if err != nil {
		return fmt.Errorf("reschedule attempt %d: %w", id, err)
	}
	return nil
}

// MarkRetry records a temporary failure; the attempt is tried again after
// the backoff (by the queue's retry, or the reconciler if that is lost).
func (s *Store) MarkRetry(ctx context.Context, id int64, backoff time.Duration, code int, msg string) error {
	_, err := s.pool.Exec(ctx, `UPDATE attempts SET state = 'retry', lease_until = now() + $2::interval,
			error_code = $3, error_message = $4
		WHERE id = $1 AND state = 'sending'`, id, backoff, nullCode(code), msg)
	if err != nil {
		return fmt.Errorf("mark retry %d: %w", id, err)
	}
	return nil
}

func nullCode(code int) any {
	if code == 0 {
		return nil
	}
	return code
}

// Sent records that Twilio accepted an attempt: the SID, the text, and the
// patient's journey moves to waiting for a reply until waitUntil. The first
// attempt starts the conversation with the given state.
type Sent struct {
	AttemptID    int64
	SID          string
	Status       string
	Body         string
	From         string
	WaitUntil    time.Time
	Conversation json.RawMessage
}

// MarkSent records a sent attempt. A status callback may have arrived
// first (Twilio is fast); the attempt state never goes backwards, and a
// journey that already moved on to a later step stays there.
func (s *Store) MarkSent(ctx context.Context, m Sent) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var campaignID, patientID int64
		var to, channel string
		err := tx.QueryRow(ctx, `UPDATE attempts SET provider_sid = $2, body = $3, sent_at = coalesce(sent_at, now()),
				lease_until = NULL, error_code = NULL, error_message = '',
				state = CASE WHEN state IN ('sending', 'retry') THEN $4 ELSE state END
			WHERE id = $1 RETURNING campaign_id, patient_id, to_number, channel`,
			m.AttemptID, m.SID, m.Body, m.Status).Scan(&campaignID, &patientID, &to, &channel)
		if err != nil {
			return fmt.Errorf("mark sent %d: %w", m.AttemptID, err)
		}
		if err := startContact(ctx, tx, m.AttemptID, m.WaitUntil, m.Conversation); err != nil {
			return fmt.Errorf("mark sent %d: %w", m.AttemptID, err)
		}
		if channel == "sms" {
			_, err = tx.Exec(ctx, `INSERT INTO messages (direction, provider_sid, patient_id, campaign_id, attempt_id,
					from_number, to_number, body, kind)
				VALUES ('out', $1, $2, $3, $4, $5, $6, $7, 'attempt') ON CONFLICT (provider_sid) DO NOTHING`,
				m.SID, patientID, campaignID, m.AttemptID, m.From, to, m.Body)
			if err != nil {
				return fmt.Errorf("mark sent %d: message: %w", m.AttemptID, err)
			}
		}
		return nil
	})
}

// StartContact moves the journey of a claimed attempt to waiting for an
// answer, before the message or call goes out: a reply can come back
// faster than the send is recorded, and must find its conversation. The
// first attempt starts the conversation with the given state.
func (s *Store) StartContact(ctx context.Context, attemptID int64, waitUntil time.Time, conversation json.RawMessage) error {
	return startContact(ctx, s.pool, attemptID, waitUntil, conversation)
}

func startContact(ctx context.Context, q querier, attemptID int64, waitUntil time.Time, conversation json.RawMessage) error {
	_, err := q.Exec(ctx, `UPDATE campaign_patients cp SET
			state = CASE WHEN cp.state = 'pending' THEN 'contacting' ELSE cp.state END,
			step = a.step, channel = a.channel, contact_number = a.to_number, last_activity = now(),
			wait_until = CASE WHEN cp.state = 'conversing' THEN cp.wait_until ELSE $2 END,
			conversation = coalesce(cp.conversation, $3)
		FROM attempts a
		WHERE a.id = $1 AND cp.campaign_id = a.campaign_id AND cp.patient_id = a.patient_id
		  AND cp.state <> 'done' AND cp.step <= a.step`, attemptID, waitUntil, conversation)
	if err != nil {
		return fmt.Errorf("start contact for attempt %d: %w", attemptID, err)
	}
	return nil
}

// FailAttempt records a final failure of an attempt (the number is unusable
// or the provider refused it). The caller decides what happens next.
func (s *Store) FailAttempt(ctx context.Context, id int64, state string, code int, msg string) error {
	_, err := s.pool.Exec(ctx, `UPDATE attempts SET state = $2, error_code = $3, error_message = $4,
			lease_until = NULL, status_at = now()
		WHERE id = $1 AND state IN ('sending', 'retry', 'queued', 'planned', 'sent')`, id, state, nullCode(code), msg)
	if err != nil {
		return fmt.Errorf("fail attempt %d: %w", id, err)
	}
	return nil
}

// AttemptStatus is a status callback applied to an attempt.
type AttemptStatus struct {
	AttemptID   int64
	SID         string
	Status      string // Twilio's status, mapped by the caller to an attempt state
	State       string
	Rank        int // states only move to a higher rank
	ErrorCode   int
	ErrorMsg    string
	First       bool // false when this callback was seen before
	CampaignID  int64
	PatientID   int64
	Step        int
	Channel     string
	PatientDone bool
}

// ApplyStatus records a status callback once per (SID, status) and moves
// the attempt forward. It also settles an attempt whose worker died before
// recording the SID: the callback URL names the attempt.
func (s *Store) ApplyStatus(ctx context.Context, st AttemptStatus, rankOf map[string]int) (AttemptStatus, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO status_events (provider_sid, status, attempt_id, error_code)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, st.SID, st.Status, st.AttemptID, nullCode(st.ErrorCode))
		if err != nil {
			return err
		}
		st.First = tag.RowsAffected() == 1
		if !st.First {
			return nil
		}
		var cur string
		var sid *string
		err = tx.QueryRow(ctx, `SELECT a.state, a.provider_sid, a.campaign_id, a.patient_id, a.step, a.channel, cp.state = 'done'
			FROM attempts a JOIN campaign_patients cp ON cp.campaign_id = a.campaign_id AND cp.patient_id = a.patient_id
			WHERE a.id = $1 FOR UPDATE OF a`, st.AttemptID).
			Scan(&cur, &sid, &st.CampaignID, &st.PatientID, &st.Step, &st.Channel, &st.PatientDone)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("attempt %d: %w", st.AttemptID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if sid != nil && *sid != st.SID {
			return fmt.Errorf("attempt %d has SID %s, callback names %s: %w", st.AttemptID, *sid, st.SID, ErrStateConflict)
		}
		if rankOf[st.State] <= rankOf[cur] {
			st.State = cur
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE attempts SET state = $2, provider_sid = $3, status_at = now(),
				sent_at = coalesce(sent_at, now()), lease_until = NULL,
				error_code = coalesce($4, error_code), error_message = CASE WHEN $5 = '' THEN error_message ELSE $5 END
			WHERE id = $1`, st.AttemptID, st.State, st.SID, nullCode(st.ErrorCode), st.ErrorMsg)
		return err
	})
	if err != nil {
		return st, fmt.Errorf("apply status %s to attempt %d: %w", st.Status, st.AttemptID, err)
	}
	return st, nil
}

// AttemptCampaign returns the campaign of an attempt.
func (s *Store) AttemptCampaign(ctx context.Context, id int64) (int64, error) {
	var c int64
	if err := s.pool.QueryRow(ctx, `SELECT campaign_id FROM attempts WHERE id = $1`, id).Scan(&c); err != nil {
		return 0, fmt.Errorf("attempt %d campaign: %w", id, err)
	}
	return c, nil
}
