package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds the queries behind the handler's escalation page and
// inbox: the patient's numbers and their state, the conversation as one
// thread, messages a handler sends, and the filtered, searchable inbox.

// PatientPhone is one of a patient's numbers and what is known of it.
type PatientPhone struct {
	// E164 is the number; Kind is mobile or landline (what it really is,
	// whichever column it came in).
	E164 string `json:"e164"`
	Kind string `json:"kind"`
	// Failed is set when the latest text or call to it failed, with the
	// provider's reason.
	Failed     bool   `json:"failed"`
	FailReason string `json:"fail_reason,omitempty"`
}

// PatientPhones lists the patient's numbers, mobile column first, each
// with whether the latest attempt on it failed.
func (s *Store) PatientPhones(ctx context.Context, patientID int64) ([]PatientPhone, error) {
	rows, err := s.pool.Query(ctx, `SELECT n.number, n.kind, coalesce(a.state IN ('failed', 'undelivered'), false),
			coalesce(a.error_message, '')
		FROM patients p
		CROSS JOIN LATERAL (VALUES (1, p.mobile, p.mobile_kind), (2, p.landline, p.landline_kind)) AS n (ord, number, kind)
		LEFT JOIN LATERAL (SELECT state, error_message FROM attempts
			WHERE patient_id = p.id AND to_number = n.number
			  AND state NOT IN ('planned', 'queued', 'sending', 'retry', 'cancelled')
			ORDER BY id DESC LIMIT 1) a ON true
		WHERE p.id = $1 AND n.number IS NOT NULL ORDER BY n.ord`, patientID)
	if err != nil {
		return nil, fmt.Errorf("patient %d phones: %w", patientID, err)
	}
	phones, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PatientPhone, error) {
		var p PatientPhone
		err := r.Scan(&p.E164, &p.Kind, &p.Failed, &p.FailReason)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("patient %d phones: %w", patientID, err)
	}
	// The same number in both columns is one number.
	return slices.CompactFunc(phones, func(a, b PatientPhone) bool { return a.E164 == b.E164 }), nil
}

// PracticeName is the name of a GP practice, or "" when it is not known.
func (s *Store) PracticeName(ctx context.Context, code string) (string, error) {
	var name string
	err := s.pool.QueryRow(ctx, `SELECT name FROM practices WHERE code = $1`, code).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("practice %s: %w", code, err)
	}
	return name, nil
}

// CampaignQuestionnaire returns the definition (JSON) of the
// questionnaire a campaign asked.
func (s *Store) CampaignQuestionnaire(ctx context.Context, campaignID int64) ([]byte, error) {
	var def []byte
	err := s.pool.QueryRow(ctx, `SELECT q.definition FROM campaigns c JOIN questionnaires q ON q.id = c.questionnaire_id
		WHERE c.id = $1`, campaignID).Scan(&def)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("campaign %d questionnaire: %w", campaignID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign %d questionnaire: %w", campaignID, err)
	}
	return def, nil
}

// ThreadItem is one thing in a patient's conversation. Only the fields of
// its kind are set.
type ThreadItem struct {
	At time.Time `json:"at"`
	// Kind is sms-in, sms-out, call, attempt (a text that failed), answer,
	// identity (a call's identity check), event (an escalation's history,
	// notes included) or contact (the contact ledger).
	Kind string `json:"kind"`
	// Sub is the message kind (question, advice, reply, handler...), the
	// call or attempt state, the event kind or the contact method.
	Sub string `json:"sub,omitempty"`
	// Body is the message text, the answer's raw reply, the event's detail,
	// the contact's note or the attempt's error.
	Body string `json:"body,omitempty"`
	// Number is the patient's number a message or call used.
	Number string `json:"number,omitempty"`
	// Team is the contact's team, or the team an event's escalation is
	// with now (as on the patient timeline, for the sharing rule).
	Team  string `json:"team,omitempty"`
	Actor string `json:"actor,omitempty"`
	// Question, Option and Channel describe an answer.
	Question string `json:"question,omitempty"`
	Option   string `json:"option,omitempty"`
	Channel  string `json:"channel,omitempty"`
	// Outcome is a contact's outcome or a call's result.
	Outcome      string `json:"outcome,omitempty"`
	EscalationID *int64 `json:"escalation_id,omitempty"`
	CampaignID   *int64 `json:"campaign_id,omitempty"`
	// Category is the category of the escalation an event belongs to.
	Category string `json:"category,omitempty"`
	// Shared is set on a note (escalation or contact) its author shared
	// with every team that sees the patient.
	Shared bool `json:"shared,omitempty"`
	// Tries is how many answers an identity check (kind identity, Sub its
	// result: passed, failed, not-patient) took. What was typed is never
	// stored.
	Tries int `json:"tries,omitempty"`
}

// PatientThread lists the latest limit things of a patient's conversation,
// oldest first: texts both ways, calls with their result, failed texts,
// answers, every escalation's history and the contact ledger.
func (s *Store) PatientThread(ctx context.Context, patientID int64, limit int) ([]ThreadItem, error) {
	if limit <= 0 || limit > 2000 {
		limit = 500
	}
	rows, err := s.pool.Query(ctx, `SELECT at, kind, sub, body, number, team, actor, question, option, channel, outcome,
			escalation_id, campaign_id, category, shared, tries FROM (
			SELECT created_at AS at, 'sms-' || direction AS kind, kind AS sub, body,
				CASE direction WHEN 'in' THEN from_number ELSE to_number END AS number, '' AS team, coalesce(sent_by, '') AS actor,
				'' AS question, '' AS option, 'sms' AS channel, '' AS outcome, NULL::bigint AS escalation_id, campaign_id,
				'' AS category, false AS shared, 0 AS tries, id AS ord
			FROM messages WHERE patient_id = $1
		UNION ALL
			SELECT coalesce(a.sent_at, a.status_at, a.created_at), CASE a.channel WHEN 'voice' THEN 'call' ELSE 'attempt' END,
				a.state, a.error_message, a.to_number, '', '', '', '', a.channel,
				coalesce((SELECT c.result FROM calls c WHERE c.attempt_id = a.id ORDER BY c.created_at DESC LIMIT 1), ''),
				NULL, a.campaign_id, '', false, 0, a.id
			FROM attempts a WHERE a.patient_id = $1 AND (a.channel = 'voice' OR a.state IN ('failed', 'undelivered'))
				AND a.state NOT IN ('planned', 'queued', 'cancelled')
		UNION ALL
			SELECT answered_at, 'answer', '', raw, '', '', '', question, option_key, channel, '', NULL, campaign_id, '', false, 0, id
			FROM answers WHERE patient_id = $1
		UNION ALL
			SELECT ev.at, 'event', ev.kind, ev.detail, '', e.team, ev.actor, '', '', '', '', e.id, e.campaign_id, e.category,
				ev.shared, 0, ev.id
			FROM escalation_events ev JOIN escalations e ON e.id = ev.escalation_id WHERE e.patient_id = $1
		UNION ALL
			SELECT occurred_at, 'contact', method, note, '', team, actor, '', '', '', outcome, escalation_id, NULL, '', shared, 0, id
			FROM contacts WHERE patient_id = $1
		UNION ALL
			SELECT identity_at, 'identity', identity_result, '', '', '', '', '', '', 'voice', '', NULL, campaign_id, '', false,
				identity_tries, 0
			FROM calls WHERE patient_id = $1 AND identity_at IS NOT NULL
		) t ORDER BY at DESC, ord DESC LIMIT $2`, patientID, limit)
	if err != nil {
		return nil, fmt.Errorf("patient %d thread: %w", patientID, err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ThreadItem, error) {
		var i ThreadItem
		err := r.Scan(&i.At, &i.Kind, &i.Sub, &i.Body, &i.Number, &i.Team, &i.Actor, &i.Question, &i.Option, &i.Channel,
			&i.Outcome, &i.EscalationID, &i.CampaignID, &i.Category, &i.Shared, &i.Tries)
		return i, err
	})
	if err != nil {
		return nil, fmt.Errorf("patient %d thread: %w", patientID, err)
	}
	slices.Reverse(items)
	return items, nil
}

// HandlerMessage is a text a handler sent a patient from the console.
type HandlerMessage struct {
	PatientID  int64
	CampaignID *int64
	SID        string
	From, To   string
	Body       string
	// SentBy is the handler (an actor name, "user:cleo").
	SentBy string
	At     time.Time
}

// RecordHandlerMessage stores a text a handler sent, so it shows in the
// patient's conversation.
func (s *Store) RecordHandlerMessage(ctx context.Context, m HandlerMessage) error {
	var sid *string
	if m.SID != "" {
		sid = &m.SID
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO messages (direction, provider_sid, patient_id, campaign_id, from_number, to_number, body,
			kind, sent_by, created_at)
		VALUES ('out', $1, $2, $3, $4, $5, $6, 'handler', $7, $8) ON CONFLICT (provider_sid) DO NOTHING`,
		sid, m.PatientID, m.CampaignID, m.From, m.To, m.Body, m.SentBy, m.At)
	if err != nil {
		return fmt.Errorf("record handler message: %w", err)
	}
	return nil
}

// InboxFilter selects the rows of a handler's inbox. Zero fields do not
// filter.
type InboxFilter struct {
	// Teams are the teams whose escalations are listed, with the open ones
	// these teams had before they moved on (marked Moved); nil: every team.
	Teams []string
	// Closed lists resolved and duplicate escalations instead of open ones.
	Closed bool
	// ClaimedBy keeps the escalations claimed by this actor.
	ClaimedBy string
	Unclaimed bool
	Overdue   bool
	Urgent    bool
	Category  string
	// NHSNumber, Phone (E.164) and Name search; at most one is used, in
	// that order. Name matches a part of the full name, case-insensitively.
	NHSNumber string
	Phone     string
	Name      string
	Limit     int
	Offset    int
	Now       time.Time
}

// InboxRow is an inbox line: the escalation, how to reach the patient and
// what they last said.
type InboxRow struct {
	Escalation
	Mobile      string    `json:"mobile,omitempty"`
	Landline    string    `json:"landline,omitempty"`
	DateOfBirth time.Time `json:"date_of_birth"`
	// Snippet is the patient's latest text to Protect, if any.
	Snippet   string     `json:"snippet,omitempty"`
	SnippetAt *time.Time `json:"snippet_at,omitempty"`
	// Moved is set when the escalation is no longer with any of the
	// filter's teams: they had it, it moved on to another tier's team, and
	// they may only watch it until it is resolved.
	Moved bool `json:"moved"`
}

// InboxTotals counts the open escalations of the filter's teams (not
// those that moved on), whatever the other filters.
type InboxTotals struct {
	InboxCounts
	// UrgentUnclaimed is what the browser's title shows.
	UrgentUnclaimed int `json:"urgent_unclaimed"`
}

// escapeLike escapes LIKE's wildcards so a search string matches itself.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// HandlerInbox lists inbox rows, open ones by priority then age, closed
// ones newest first, and the totals of the teams' open escalations. Every
// value is a query parameter.
func (s *Store) HandlerInbox(ctx context.Context, f InboxFilter) ([]InboxRow, InboxTotals, error) {
	var totals InboxTotals
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	states, order := `('open', 'claimed')`, `e.priority_rank, e.opened_at, e.id`
	if f.Closed {
		states, order = `('resolved', 'duplicate')`, `e.closed_at DESC, e.id DESC`
	}
	// Only the filters in use go into the query, so that PostgreSQL plans
	// the common inbox (no search) without joining every open escalation
	// to its patient: the page is chosen from escalations alone.
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	conds := []string{"e.state IN " + states}
	moved, join := "false", ""
	if f.Teams != nil {
		teams := arg(f.Teams)
		moved = "NOT e.team = ANY(" + teams + ")"
		// An escalation that moved on stays in the inbox of a team that had
		// it while it is open; a closed one is listed only by the team it
		// ended with. Every move (hand-over, re-escalation) raises the
		// tier, so only escalations above tier 0 need their history read.
		had := ""
		if !f.Closed {
			had = " OR (e.tier > 0 AND EXISTS (SELECT 1 FROM escalation_events ev WHERE ev.escalation_id = e.id AND ev.team = ANY(" + teams + ")))"
		}
		conds = append(conds, "(e.team = ANY("+teams+")"+had+")")
	}
	if f.ClaimedBy != "" {
		conds = append(conds, "e.claimed_by = "+arg(f.ClaimedBy))
	}
	if f.Unclaimed {
		conds = append(conds, "e.state = 'open'")
	}
	if f.Overdue {
		conds = append(conds, fmt.Sprintf(overdueSQL, arg(f.Now)))
	}
	if f.Urgent {
		conds = append(conds, "e.priority = 'urgent'")
	}
	if f.Category != "" {
		conds = append(conds, "e.category = "+arg(f.Category))
	}
	switch {
	case f.NHSNumber != "":
		conds = append(conds, "p.nhs_number = "+arg(f.NHSNumber))
	case f.Phone != "":
		ph := arg(f.Phone)
		conds = append(conds, "(p.mobile = "+ph+" OR p.landline = "+ph+")")
	case f.Name != "":
		conds = append(conds, "(p.given_name || ' ' || p.family_name) ILIKE "+arg("%"+escapeLike(f.Name)+"%"))
	}
	if f.NHSNumber != "" || f.Phone != "" || f.Name != "" {
		join = " JOIN patients p ON p.id = e.patient_id"
	}
	limit, offset := arg(f.Limit), arg(f.Offset)
	// The page is chosen first, by id, and only its rows are joined to
	// their patient and latest reply: the inbox costs the same with 10,000
	// open.
	rows, err := s.pool.Query(ctx, `WITH page AS MATERIALIZED (
			SELECT e.id, `+moved+` AS moved FROM escalations e`+join+`
			WHERE `+strings.Join(conds, " AND ")+`
			ORDER BY `+order+` LIMIT `+limit+` OFFSET `+offset+`)
		SELECT `+escalationColumns+`, coalesce(p.mobile, ''), coalesce(p.landline, ''), p.date_of_birth,
			coalesce(m.body, ''), m.created_at, page.moved
		FROM page JOIN escalations e ON e.id = page.id JOIN patients p ON p.id = e.patient_id
		LEFT JOIN LATERAL (SELECT body, created_at FROM messages
			WHERE patient_id = e.patient_id AND direction = 'in' ORDER BY created_at DESC LIMIT 1) m ON true
		ORDER BY `+order+``, args...)
	if err != nil {
		return nil, totals, fmt.Errorf("inbox: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InboxRow, error) {
		var e InboxRow
		err := r.Scan(&e.ID, &e.PatientID, &e.CampaignID, &e.Category, &e.Priority, &e.Team, &e.RoutedTeam, &e.Tier, &e.State,
			&e.ClaimedBy, &e.ClaimedAt, &e.Outcome, &e.ClosedBy, &e.ClosedAt, &e.DuplicateOf,
			&e.NeedCount, &e.DueAt, &e.ResolveBy, &e.OpenedAt, &e.UpdatedAt,
			&e.PatientName, &e.NHSNumber, &e.Locality, &e.Practice,
			&e.Mobile, &e.Landline, &e.DateOfBirth, &e.Snippet, &e.SnippetAt, &e.Moved)
		return e, err
	})
	if err != nil {
		return nil, totals, fmt.Errorf("inbox: %w", err)
	}
	err = s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'open'), count(*) FILTER (WHERE state = 'claimed'),
			count(*) FILTER (WHERE `+fmt.Sprintf(overdueSQL, "$2")+`), count(*) FILTER (WHERE priority = 'urgent'),
			count(*) FILTER (WHERE priority = 'urgent' AND state = 'open')
		FROM escalations WHERE state IN ('open', 'claimed') AND ($1::text[] IS NULL OR team = ANY($1))`, f.Teams, f.Now).
		Scan(&totals.Open, &totals.Claimed, &totals.Overdue, &totals.Urgent, &totals.UrgentUnclaimed)
	if err != nil {
		return nil, totals, fmt.Errorf("inbox totals: %w", err)
	}
	return list, totals, nil
}

// EscalationHadTeam reports whether an escalation was ever with one of the
// teams (its history names each team it was with).
func (s *Store) EscalationHadTeam(ctx context.Context, id int64, teams []string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM escalation_events WHERE escalation_id = $1 AND team = ANY($2))`,
		id, teams).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("escalation %d teams: %w", id, err)
	}
	return ok, nil
}
