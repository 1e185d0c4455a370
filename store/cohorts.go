package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cohort is a named list of patients to contact.
type Cohort struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	Members   int
}

// EnsureCohort returns the cohort with that name, creating it if needed.
func (s *Store) EnsureCohort(ctx context.Context, name string) (Cohort, error) {
	var c Cohort
	err := s.pool.QueryRow(ctx, ensureCohortSQL, name).Scan(&c.ID, &c.Name, &c.CreatedAt)
	if err != nil {
		return c, fmt.Errorf("ensure cohort: %w", err)
	}
	return c, nil
}

const ensureCohortSQL = `INSERT INTO cohorts (name) VALUES ($1)
		ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
		RETURNING id, name, created_at`

// ensureCohort is EnsureCohort in a transaction: the cohort is created
// only if the transaction commits.
func ensureCohort(ctx context.Context, tx pgx.Tx, name string) (int64, error) {
	var c Cohort
	if err := tx.QueryRow(ctx, ensureCohortSQL, name).Scan(&c.ID, &c.Name, &c.CreatedAt); err != nil {
		return 0, fmt.Errorf("ensure cohort: %w", err)
	}
	return c.ID, nil
}

// CohortByName finds a cohort, with its members counted (kept by
// triggers on cohort_members).
func (s *Store) CohortByName(ctx context.Context, name string) (Cohort, error) {
	var c Cohort
	err := s.pool.QueryRow(ctx, `SELECT c.id, c.name, c.created_at, c.members
		FROM cohorts c WHERE c.name = $1`, name).Scan(&c.ID, &c.Name, &c.CreatedAt, &c.Members)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("cohort %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("cohort %q: %w", name, err)
	}
	return c, nil
}
