package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SenderHold is a sender whose sending is held because of a fault of the
// account or the gateway, not of any patient.
type SenderHold struct {
	Sender    string
	Reason    string
	ErrorCode int
	HeldAt    time.Time
	Probes    int
}

// HoldSender holds a sender until probeAt at least. It reports whether
// this call held it (false when it was held already).
func (s *Store) HoldSender(ctx context.Context, sender, reason string, code int, probeAt time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO sender_holds (sender, reason, error_code, probe_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (sender) DO NOTHING`, sender, reason, nullCode(code), probeAt)
	if err != nil {
		return false, fmt.Errorf("hold sender: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// HeldSenders lists the senders on hold.
func (s *Store) HeldSenders(ctx context.Context) ([]SenderHold, error) {
	rows, err := s.pool.Query(ctx, `SELECT sender, reason, coalesce(error_code, 0), held_at, probes FROM sender_holds ORDER BY held_at`)
	if err != nil {
		return nil, fmt.Errorf("held senders: %w", err)
	}
	return pgx.CollectRows(rows, scanHold)
}

func scanHold(r pgx.CollectableRow) (SenderHold, error) {
	var h SenderHold
	err := r.Scan(&h.Sender, &h.Reason, &h.ErrorCode, &h.HeldAt, &h.Probes)
	return h, err
}

// DueProbes takes the holds whose probe is due, moving each one's next
// probe to every from now, so that of several workers only one probes a
// sender at a time.
func (s *Store) DueProbes(ctx context.Context, every time.Duration) ([]SenderHold, error) {
	rows, err := s.pool.Query(ctx, `UPDATE sender_holds SET probe_at = now() + $1::interval, probes = probes + 1
		WHERE probe_at <= now()
		RETURNING sender, reason, coalesce(error_code, 0), held_at, probes`, every)
	if err != nil {
		return nil, fmt.Errorf("due sender probes: %w", err)
	}
	return pgx.CollectRows(rows, scanHold)
}

// ReleaseSender ends a sender's hold. It reports whether this call ended
// it.
func (s *Store) ReleaseSender(ctx context.Context, sender string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sender_holds WHERE sender = $1`, sender)
	if err != nil {
		return false, fmt.Errorf("release sender: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// SenderHeld reports whether a sender is on hold.
func (s *Store) SenderHeld(ctx context.Context, sender string) (bool, error) {
	var held bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sender_holds WHERE sender = $1)`, sender).Scan(&held)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("sender held: %w", err)
	}
	return held, nil
}
