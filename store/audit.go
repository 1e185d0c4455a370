package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID          int64
	At          time.Time
	Actor       string
	Action      string
	SubjectType string
	SubjectID   string
	PatientID   *int64
	Details     map[string]any
	RemoteAddr  string
}

// Audit appends an entry to the audit log.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	details, err := json.Marshal(e.Details)
	if err != nil {
		return fmt.Errorf("audit: encode details: %w", err)
	}
	if e.Details == nil {
		details = []byte("{}")
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO audit_log (actor, action, subject_type, subject_id, patient_id, details, remote_addr)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.Actor, e.Action, e.SubjectType, e.SubjectID, e.PatientID, details, e.RemoteAddr)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// AuditQuery filters the audit log.
type AuditQuery struct {
	PatientID *int64
	Actor     string
	Action    string
	Before    int64 // entries with ID below this; 0 for the newest
	Limit     int
}

// AuditLog lists audit entries, newest first.
func (s *Store) AuditLog(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, action, subject_type, subject_id, patient_id, details, remote_addr
		FROM audit_log
		WHERE ($1::bigint IS NULL OR patient_id = $1)
		  AND ($2 = '' OR actor = $2)
		  AND ($3 = '' OR action = $3)
		  AND ($4 = 0 OR id < $4)
		ORDER BY id DESC LIMIT $5`, q.PatientID, q.Actor, q.Action, q.Before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var details []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.SubjectType, &e.SubjectID, &e.PatientID, &details, &e.RemoteAddr); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		if err := json.Unmarshal(details, &e.Details); err != nil {
			return nil, fmt.Errorf("audit log: details of %d: %w", e.ID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
