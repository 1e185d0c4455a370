package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
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
	MessageID int64
	// InboundSID is the MessageSid of the message replied to; each text
	// of Outbound is stored under it (see ClaimRESTReplies).
	InboundSID   string
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
	q         *pgxpool.Conn
	MessageID int64
	journey   Journey
	journeyOK bool
}

// openConversationsSQL finds the conversation each reply belongs to: for
// each number, the most recently active unfinished SMS journey on it,
// locked so two replies from one patient are taken in turn. Numbers come
// sorted, so concurrent batches take their locks in the same order.
const openConversationsSQL = `SELECT n.i, j.* FROM unnest($1::text[]) WITH ORDINALITY AS n(number, i)
	CROSS JOIN LATERAL (SELECT ` + journeyColumns + ` ` + journeyFrom + `
		WHERE cp.contact_number = n.number AND cp.state IN ('contacting', 'conversing') AND cp.channel = 'sms'
		ORDER BY cp.last_activity DESC LIMIT 1 FOR UPDATE OF cp) j
	ORDER BY n.i`

// ErrInvalidBatch is returned for a batch that holds two messages from one
// number or one message twice.
var ErrInvalidBatch = errors.New("inbound batch: messages must have different senders and MessageSids")

// InboundResult is what handling one inbound message gave.
type InboundResult struct {
	// TwiML answers the webhook.
	TwiML string
	// Duplicate is true when the message had been handled before (Twilio
	// repeated the webhook): decide did not run and TwiML is the answer
	// given the first time ("" if that delivery died before answering).
	Duplicate bool
	// Reply is what decide returned (zero for a duplicate).
	Reply Reply
}

// HandleInboundBatch stores inbound messages and runs decide for each new
// one, all in one transaction: the messages, what they mean and what they
// changed commit together, once. A message Twilio delivered before (same
// MessageSid) is not decided again: its result is a duplicate carrying the
// TwiML answered the first time.
//
// The caller waits on the line, so the transaction takes two round trips
// whatever the batch size (three when it holds a repeat): one opens it,
// stores the messages and loads and locks their conversations; one writes
// the outcomes (a statement per kind of row, over arrays) and commits. Under load, replies that arrive
// together share one transaction and one WAL flush.
//
// No two messages of a batch may share a sender or a MessageSid: a second
// reply from a patient must see the conversation as the first left it.
// Any error fails the whole batch and nothing of it is stored.
func (s *Store) HandleInboundBatch(ctx context.Context, ins []Inbound, decide func(i int, tx *InboundTx) (Reply, error)) ([]InboundResult, error) {
	if len(ins) == 0 {
		return nil, nil
	}
	b := newInboundBatch(ins)
	if b.err != nil {
		return nil, b.err
	}
	var res []InboundResult
	err := s.pipelined(ctx, func(conn *pgxpool.Conn) (bool, error) {
		var err error
		res, err = b.run(ctx, conn, decide)
		return err == nil, err
	})
	return res, err
}

// inboundBatch is a batch of inbound messages as columns.
type inboundBatch struct {
	ins                      []Inbound
	sids, froms, tos, bodies []string
	bySID                    map[string]int
	err                      error
}

func newInboundBatch(ins []Inbound) *inboundBatch {
	n := len(ins)
	b := &inboundBatch{ins: ins, sids: make([]string, n), froms: make([]string, n), tos: make([]string, n),
		bodies: make([]string, n), bySID: make(map[string]int, n)}
	byFrom := make(map[string]bool, n)
	for i, in := range ins {
		if _, dup := b.bySID[in.SID]; dup {
			b.err = fmt.Errorf("message %s twice: %w", in.SID, ErrInvalidBatch)
			return b
		}
		if byFrom[in.From] {
			b.err = fmt.Errorf("two messages from one number: %w", ErrInvalidBatch)
			return b
		}
		b.bySID[in.SID], byFrom[in.From] = i, true
		b.sids[i], b.froms[i], b.tos[i], b.bodies[i] = in.SID, in.From, in.To, in.Body
	}
	return b
}

// run handles the batch on conn, from BEGIN to COMMIT.
func (ib *inboundBatch) run(ctx context.Context, conn *pgxpool.Conn, decide func(i int, tx *InboundTx) (Reply, error)) ([]InboundResult, error) {
	ins, sids, froms, bySID := ib.ins, ib.sids, ib.froms, ib.bySID
	// Conversations are looked up (and locked) in number order.
	order := make([]int, len(ins))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(froms[a], froms[b]) })
	sorted := make([]string, len(ins))
	for k, i := range order {
		sorted[k] = froms[i]
	}

	b := &pgx.Batch{}
	b.Queue("BEGIN")
	// Keep one plan per statement rather than planning every batch: the
	// planner thinks a plan for the arrays in hand always beats a general
	// one, and planning these joins costs more than running them. The
	// general plans look rows up by key; autovacuum's statistics renew
	// them as the tables grow.
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`)
	b.Queue(`INSERT INTO messages (direction, provider_sid, from_number, to_number, body, kind)
		SELECT 'in', m.sid, m.f, m.t, m.b, 'received' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS m(sid, f, t, b)
		ORDER BY m.sid
		ON CONFLICT (provider_sid) DO NOTHING RETURNING id, provider_sid`, sids, froms, ib.tos, ib.bodies)
	b.Queue(openConversationsSQL, sorted)
	br := conn.SendBatch(ctx, b)
	txs := make([]*InboundTx, len(ins))
	for i := range txs {
		txs[i] = &InboundTx{q: conn}
	}
	prev := make([]*string, len(ins))
	err := func() error {
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		rows, _ := br.Query()
		for rows.Next() {
			var id int64
			var sid string
			if err := rows.Scan(&id, &sid); err != nil {
				return err
			}
			txs[bySID[sid]].MessageID = id
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows, _ = br.Query()
		for rows.Next() {
			var k int
			var j Journey
			if err := rows.Scan(append([]any{&k}, j.fields()...)...); err != nil {
				return err
			}
			t := txs[order[k-1]]
			t.journey, t.journeyOK = j, true
		}
		return rows.Err()
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("inbound: %w", err)
	}
	// Messages handled before (Twilio repeating a webhook) are answered
	// as they were the first time.
	var repeats []string
	for i, t := range txs {
		if t.MessageID == 0 {
			repeats = append(repeats, sids[i])
		}
	}
	if len(repeats) > 0 {
		rows, _ := conn.Query(ctx, `SELECT provider_sid, reply FROM messages WHERE provider_sid = ANY($1)`, repeats)
		for rows.Next() {
			var sid string
			var reply *string
			if err := rows.Scan(&sid, &reply); err != nil {
				rows.Close()
				return nil, fmt.Errorf("inbound: %w", err)
			}
			prev[bySID[sid]] = reply
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("inbound: %w", err)
		}
	}

	res := make([]InboundResult, len(ins))
	var w recordBatch
	for i, t := range txs {
		if t.MessageID == 0 {
			res[i].Duplicate = true
			if prev[i] != nil {
				res[i].TwiML = *prev[i]
			}
			continue
		}
		r, err := decide(i, t)
		if err != nil {
			return nil, fmt.Errorf("inbound %s: %w", ins[i].SID, err)
		}
		r.MessageID, r.InboundSID = t.MessageID, ins[i].SID
		res[i].TwiML, res[i].Reply = r.TwiML, r
		w.add(r)
	}
	if err := w.commit(ctx, conn); err != nil {
		return nil, fmt.Errorf("inbound: %w", err)
	}
	return res, nil
}

// OpenConversation returns the conversation the message belongs to (loaded
// and locked with the message), or ErrNotFound.
func (t *InboundTx) OpenConversation(_ context.Context) (Journey, error) {
	if !t.journeyOK {
		return Journey{}, ErrNotFound
	}
	return t.journey, nil
}

// PatientsByNumber lists the patients who have this number (a couple may
// share one).
func (t *InboundTx) PatientsByNumber(ctx context.Context, number string) ([]int64, error) {
	rows, err := t.q.Query(ctx, `SELECT id FROM patients WHERE mobile = $1 OR landline = $1 ORDER BY id`, number)
	if err != nil {
		return nil, fmt.Errorf("patients by number: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// OptOut opts out every patient on the number (see Store.OptOut).
func (t *InboundTx) OptOut(ctx context.Context, number, reason string) ([]int64, error) {
	return optOut(ctx, t.q, number, reason)
}

// OptIn reverses an opt-out for every patient on the number. Journeys that
// ended as opted out stay ended: a campaign does not restart by itself.
func (t *InboundTx) OptIn(ctx context.Context, number string) ([]int64, error) {
	rows, err := t.q.Query(ctx, `UPDATE patients SET opted_out_at = NULL, updated_at = now()
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

// recordBatch gathers what a batch of inbound messages did, as columns,
// to write with one statement per kind of row.
type recordBatch struct {
	msgID, msgPatient, msgCampaign []int64
	msgKind, msgReply              []string
	msgHuman                       []bool

	ansCampaign, ansPatient, ansMessage        []int64
	ansChannel, ansQuestion, ansOption, ansRaw []string

	needCampaign, needPatient, needMessage []int64
	needCategory, needPriority, needDetail []string

	outPatient, outCampaign   []int64
	outFrom, outTo, outBody   []string
	outInReplyTo              []string
	outPart                   []int32
	jCampaign, jPatient       []int64
	jConversation             []*string
	jState, jOutcome, jReason []string
	jWaitUntil                []*time.Time
	doneCampaign, donePatient []int64
}

func (w *recordBatch) add(r Reply) {
	w.msgID = append(w.msgID, r.MessageID)
	w.msgPatient = append(w.msgPatient, r.PatientID)
	w.msgCampaign = append(w.msgCampaign, r.CampaignID)
	w.msgKind = append(w.msgKind, r.Kind)
	w.msgReply = append(w.msgReply, r.TwiML)
	w.msgHuman = append(w.msgHuman, r.NeedsHuman)
	if r.Answer != nil {
		w.ansCampaign = append(w.ansCampaign, r.CampaignID)
		w.ansPatient = append(w.ansPatient, r.PatientID)
		w.ansMessage = append(w.ansMessage, r.MessageID)
		w.ansChannel = append(w.ansChannel, r.Answer.Channel)
		w.ansQuestion = append(w.ansQuestion, r.Answer.Question)
		w.ansOption = append(w.ansOption, r.Answer.Option)
		w.ansRaw = append(w.ansRaw, r.Answer.Raw)
	}
	for _, n := range r.Needs {
		w.needCampaign = append(w.needCampaign, r.CampaignID)
		w.needPatient = append(w.needPatient, r.PatientID)
		w.needMessage = append(w.needMessage, r.MessageID)
		w.needCategory = append(w.needCategory, n.Category)
		w.needPriority = append(w.needPriority, n.Priority)
		w.needDetail = append(w.needDetail, n.Detail)
	}
	for k, body := range r.Outbound {
		w.outInReplyTo = append(w.outInReplyTo, r.InboundSID)
		w.outPart = append(w.outPart, int32(k))
		w.outPatient = append(w.outPatient, r.PatientID)
		w.outCampaign = append(w.outCampaign, r.CampaignID)
		w.outFrom = append(w.outFrom, r.From)
		w.outTo = append(w.outTo, r.To)
		w.outBody = append(w.outBody, body)
	}
	if r.CampaignID != 0 && r.PatientID != 0 && (r.JourneyState != "" || r.Conversation != nil) {
		var conv *string
		if r.Conversation != nil {
			c := string(r.Conversation)
			conv = &c
		}
		w.jCampaign = append(w.jCampaign, r.CampaignID)
		w.jPatient = append(w.jPatient, r.PatientID)
		w.jConversation = append(w.jConversation, conv)
		w.jState = append(w.jState, r.JourneyState)
		w.jOutcome = append(w.jOutcome, r.Outcome)
		w.jReason = append(w.jReason, r.Reason)
		w.jWaitUntil = append(w.jWaitUntil, r.WaitUntil)
		if r.JourneyState == "done" {
			w.doneCampaign = append(w.doneCampaign, r.CampaignID)
			w.donePatient = append(w.donePatient, r.PatientID)
		}
	}
}

// commit writes the batch and commits, in one round trip. Zero IDs stand
// for "none" (NULL).
func (w *recordBatch) commit(ctx context.Context, conn *pgxpool.Conn) error {
	b := &pgx.Batch{}
	if len(w.msgID) > 0 {
		b.Queue(`UPDATE messages m SET patient_id = nullif(u.patient, 0), campaign_id = nullif(u.campaign, 0),
				kind = u.kind, needs_human = u.human, reply = u.reply
			FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bool[], $6::text[])
				AS u(id, patient, campaign, kind, human, reply)
			WHERE m.id = u.id`,
			w.msgID, w.msgPatient, w.msgCampaign, w.msgKind, w.msgHuman, w.msgReply)
	}
	if len(w.ansMessage) > 0 || len(w.needMessage) > 0 {
		// Each need points at the answer of its message, if it had one.
		b.Queue(`WITH a AS (
				INSERT INTO answers (campaign_id, patient_id, message_id, channel, question, option_key, raw)
				SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
				RETURNING id, message_id)
			INSERT INTO needs (campaign_id, patient_id, category, priority, answer_id, message_id, detail)
			SELECT nullif(n.campaign, 0), n.patient, n.category, n.priority, a.id, n.message, n.detail
			FROM unnest($8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[])
				WITH ORDINALITY AS n(campaign, patient, message, category, priority, detail, i)
			LEFT JOIN a ON a.message_id = n.message
			ORDER BY n.i`,
			w.ansCampaign, w.ansPatient, w.ansMessage, w.ansChannel, w.ansQuestion, w.ansOption, w.ansRaw,
			w.needCampaign, w.needPatient, w.needMessage, w.needCategory, w.needPriority, w.needDetail)
	}
	if len(w.outBody) > 0 {
		b.Queue(`INSERT INTO messages (direction, patient_id, campaign_id, from_number, to_number, body, kind, in_reply_to, reply_part)
			SELECT 'out', nullif(o.patient, 0), nullif(o.campaign, 0), o.f, o.t, o.body, 'reply', o.sid, o.part
			FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[])
				WITH ORDINALITY AS o(patient, campaign, f, t, body, sid, part, i)
			ORDER BY o.i`,
			w.outPatient, w.outCampaign, w.outFrom, w.outTo, w.outBody, w.outInReplyTo, w.outPart)
	}
	if len(w.jCampaign) > 0 {
		b.Queue(`UPDATE campaign_patients cp SET
				conversation = coalesce(u.conversation::jsonb, cp.conversation),
				state = CASE WHEN u.state = '' THEN cp.state ELSE u.state END,
				outcome = CASE WHEN u.outcome = '' THEN cp.outcome ELSE u.outcome END,
				outcome_reason = CASE WHEN u.outcome = '' THEN cp.outcome_reason ELSE u.reason END,
				outcome_at = CASE WHEN u.outcome = '' THEN cp.outcome_at ELSE now() END,
				wait_until = CASE WHEN u.state = 'done' THEN NULL ELSE coalesce(u.wait_until, cp.wait_until) END,
				last_activity = now()
			FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
				AS u(campaign, patient, conversation, state, outcome, reason, wait_until)
			WHERE cp.campaign_id = u.campaign AND cp.patient_id = u.patient AND cp.state <> 'done'`,
			w.jCampaign, w.jPatient, w.jConversation, w.jState, w.jOutcome, w.jReason, w.jWaitUntil)
	}
	if len(w.doneCampaign) > 0 {
		b.Queue(`UPDATE attempts a SET state = 'cancelled', status_at = now()
			FROM unnest($1::bigint[], $2::bigint[]) AS u(campaign, patient)
			WHERE a.campaign_id = u.campaign AND a.patient_id = u.patient AND a.state IN ('planned', 'queued', 'retry')`,
			w.doneCampaign, w.donePatient)
	}
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record replies: %w", err)
	}
	return nil
}
