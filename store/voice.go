package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CallDialog is a call's place in its dialog and what the dialog needs to
// speak to the patient, loaded and locked for one voice webhook.
type CallDialog struct {
	CallSID         string
	AttemptID       int64
	CampaignID      int64
	PatientID       int64
	Phase           string
	Seq             int
	NoInput         int
	AnsweredBy      string
	JourneyState    string
	Conversation    json.RawMessage // the journey's questionnaire state (shared with SMS)
	QuestionnaireID int64
	Sender          string
	VoiceSender     string
	ProgrammeName   string
	TeamPhone       string
	GivenName       string
	PracticeName    string
	PracticePhone   string
	Language        string
	// Identity check of the call: the campaign's setting (dob, year, off),
	// the tries made so far and the result once done.
	IdentityCheck  string
	IdentityTries  int
	IdentityResult string
	DateOfBirth    time.Time
	// TransferAccepted is set when a team member pressed 1 at the whisper.
	TransferAccepted bool
}

// CallChange is what one voice webhook does, written in one transaction
// with the step it answers.
type CallChange struct {
	// TwiML is the answer, kept to replay if Twilio repeats the webhook.
	TwiML   string
	Phase   string
	NoInput int
	// Result, when set, records how the dialog ended.
	Result string
	// Conversation, when set, is the journey's new questionnaire state.
	Conversation json.RawMessage
	Answer       *AnswerRow
	Needs        []NeedRow
	// Outcome, when set, ends the journey with Reason.
	Outcome string
	Reason  string
	// Identity is the check's progress: tries made and, once done, the
	// result (passed, failed, not-patient). Only these are kept, never the
	// keys pressed.
	IdentityTries  int
	IdentityResult string
	// Private marks a step whose keys are a date of birth: its input is not
	// logged, and StoredTwiML (without the read-back of what was typed) is
	// kept to replay instead of TwiML.
	Private     bool
	StoredTwiML string
}

// CallStep is one voice webhook: the call, the attempt its URL names, the
// sequence number of the step (0 for the answer URL, then the number in
// each action URL) and the keys pressed.
type CallStep struct {
	SID        string
	AttemptID  int64
	Seq        int
	Input      string
	AnsweredBy string
}

// ApplyCallStep applies a voice webhook once. The first time a step is
// seen, decide works out the change from the locked dialog and it is
// stored with the TwiML; when Twilio repeats the webhook, the stored TwiML
// is returned and replayed is true. A step that is not the next one (a
// stale or out-of-order request) replays the latest answer.
func (s *Store) ApplyCallStep(ctx context.Context, st CallStep, decide func(CallDialog) (CallChange, error)) (twiml string, replayed bool, err error) {
	// The caller is waiting on the line: two round trips, one to open the
	// transaction and load the locked dialog, one to write and commit.
	err = s.pipelined(ctx, func(conn *pgxpool.Conn) (bool, error) {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		if st.Seq == 0 {
			b.Queue(`INSERT INTO calls (call_sid, attempt_id, campaign_id, patient_id, answered_by)
				SELECT $1, a.id, a.campaign_id, a.patient_id, $3 FROM attempts a WHERE a.id = $2 AND a.channel = 'voice'
				ON CONFLICT (call_sid) DO NOTHING`, st.SID, st.AttemptID, st.AnsweredBy)
		}
		b.Queue(`SELECT k.call_sid, k.attempt_id, k.campaign_id, k.patient_id, k.phase, k.seq, k.no_input,
				k.answered_by, cp.state, cp.conversation, c.questionnaire_id, c.sender, c.voice_sender, c.programme_name,
				c.team_phone, p.given_name, coalesce(pr.name, ''), coalesce(pr.phone, ''), p.language, cs.twiml,
				c.identity_check, k.identity_tries, k.identity_result, p.date_of_birth, k.transfer_accepted
			FROM calls k
			JOIN campaign_patients cp ON cp.campaign_id = k.campaign_id AND cp.patient_id = k.patient_id
			JOIN campaigns c ON c.id = k.campaign_id
			JOIN patients p ON p.id = k.patient_id
			LEFT JOIN practices pr ON pr.code = p.gp_practice_code
			LEFT JOIN call_steps cs ON cs.call_sid = k.call_sid AND cs.seq = $3
			WHERE k.call_sid = $1 AND k.attempt_id = $2
			FOR UPDATE OF k`, st.SID, st.AttemptID, st.Seq)
		var d CallDialog
		var prev *string
		br := conn.SendBatch(ctx, b)
		err := func() error {
			if _, err := br.Exec(); err != nil {
				return err
			}
			if st.Seq == 0 {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("create call: %w", err)
				}
			}
			return br.QueryRow().Scan(&d.CallSID, &d.AttemptID, &d.CampaignID, &d.PatientID,
				&d.Phase, &d.Seq, &d.NoInput, &d.AnsweredBy, &d.JourneyState, &d.Conversation, &d.QuestionnaireID, &d.Sender,
				&d.VoiceSender, &d.ProgrammeName, &d.TeamPhone, &d.GivenName, &d.PracticeName, &d.PracticePhone, &d.Language, &prev,
				&d.IdentityCheck, &d.IdentityTries, &d.IdentityResult, &d.DateOfBirth, &d.TransferAccepted)
		}()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return false, fmt.Errorf("call %s of attempt %d: %w", st.SID, st.AttemptID, ErrNotFound)
		}
		if err != nil {
			return false, fmt.Errorf("load call %s: %w", st.SID, err)
		}
		if prev != nil || st.Seq != d.Seq+1 {
			// A repeat, or a stale or out-of-order request: answer as last
			// time and change nothing.
			replayed = true
			if prev != nil {
				twiml = *prev
			} else if err := conn.QueryRow(ctx, `SELECT twiml FROM call_steps WHERE call_sid = $1 ORDER BY seq DESC LIMIT 1`,
				st.SID).Scan(&twiml); err != nil {
				return false, fmt.Errorf("call %s step %d after %d: %w", st.SID, st.Seq, d.Seq, ErrStateConflict)
			}
			if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
				return false, err
			}
			return true, nil
		}
		ch, err := decide(d)
		if err != nil {
			return false, err
		}
		twiml = ch.TwiML
		err = applyCallChange(ctx, conn, d, st, ch)
		return err == nil, err
	})
	if err != nil {
		return "", false, fmt.Errorf("voice webhook: %w", err)
	}
	return twiml, replayed, nil
}

// applyCallChange writes a step and commits, in one round trip: the
// caller is waiting on the line.
func applyCallChange(ctx context.Context, conn *pgxpool.Conn, d CallDialog, st CallStep, ch CallChange) error {
	b := &pgx.Batch{}
	input, stored := st.Input, ch.TwiML
	if ch.Private {
		input, stored = "(date of birth, not kept)", ch.StoredTwiML
	}
	b.Queue(`INSERT INTO call_steps (call_sid, seq, input, twiml) VALUES ($1, $2, $3, $4)`, st.SID, st.Seq, input, stored)
	b.Queue(`UPDATE calls SET seq = $2, phase = $3, no_input = $4,
			result = CASE WHEN $5 = '' THEN result ELSE $5 END,
			identity_tries = $6, identity_result = $7,
			identity_at = CASE WHEN $7 <> '' AND identity_result = '' THEN now() ELSE identity_at END, updated_at = now()
		WHERE call_sid = $1`, st.SID, st.Seq, ch.Phase, ch.NoInput, ch.Result, ch.IdentityTries, ch.IdentityResult)
	if ch.IdentityResult != "" && d.IdentityResult == "" {
		// Who answered is part of the patient's record: pass or fail and
		// the tries, never the keys.
		b.Queue(`INSERT INTO audit_log (actor, action, subject_type, subject_id, patient_id, details)
			VALUES ('system', 'call.identity', 'call', $1, $2, $3)`, st.SID, d.PatientID,
			map[string]any{"result": ch.IdentityResult, "tries": ch.IdentityTries, "check": d.IdentityCheck,
				"campaign_id": d.CampaignID, "attempt_id": d.AttemptID})
	}
	if a := ch.Answer; a != nil {
		b.Queue(`INSERT INTO answers (campaign_id, patient_id, attempt_id, channel, question, option_key, raw)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, d.CampaignID, d.PatientID, d.AttemptID, a.Channel, a.Question, a.Option, a.Raw)
	}
	for _, n := range ch.Needs {
		// currval is the answer just inserted in this session.
		b.Queue(`INSERT INTO needs (campaign_id, patient_id, category, priority, answer_id, detail)
			VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN currval('answers_id_seq') END, $6)`,
			d.CampaignID, d.PatientID, n.Category, n.Priority, ch.Answer != nil, n.Detail)
	}
	if ch.Conversation != nil || ch.Outcome != "" {
		b.Queue(`UPDATE campaign_patients SET conversation = coalesce($3, conversation),
				state = CASE WHEN $4 = '' THEN state ELSE 'done' END,
				outcome = nullif($4, ''), outcome_reason = CASE WHEN $4 = '' THEN outcome_reason ELSE $5 END,
				outcome_at = CASE WHEN $4 = '' THEN outcome_at ELSE now() END,
				wait_until = CASE WHEN $4 = '' THEN wait_until ELSE NULL END,
				channel = 'voice', last_activity = now()
			WHERE campaign_id = $1 AND patient_id = $2 AND state <> 'done'`,
			d.CampaignID, d.PatientID, ch.Conversation, ch.Outcome, ch.Reason)
	}
	if ch.Outcome != "" {
		b.Queue(`UPDATE attempts SET state = 'cancelled', status_at = now()
			WHERE campaign_id = $1 AND patient_id = $2 AND state IN ('planned', 'queued', 'retry')`, d.CampaignID, d.PatientID)
	}
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("call %s step %d: %w", st.SID, st.Seq, err)
	}
	return nil
}

// CallSummary is how a call's dialog went, read when the call ends.
type CallSummary struct {
	Found        bool
	Phase        string
	Result       string
	Conversation json.RawMessage
}

// EndCall records a call's final status and returns how its dialog went
// (Found is false when Twilio never fetched the answer URL: the call was
// not answered, or went to a machine before the dialog began).
func (s *Store) EndCall(ctx context.Context, sid, status string) (CallSummary, error) {
	sum := CallSummary{Found: true}
	err := s.pool.QueryRow(ctx, `UPDATE calls k SET status = $2, updated_at = now()
		FROM campaign_patients cp
		WHERE k.call_sid = $1 AND cp.campaign_id = k.campaign_id AND cp.patient_id = k.patient_id
		RETURNING k.phase, k.result, cp.conversation`, sid, status).Scan(&sum.Phase, &sum.Result, &sum.Conversation)
	if errors.Is(err, pgx.ErrNoRows) {
		return CallSummary{}, nil
	}
	if err != nil {
		return sum, fmt.Errorf("end call %s: %w", sid, err)
	}
	return sum, nil
}

// AttemptCallSID returns the SID of a call already placed for an attempt,
// as known from its webhooks or status callbacks, so a retried task never
// rings the patient again.
func (s *Store) AttemptCallSID(ctx context.Context, attemptID int64) (string, bool, error) {
	var sid string
	err := s.pool.QueryRow(ctx, `SELECT call_sid FROM calls WHERE attempt_id = $1
		UNION ALL SELECT provider_sid FROM status_events WHERE attempt_id = $1 LIMIT 1`, attemptID).Scan(&sid)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("call of attempt %d: %w", attemptID, err)
	}
	return sid, true, nil
}

// CallWhisper returns the locality of the patient on a call being put
// through to the team, for the whisper the team member hears; ErrNotFound
// when the call is not one of attempt's or is no longer being transferred.
func (s *Store) CallWhisper(ctx context.Context, sid string, attemptID int64) (string, error) {
	var locality string
	err := s.pool.QueryRow(ctx, `SELECT p.locality FROM calls k JOIN patients p ON p.id = k.patient_id
		WHERE k.call_sid = $1 AND k.attempt_id = $2 AND k.phase = 'operator'`, sid, attemptID).Scan(&locality)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("call %s of attempt %d being transferred: %w", sid, attemptID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("whisper of call %s: %w", sid, err)
	}
	return locality, nil
}

// AcceptTransfer records that a team member pressed 1 at the whisper of a
// call being put through to them (repeating it changes nothing).
func (s *Store) AcceptTransfer(ctx context.Context, sid string, attemptID int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE calls SET transfer_accepted = true, updated_at = now()
		WHERE call_sid = $1 AND attempt_id = $2 AND phase = 'operator'`, sid, attemptID)
	if err != nil {
		return fmt.Errorf("accept transfer of call %s: %w", sid, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("call %s of attempt %d being transferred: %w", sid, attemptID, ErrNotFound)
	}
	return nil
}
