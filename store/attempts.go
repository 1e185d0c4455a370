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
	// Generation counts the times the reconciler handed the attempt to
	// the queue again (0 for the dispatcher's first hand-over): each
	// generation is a task of its own, so a lost task never blocks one.
	Generation int
}

// RequeueStale takes up to limit attempts whose tasks may have been lost
// and gives each a new generation for its next task: queued (or waiting
// for a retry) longer ago than age, so Redis may have lost them, or
// claimed by a worker whose lease ran out. A live worker extends its
// lease while it works, so an expired one means the worker died: it is
// taken over at once, long before any step's wait could end. An attempt
// is taken at most once per age, whichever process asks, so several
// reconcilers do not pile up tasks for it.
func (s *Store) RequeueStale(ctx context.Context, age time.Duration, limit int) ([]QueuedAttempt, error) {
	rows, err := s.pool.Query(ctx, `UPDATE attempts SET requeues = requeues + 1, requeued_at = now()
		WHERE id IN (
			SELECT id FROM attempts
			WHERE ((state = 'queued' AND queued_at < now() - $1::interval)
			    OR (state = 'retry' AND lease_until < now() - $1::interval)
			    OR (state = 'sending' AND lease_until < now()))
			  AND (requeued_at IS NULL OR requeued_at < now() - $1::interval)
			ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING id, channel, requeues`, age, limit)
	if err != nil {
		return nil, fmt.Errorf("requeue stale attempts: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (QueuedAttempt, error) {
		var a QueuedAttempt
		err := r.Scan(&a.ID, &a.Channel, &a.Generation)
		return a, err
	})
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
	// Prepared is true when an earlier try stored the attempt's message
	// (Body, StartsConversation, SentFrom) before calling Twilio: that try
	// may have reached Twilio, so this one looks for its message or call
	// first, and resends exactly the stored text.
	Prepared           bool
	Body               string
	StartsConversation json.RawMessage
	SentFrom           string
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
		  AND NOT EXISTS (SELECT 1 FROM sender_holds h WHERE h.sender = c.sender)
		  AND (a.state IN ('queued', 'planned', 'retry') OR (a.state = 'sending' AND a.lease_until < now()))
		RETURNING a.id, a.campaign_id, a.patient_id, a.step, a.channel, a.to_number, a.tries, a.claimed_at, a.first_claimed_at,
			a.prepared_at IS NOT NULL, coalesce(a.body, ''), a.conversation, coalesce(a.sent_from, '')`,
		id, lease).Scan(&w.AttemptID, &w.CampaignID, &w.PatientID, &w.Step, &w.Channel, &w.To, &w.Tries, &w.ClaimedAt, &w.FirstClaimedAt,
		&w.Prepared, &w.Body, (*[]byte)(&w.StartsConversation), &w.SentFrom)
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
	var held bool
	err := s.pool.QueryRow(ctx, `SELECT a.state, c.state, EXISTS (SELECT 1 FROM sender_holds h WHERE h.sender = c.sender)
		FROM attempts a JOIN campaigns c ON c.id = a.campaign_id WHERE a.id = $1`, id).Scan(&state, &cstate, &held)
	if errors.Is(err, pgx.ErrNoRows) {
		return ClaimNotFound, nil
	}
	if err != nil {
		return ClaimDone, fmt.Errorf("attempt %d: %w", id, err)
	}
	if (cstate != CampaignRunning || held) && (state == "queued" || state == "retry") {
		// Paused, or its sender held: the dispatcher queues it again on
		// resume. Tries spent on a fault of the gateway that held the
		// sender are not the patient's: a held sender's attempt starts
		// again with all its tries.
		_, err := s.pool.Exec(ctx, `UPDATE attempts SET state = 'planned', queued_at = NULL,
				tries = CASE WHEN $2 THEN 0 ELSE tries END
			WHERE id = $1 AND state IN ('queued', 'retry')`, id, held)
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

// ExtendLease renews the lease of the claim made at claimedAt while its
// worker is still working on it (waiting for Twilio). It reports false
// when the claim is no longer this worker's.
func (s *Store) ExtendLease(ctx context.Context, id int64, claimedAt time.Time, lease time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE attempts SET lease_until = now() + $3::interval
		WHERE id = $1 AND state = 'sending' AND claimed_at = $2`, id, claimedAt, lease)
	if err != nil {
		return false, fmt.Errorf("extend lease of attempt %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Prepared is what an attempt will send, stored before the first call to
// Twilio so every retry sends exactly the same.
type Prepared struct {
	AttemptID int64
	ClaimedAt time.Time // the claim preparing it
	// Body is the SMS text ("" for a call).
	Body string
	// Conversation is the conversation state the message starts (the
	// first contact's), or nil.
	Conversation json.RawMessage
	// From is the sender: a number or a messaging service SID.
	From string
	// Wait is how long the journey waits for an answer once Twilio has
	// accepted the message or call.
	Wait time.Duration
}

// PrepareAttempt stores an attempt's message for the claim that holds it
// and makes the patient's journey findable by a reply (a reply can come
// back faster than the send is recorded), without starting the step's
// wait: that starts when Twilio accepts. It reports false when the claim
// is no longer this worker's.
func (s *Store) PrepareAttempt(ctx context.Context, p Prepared) (bool, error) {
	ok := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE attempts SET prepared_at = coalesce(prepared_at, now()),
				body = coalesce(body, nullif($3, '')), conversation = coalesce(conversation, $4),
				sent_from = coalesce(sent_from, $5), wait = coalesce(wait, $6::interval)
			WHERE id = $1 AND state = 'sending' AND claimed_at = $2`,
			p.AttemptID, p.ClaimedAt, p.Body, nullJSON(p.Conversation), p.From, p.Wait)
		if err != nil {
			return err
		}
		if ok = tag.RowsAffected() == 1; !ok {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE campaign_patients cp SET
				state = CASE WHEN cp.state = 'pending' THEN 'contacting' ELSE cp.state END,
				step = a.step, channel = a.channel, contact_number = a.to_number, last_activity = now(),
				conversation = coalesce(cp.conversation, a.conversation)
			FROM attempts a
			WHERE a.id = $1 AND cp.campaign_id = a.campaign_id AND cp.patient_id = a.patient_id
			  AND cp.state <> 'done' AND cp.step <= a.step`, p.AttemptID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("prepare attempt %d: %w", p.AttemptID, err)
	}
	return ok, nil
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return []byte(b)
}

// Sent records that Twilio accepted an attempt: its SID, and the state
// Twilio's answer gave.
type Sent struct {
	AttemptID int64
	SID       string
	Status    string
	// From is the number a call came from (an SMS's sender was prepared).
	From string
	// Wait is the step's wait, for an attempt prepared without one.
	Wait time.Duration
}

// MarkSent records a sent attempt and starts the step's wait. A status
// callback may have arrived first (Twilio is fast); the attempt state
// never goes backwards, and a journey that already moved on to a later
// step stays there.
func (s *Store) MarkSent(ctx context.Context, m Sent) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE attempts SET provider_sid = $2, sent_at = coalesce(sent_at, now()),
				lease_until = NULL, error_code = NULL, error_message = '',
				sent_from = coalesce(sent_from, nullif($4, '')), wait = coalesce(wait, $5::interval),
				state = CASE WHEN state IN ('planned', 'queued', 'sending', 'retry') THEN $3 ELSE state END
			WHERE id = $1`,
			m.AttemptID, m.SID, m.Status, m.From, m.Wait)
		if err != nil {
			return fmt.Errorf("mark sent %d: %w", m.AttemptID, err)
		}
		if err := accepted(ctx, tx, m.AttemptID); err != nil {
			return fmt.Errorf("mark sent %d: %w", m.AttemptID, err)
		}
		return nil
	})
}

// accepted records what follows from Twilio accepting an attempt: the
// outbound message on the patient's timeline, and the step's wait,
// counted from when it was sent. Twilio's answer and each status callback
// report the acceptance again; the first one starts the wait and the
// others leave it as it is.
func accepted(ctx context.Context, tx pgx.Tx, attemptID int64) error {
	_, err := tx.Exec(ctx, `INSERT INTO messages (direction, provider_sid, patient_id, campaign_id, attempt_id,
			from_number, to_number, body, kind)
		SELECT 'out', a.provider_sid, a.patient_id, a.campaign_id, a.id, coalesce(a.sent_from, ''), a.to_number, a.body, 'attempt'
		FROM attempts a WHERE a.id = $1 AND a.channel = 'sms' AND a.provider_sid IS NOT NULL AND a.body IS NOT NULL
		ON CONFLICT (provider_sid) DO NOTHING`, attemptID)
	if err != nil {
		return fmt.Errorf("message: %w", err)
	}
	_, err = tx.Exec(ctx, `UPDATE campaign_patients cp SET
			state = CASE WHEN cp.state = 'pending' THEN 'contacting' ELSE cp.state END,
			step = a.step, channel = a.channel, contact_number = a.to_number, last_activity = now(),
			wait_until = CASE WHEN cp.state = 'conversing' THEN cp.wait_until
				WHEN cp.step = a.step AND cp.wait_until IS NOT NULL THEN cp.wait_until
				ELSE a.sent_at + a.wait END,
			conversation = coalesce(cp.conversation, a.conversation)
		FROM attempts a
		WHERE a.id = $1 AND cp.campaign_id = a.campaign_id AND cp.patient_id = a.patient_id
		  AND a.wait IS NOT NULL AND a.sent_at IS NOT NULL
		  AND cp.state <> 'done' AND cp.step <= a.step`, attemptID)
	if err != nil {
		return fmt.Errorf("start wait: %w", err)
	}
	return nil
}

// HoldAttempt puts a claimed attempt back in the plan because its sender
// is held (an account or gateway fault, not the patient's): the try does
// not count, and the journey does not move on.
func (s *Store) HoldAttempt(ctx context.Context, id int64, claimedAt time.Time, code int, msg string) error {
	_, err := s.pool.Exec(ctx, `UPDATE attempts SET state = 'planned', due_at = now(), queued_at = NULL, lease_until = NULL,
			tries = 0, error_code = $3, error_message = $4
		WHERE id = $1 AND state = 'sending' AND claimed_at = $2`, id, claimedAt, nullCode(code), msg)
	if err != nil {
		return fmt.Errorf("hold attempt %d: %w", id, err)
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

// StatusEvent is a status callback from Twilio for an attempt: the
// message or call it names and the route it took.
type StatusEvent struct {
	AttemptID int64
	SID       string
	Status    string // Twilio's status
	ErrorCode int
	ErrorMsg  string
	To        string
	From      string
	Service   string // messaging service SID, if any
}

// AttemptRow is an attempt as a status callback finds it, locked until
// the callback's decision is recorded.
type AttemptRow struct {
	State       string
	SID         string // "" until known
	To          string
	SentFrom    string // "" when not prepared
	CampaignID  int64
	PatientID   int64
	Step        int
	Channel     string
	PatientDone bool
}

// StatusDecision is what a status callback does to its attempt: move it
// to State, or leave it as it is ("").
type StatusDecision struct {
	State string
	// Adopt records the callback's SID on an attempt that had none (the
	// worker died or lost Twilio's answer before recording it).
	Adopt bool
}

// StatusResult is what applying a status callback did.
type StatusResult struct {
	AttemptRow
	// First is false when this (SID, status) was seen before: nothing was
	// decided again.
	First bool
	// Moved is true when the attempt moved to Decision.State.
	Moved    bool
	Decision StatusDecision
}

// ApplyStatus records a status callback once per (SID, status) and
// applies what decide makes of it, under a lock on the attempt. An
// error from decide refuses the callback and records nothing.
func (s *Store) ApplyStatus(ctx context.Context, ev StatusEvent, decide func(AttemptRow) (StatusDecision, error)) (StatusResult, error) {
	var res StatusResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO status_events (provider_sid, status, attempt_id, error_code)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, ev.SID, ev.Status, ev.AttemptID, nullCode(ev.ErrorCode))
		if err != nil {
			return err
		}
		res.First = tag.RowsAffected() == 1
		if !res.First {
			return nil
		}
		r := &res.AttemptRow
		err = tx.QueryRow(ctx, `SELECT a.state, coalesce(a.provider_sid, ''), a.to_number, coalesce(a.sent_from, ''),
				a.campaign_id, a.patient_id, a.step, a.channel, cp.state = 'done'
			FROM attempts a JOIN campaign_patients cp ON cp.campaign_id = a.campaign_id AND cp.patient_id = a.patient_id
			WHERE a.id = $1 FOR UPDATE OF a`, ev.AttemptID).
			Scan(&r.State, &r.SID, &r.To, &r.SentFrom, &r.CampaignID, &r.PatientID, &r.Step, &r.Channel, &r.PatientDone)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("attempt %d: %w", ev.AttemptID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if res.Decision, err = decide(*r); err != nil {
			return err
		}
		if res.Decision.Adopt {
			if _, err := tx.Exec(ctx, `UPDATE attempts SET provider_sid = $2 WHERE id = $1 AND provider_sid IS NULL`, ev.AttemptID, ev.SID); err != nil {
				return err
			}
		}
		if res.Decision.State == "" {
			return nil
		}
		res.Moved = true
		_, err = tx.Exec(ctx, `UPDATE attempts SET state = $2, status_at = now(),
				sent_at = coalesce(sent_at, now()), lease_until = NULL,
				error_code = coalesce($3, error_code), error_message = CASE WHEN $4 = '' THEN error_message ELSE $4 END
			WHERE id = $1`, ev.AttemptID, res.Decision.State, nullCode(ev.ErrorCode), ev.ErrorMsg)
		if err != nil {
			return err
		}
		// A callback is Twilio saying it accepted the attempt: if the
		// worker never recorded that, the wait starts now.
		return accepted(ctx, tx, ev.AttemptID)
	})
	if err != nil {
		return res, fmt.Errorf("apply status %s to attempt %d: %w", ev.Status, ev.AttemptID, err)
	}
	return res, nil
}

// AttemptInFlight reports whether a patient has an attempt in a campaign
// that is not settled yet (planned, queued, being sent or waiting for a
// retry): the journey must not move on past it.
func (s *Store) AttemptInFlight(ctx context.Context, campaignID, patientID int64) (bool, error) {
	var busy bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM attempts WHERE campaign_id = $1 AND patient_id = $2
		AND state IN ('planned', 'queued', 'sending', 'retry'))`, campaignID, patientID).Scan(&busy)
	if err != nil {
		return false, fmt.Errorf("attempt in flight %d/%d: %w", campaignID, patientID, err)
	}
	return busy, nil
}

// AttemptCampaign returns the campaign of an attempt.
func (s *Store) AttemptCampaign(ctx context.Context, id int64) (int64, error) {
	var c int64
	if err := s.pool.QueryRow(ctx, `SELECT campaign_id FROM attempts WHERE id = $1`, id).Scan(&c); err != nil {
		return 0, fmt.Errorf("attempt %d campaign: %w", id, err)
	}
	return c, nil
}
