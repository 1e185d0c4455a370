package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is a console user. The password hash is only read to log in.
type User struct {
	ID           int64
	Name         string
	Role         string
	Teams        []string
	PasswordHash []byte
	Disabled     bool
}

// CreateUser stores a user with an already hashed password and its teams.
func (s *Store) CreateUser(ctx context.Context, name, role string, passwordHash []byte, teams []string, createdBy string) (int64, error) {
	if !ValidRole(role) {
		return 0, fmt.Errorf("create user: unknown role %q", role)
	}
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO users (name, password_hash, role, created_by) VALUES ($1, $2, $3, $4) RETURNING id`,
			name, passwordHash, role, createdBy).Scan(&id)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO user_teams (user_id, team) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, id, teams)
		return err
	})
	if isUniqueViolation(err) {
		return 0, fmt.Errorf("create user %q: %w", name, ErrDuplicate)
	}
	if err != nil {
		return 0, fmt.Errorf("create user %q: %w", name, err)
	}
	return id, nil
}

// CountUsers counts console users, so a fresh install can say how to make
// the first one.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

const userColumns = `u.id, u.name, u.role, u.password_hash, u.disabled_at IS NOT NULL,
	coalesce((SELECT array_agg(t.team ORDER BY t.team) FROM user_teams t WHERE t.user_id = u.id), '{}')`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Name, &u.Role, &u.PasswordHash, &u.Disabled, &u.Teams)
	return u, err
}

// UserByName loads a user to check their password.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	return s.userWhere(ctx, `u.name = $1`, name)
}

// UserByID loads a user.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	return s.userWhere(ctx, `u.id = $1`, id)
}

func (s *Store) userWhere(ctx context.Context, where string, arg any) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE `+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("user: %w", ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("user: %w", err)
	}
	return u, nil
}

func hashSession(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateSession stores a session for a user; only a hash of its secret is
// kept.
func (s *Store) CreateSession(ctx context.Context, secret string, userID int64, expires time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (id_hash, user_id, expires_at) VALUES ($1, $2, $3)`, hashSession(secret), userID, expires)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionUser finds the live session with this secret and its user, and
// notes that it was used. A session is live before its expiry and while
// it was last used less than idle ago. Disabled users have no live
// session.
func (s *Store) SessionUser(ctx context.Context, secret string, now time.Time, idle time.Duration) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `WITH sess AS (
			UPDATE sessions SET last_seen = $2 WHERE id_hash = $1 AND expires_at > $2 AND last_seen > $2 - $3 * interval '1 second' RETURNING user_id)
		SELECT `+userColumns+` FROM users u JOIN sess ON sess.user_id = u.id WHERE u.disabled_at IS NULL`, hashSession(secret), now, idle.Seconds()))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("session: %w", err)
	}
	return u, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, secret string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, hashSession(secret)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past their expiry.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now); err != nil {
		return fmt.Errorf("delete expired sessions: %w", err)
	}
	return nil
}

// SetTokenTeams makes a token act for these teams only.
func (s *Store) SetTokenTeams(ctx context.Context, tokenName string, teams []string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `SELECT id FROM api_tokens WHERE name = $1`, tokenName).Scan(&id); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM api_token_teams WHERE token_id = $1`, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_token_teams (token_id, team) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, id, teams)
		return err
	})
	if err != nil {
		return fmt.Errorf("token %q teams: %w", tokenName, err)
	}
	return nil
}

// TokenTeams lists the teams a token acts for.
func (s *Store) TokenTeams(ctx context.Context, tokenID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT team FROM api_token_teams WHERE token_id = $1 ORDER BY team`, tokenID)
	if err != nil {
		return nil, fmt.Errorf("token teams: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
