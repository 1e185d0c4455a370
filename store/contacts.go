package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Contact is an entry of the contact ledger: a contact made by a team
// outside Protect.
type Contact struct {
	ID           int64  `json:"id"`
	PatientID    int64  `json:"patient_id"`
	Team         string `json:"team"`
	EscalationID *int64 `json:"escalation_id,omitempty"`
	Method       string `json:"method"`
	Outcome      string `json:"outcome"`
	Note         string `json:"note,omitempty"`
	// Shared shows the note to every team that sees the patient, not only
	// to the contact's team.
	Shared     bool      `json:"shared,omitempty"`
	Actor      string    `json:"actor"`
	OccurredAt time.Time `json:"occurred_at"`
}

// ContactMethods and ContactOutcomes are the values the ledger accepts.
var (
	ContactMethods  = []string{"phone", "sms", "visit", "letter", "email", "other"}
	ContactOutcomes = []string{"spoke", "no_answer", "left_message", "wrong_number", "declined", "other"}
)

// RecordContact adds a contact to the ledger.
func (s *Store) RecordContact(ctx context.Context, c Contact) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO contacts (patient_id, team, escalation_id, method, outcome, note, actor, occurred_at, shared)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		c.PatientID, c.Team, c.EscalationID, c.Method, c.Outcome, c.Note, c.Actor, c.OccurredAt, c.Shared).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record contact: %w", err)
	}
	return id, nil
}

// RecentTeamContacts returns, for the cohort's patients contacted by a team
// since the given time, the time of their latest such contact.
func (s *Store) RecentTeamContacts(ctx context.Context, cohortID int64, since time.Time) (map[int64]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.patient_id, max(c.occurred_at) FROM contacts c
		JOIN cohort_members m ON m.patient_id = c.patient_id AND m.cohort_id = $1
		WHERE c.occurred_at >= $2 GROUP BY c.patient_id`, cohortID, since)
	if err != nil {
		return nil, fmt.Errorf("recent team contacts: %w", err)
	}
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var id int64
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("recent team contacts: %w", err)
		}
		out[id] = at
	}
	return out, rows.Err()
}

// LatestTeamContact returns the time of the patient's latest contact by a
// team since the given time; ok is false when there is none. Sending checks
// it just before contacting a patient, so a contact recorded after planning
// still holds the patient off.
func (s *Store) LatestTeamContact(ctx context.Context, patientID int64, since time.Time) (at time.Time, ok bool, err error) {
	var latest *time.Time
	err = s.pool.QueryRow(ctx, `SELECT max(occurred_at) FROM contacts WHERE patient_id = $1 AND occurred_at >= $2`,
		patientID, since).Scan(&latest)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("latest team contact: %w", err)
	}
	if latest == nil {
		return time.Time{}, false, nil
	}
	return *latest, true, nil
}

// Patient is what the console shows about a patient.
type Patient struct {
	ID          int64     `json:"id"`
	NHSNumber   string    `json:"nhs_number"`
	GivenName   string    `json:"given_name"`
	FamilyName  string    `json:"family_name"`
	DateOfBirth time.Time `json:"date_of_birth"`
	Mobile      string    `json:"mobile,omitempty"`
	Landline    string    `json:"landline,omitempty"`
	Practice    string    `json:"gp_practice_code"`
	Locality    string    `json:"locality"`
	Language    string    `json:"language"`
	OptedOut    bool      `json:"opted_out"`
}

// PatientByID loads a patient.
func (s *Store) PatientByID(ctx context.Context, id int64) (Patient, error) {
	var p Patient
	err := s.pool.QueryRow(ctx, `SELECT id, nhs_number, given_name, family_name, date_of_birth, coalesce(mobile, ''),
			coalesce(landline, ''), gp_practice_code, locality, language, opted_out_at IS NOT NULL
		FROM patients WHERE id = $1`, id).Scan(&p.ID, &p.NHSNumber, &p.GivenName, &p.FamilyName, &p.DateOfBirth,
		&p.Mobile, &p.Landline, &p.Practice, &p.Locality, &p.Language, &p.OptedOut)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("patient %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("patient %d: %w", id, err)
	}
	return p, nil
}

// TimelineEntry is one thing that happened to or with a patient.
type TimelineEntry struct {
	At           time.Time `json:"at"`
	Kind         string    `json:"kind"`   // import, sms-out, sms-in, call, attempt, answer, escalation, contact
	Source       string    `json:"source"` // protect, or the team that made the contact or change
	Summary      string    `json:"summary"`
	Detail       string    `json:"detail,omitempty"`
	EscalationID *int64    `json:"escalation_id,omitempty"`
	// Team is whose work the entry is: the escalation's team (now) or the
	// contact's team; empty for Protect's own outreach.
	Team string `json:"team,omitempty"`
	// Note is the free text of a contact-ledger entry.
	Note string `json:"note,omitempty"`
	// Shared is set on a note its author shared with every team that sees
	// the patient.
	Shared bool `json:"shared,omitempty"`
}

// PatientTimeline lists everything recorded about a patient across
// organisations, newest first: cohort imports, messages, calls and failed
// attempts, answers, escalation history and the contact ledger.
func (s *Store) PatientTimeline(ctx context.Context, patientID int64, limit int) ([]TimelineEntry, error) {
	if limit <= 0 || limit > 5000 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT at, kind, source, summary, detail, escalation_id, team, note, shared FROM (
			SELECT m.added_at AS at, 'import' AS kind, 'protect' AS source, 'added to cohort ' || c.name AS summary,
				'' AS detail, NULL::bigint AS escalation_id, '' AS team, '' AS note, false AS shared
			FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id WHERE m.patient_id = $1
		UNION ALL
			SELECT created_at, 'sms-' || direction, 'protect', CASE direction WHEN 'in' THEN 'SMS received' ELSE 'SMS sent' END
				|| CASE WHEN kind <> '' THEN ' (' || kind || ')' ELSE '' END, body, NULL, '', '', false
			FROM messages WHERE patient_id = $1
		UNION ALL
			SELECT coalesce(sent_at, status_at, created_at), CASE channel WHEN 'voice' THEN 'call' ELSE 'attempt' END, 'protect',
				CASE channel WHEN 'voice' THEN 'call ' ELSE 'SMS attempt ' END || state,
				CASE WHEN error_message <> '' THEN error_message ELSE '' END, NULL, '', '', false
			FROM attempts WHERE patient_id = $1 AND (channel = 'voice' OR state IN ('failed', 'undelivered'))
				AND state NOT IN ('planned', 'queued', 'cancelled')
		UNION ALL
			SELECT identity_at, 'call', 'protect', 'identity check on a call: ' || replace(identity_result, '-', ' '),
				identity_tries || CASE identity_tries WHEN 1 THEN ' try' ELSE ' tries' END, NULL, '', '', false
			FROM calls WHERE patient_id = $1 AND identity_at IS NOT NULL
		UNION ALL
			SELECT answered_at, 'answer', 'protect', 'answered ' || option_key || ' to ' || question || ' (' || channel || ')', raw, NULL,
				'', '', false
			FROM answers WHERE patient_id = $1
		UNION ALL
			SELECT ev.at, 'escalation', CASE WHEN ev.actor = 'system' THEN 'protect' ELSE ev.team END,
				e.category || ' escalation ' || ev.kind || CASE WHEN ev.team <> '' THEN ' (' || ev.team || ')' ELSE '' END,
				ev.detail || CASE WHEN ev.actor <> 'system' THEN ' by ' || ev.actor ELSE '' END, e.id, e.team, '', ev.shared
			FROM escalation_events ev JOIN escalations e ON e.id = ev.escalation_id WHERE e.patient_id = $1
		UNION ALL
			SELECT occurred_at, 'contact', team, method || ': ' || replace(outcome, '_', ' '),
				'recorded by ' || actor, escalation_id, team, note, shared
			FROM contacts WHERE patient_id = $1
		) t ORDER BY at DESC LIMIT $2`, patientID, limit)
	if err != nil {
		return nil, fmt.Errorf("patient %d timeline: %w", patientID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TimelineEntry, error) {
		var e TimelineEntry
		err := r.Scan(&e.At, &e.Kind, &e.Source, &e.Summary, &e.Detail, &e.EscalationID, &e.Team, &e.Note, &e.Shared)
		return e, err
	})
}
