package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what a pool and a transaction share, so one SQL function
// serves both.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Inbound is a message received from a patient (or anyone).
type Inbound struct {
	SID  string
	From string
	To   string
	Body string
}

// Reply is the outcome of handling an inbound message.
type Reply struct {
	MessageID    int64
	PatientID    int64 // 0 when the sender is unknown
	CampaignID   int64
	Kind         string // answer, unmatched, opt_out, opt_in, help, unknown_sender, no_conversation
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
}

// NeedRow is a need to record.
type NeedRow struct {
	Category string
	Priority string
	Detail   string
}

// InboundTx is the transaction an inbound message is handled in: the
// message, what it means and what it changed commit together, once.
type InboundTx struct {
	tx        pgx.Tx
	MessageID int64
}

// HandleInbound stores an inbound message and runs decide in the same
// transaction to work out and record what it does. When Twilio repeats the
// webhook (same MessageSid) decide is not run: duplicate is true and the
// TwiML answered the first time is returned.
func (s *Store) HandleInbound(ctx context.Context, in Inbound, decide func(*InboundTx) (Reply, error)) (twiml string, duplicate bool, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO messages (direction, provider_sid, from_number, to_number, body, kind)
			VALUES ('in', $1, $2, $3, $4, 'received') ON CONFLICT (provider_sid) DO NOTHING RETURNING id`,
			in.SID, in.From, in.To, in.Body).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			duplicate = true
			var prev *string
			if err := tx.QueryRow(ctx, `SELECT reply FROM messages WHERE provider_sid = $1`, in.SID).Scan(&prev); err != nil {
				return err
			}
			if prev != nil {
				twiml = *prev
			}
			return nil
		}
		if err != nil {
			return err
		}
		itx := &InboundTx{tx: tx, MessageID: id}
		r, err := decide(itx)
		if err != nil {
			return err
		}
		r.MessageID = id
		twiml = r.TwiML
		return itx.record(ctx, r)
	})
	if err != nil {
		return "", false, fmt.Errorf("inbound %s: %w", in.SID, err)
	}
	return twiml, duplicate, nil
}

// OpenConversation finds the conversation a reply from number belongs to:
// the most recently active unfinished SMS journey on that number. It locks
// the journey so two replies from one patient are taken in turn.
func (t *InboundTx) OpenConversation(ctx context.Context, number string) (Journey, error) {
	j, err := scanJourney(t.tx.QueryRow(ctx, `SELECT `+journeyColumns+` `+journeyFrom+`
		WHERE cp.contact_number = $1 AND cp.state IN ('contacting', 'conversing') AND cp.channel = 'sms'
		ORDER BY cp.last_activity DESC LIMIT 1 FOR UPDATE OF cp`, number))
	if errors.Is(err, pgx.ErrNoRows) {
		return j, ErrNotFound
	}
	if err != nil {
		return j, fmt.Errorf("open conversation: %w", err)
	}
	return j, nil
}

// PatientsByNumber lists the patients who have this number (a couple may
// share one).
func (t *InboundTx) PatientsByNumber(ctx context.Context, number string) ([]int64, error) {
	rows, err := t.tx.Query(ctx, `SELECT id FROM patients WHERE mobile = $1 OR landline = $1 ORDER BY id`, number)
	if err != nil {
		return nil, fmt.Errorf("patients by number: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// OptOut opts out every patient on the number (see Store.OptOut).
func (t *InboundTx) OptOut(ctx context.Context, number, reason string) ([]int64, error) {
	return optOut(ctx, t.tx, number, reason)
}

// OptIn reverses an opt-out for every patient on the number. Journeys that
// ended as opted out stay ended: a campaign does not restart by itself.
func (t *InboundTx) OptIn(ctx context.Context, number string) ([]int64, error) {
	rows, err := t.tx.Query(ctx, `UPDATE patients SET opted_out_at = NULL, updated_at = now()
		WHERE (mobile = $1 OR landline = $1) AND opted_out_at IS NOT NULL RETURNING id`, number)
	if err != nil {
		return nil, fmt.Errorf("opt in: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// OptOut opts out every patient on the number: their pending attempts are
// cancelled and their open journeys end as opted out.
func (s *Store) OptOut(ctx context.Context, number, reason string) ([]int64, error) {
	var ids []int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		ids, err = optOut(ctx, tx, number, reason)
		return err
	})
	return ids, err
}

func optOut(ctx context.Context, q querier, number, reason string) ([]int64, error) {
	rows, err := q.Query(ctx, `UPDATE patients SET opted_out_at = coalesce(opted_out_at, now()), updated_at = now()
		WHERE mobile = $1 OR landline = $1 RETURNING id`, number)
	if err != nil {
		return nil, fmt.Errorf("opt out: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(ids) == 0 {
		return ids, err
	}
	if _, err := q.Exec(ctx, `UPDATE attempts SET state = 'cancelled', status_at = now(), error_message = 'opted out'
		WHERE patient_id = ANY($1) AND state IN ('planned', 'queued', 'retry')`, ids); err != nil {
		return nil, fmt.Errorf("opt out: %w", err)
	}
	if _, err := q.Exec(ctx, `UPDATE campaign_patients SET state = 'done', outcome = 'opted_out', outcome_reason = $2,
			outcome_at = now(), wait_until = NULL
		WHERE patient_id = ANY($1) AND state <> 'done'`, ids, reason); err != nil {
		return nil, fmt.Errorf("opt out: %w", err)
	}
	return ids, nil
}

// record writes what an inbound message did in one round trip: the
// message's classification and reply, the answer, needs, outbound texts
// and the journey's new state.
func (t *InboundTx) record(ctx context.Context, r Reply) error {
	var patient, campaign any
	if r.PatientID != 0 {
		patient = r.PatientID
	}
	if r.CampaignID != 0 {
		campaign = r.CampaignID
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE messages SET patient_id = $2, campaign_id = $3, kind = $4, needs_human = $5, reply = $6 WHERE id = $1`,
		r.MessageID, patient, campaign, r.Kind, r.NeedsHuman, r.TwiML)
	answer := "NULL"
	if r.Answer != nil {
		b.Queue(`INSERT INTO answers (campaign_id, patient_id, message_id, channel, question, option_key, raw)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			r.CampaignID, r.PatientID, r.MessageID, r.Answer.Channel, r.Answer.Question, r.Answer.Option, r.Answer.Raw)
		// The answer's ID, from the same session and transaction.
		answer = "currval(pg_get_serial_sequence('answers', 'id'))"
	}
	for _, n := range r.Needs {
		b.Queue(`INSERT INTO needs (campaign_id, patient_id, category, priority, answer_id, message_id, detail)
			VALUES ($1, $2, $3, $4, `+answer+`, $5, $6)`, campaign, r.PatientID, n.Category, n.Priority, r.MessageID, n.Detail)
	}
	for _, body := range r.Outbound {
		b.Queue(`INSERT INTO messages (direction, patient_id, campaign_id, from_number, to_number, body, kind)
			VALUES ('out', $1, $2, $3, $4, $5, 'reply')`, patient, campaign, r.From, r.To, body)
	}
	if r.CampaignID != 0 && r.PatientID != 0 && (r.JourneyState != "" || r.Conversation != nil) {
		b.Queue(`UPDATE campaign_patients SET
				conversation = coalesce($3, conversation),
				state = CASE WHEN $4 = '' THEN state ELSE $4 END,
				outcome = CASE WHEN $5 = '' THEN outcome ELSE $5 END,
				outcome_reason = CASE WHEN $5 = '' THEN outcome_reason ELSE $6 END,
				outcome_at = CASE WHEN $5 = '' THEN outcome_at ELSE now() END,
				wait_until = CASE WHEN $4 = 'done' THEN NULL ELSE coalesce($7, wait_until) END,
				last_activity = now()
			WHERE campaign_id = $1 AND patient_id = $2 AND state <> 'done'`,
			r.CampaignID, r.PatientID, r.Conversation, r.JourneyState, r.Outcome, r.Reason, r.WaitUntil)
		if r.JourneyState == "done" {
			b.Queue(`UPDATE attempts SET state = 'cancelled', status_at = now()
				WHERE campaign_id = $1 AND patient_id = $2 AND state IN ('planned', 'queued', 'retry')`, r.CampaignID, r.PatientID)
		}
	}
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record reply: %w", err)
	}
	return nil
}
