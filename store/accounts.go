package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// UserInfo is a console user as the admin page lists them: never the
// password hash.
type UserInfo struct {
	ID        int64
	Name      string
	Role      string
	Teams     []string
	Disabled  bool
	CreatedAt time.Time
	// Sessions counts live sessions; LastSeen is the latest use of any.
	Sessions int
	LastSeen *time.Time
}

// ListUsers lists console users by name.
func (s *Store) ListUsers(ctx context.Context, now time.Time) ([]UserInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT u.id, u.name, u.role,
			coalesce((SELECT array_agg(t.team ORDER BY t.team) FROM user_teams t WHERE t.user_id = u.id), '{}'),
			u.disabled_at IS NOT NULL, u.created_at,
			(SELECT count(*) FROM sessions x WHERE x.user_id = u.id AND x.expires_at > $1),
			(SELECT max(x.last_seen) FROM sessions x WHERE x.user_id = u.id)
		FROM users u ORDER BY u.name`, now)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserInfo, error) {
		var u UserInfo
		err := r.Scan(&u.ID, &u.Name, &u.Role, &u.Teams, &u.Disabled, &u.CreatedAt, &u.Sessions, &u.LastSeen)
		return u, err
	})
}

// SetPassword replaces a user's password hash and ends every session of
// theirs except keepSession (the secret of the session that asked; empty
// ends them all). It returns how many sessions it ended.
func (s *Store) SetPassword(ctx context.Context, userID int64, hash []byte, keepSession string) (int, error) {
	var ended int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, userID, hash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		keep := []byte{}
		if keepSession != "" {
			keep = hashSession(keepSession)
		}
		tag, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2`, userID, keep)
		ended = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("user %d password: %w", userID, err)
	}
	return ended, nil
}

// SetUserDisabled disables a user, ending all their sessions at once, or
// enables them again. It returns how many sessions it ended.
func (s *Store) SetUserDisabled(ctx context.Context, userID int64, disabled bool, at time.Time) (int, error) {
	var ended int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, $3) END WHERE id = $1`,
			userID, disabled, at)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		if !disabled {
			return nil
		}
		tag, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
		ended = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("user %d disable: %w", userID, err)
	}
	return ended, nil
}
