package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrCodeExpired is returned when a verification code can no longer be
// tried: it has expired, was tried too many times, or none was sent.
var ErrCodeExpired = errors.New("the code has expired or has been tried too many times: ask for a new one")

// TestPhone is a phone number an actor added to receive template tests.
// It receives them only once Verified: the actor typed back the code sent
// to it.
type TestPhone struct {
	ID int64 `json:"id"`
	// E164 is the number; only its owner ever sees it.
	E164       string     `json:"number"`
	Verified   bool       `json:"verified"`
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
	// CodeExpiresAt is when the code waiting to be typed expires.
	CodeExpiresAt *time.Time `json:"code_expires_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
}

const testPhoneColumns = `id, e164, verified_at IS NOT NULL, verified_at, code_expires_at, created_at`

func scanTestPhone(row pgx.Row) (TestPhone, error) {
	var p TestPhone
	err := row.Scan(&p.ID, &p.E164, &p.Verified, &p.VerifiedAt, &p.CodeExpiresAt, &p.CreatedAt)
	return p, err
}

// TestPhones lists an actor's test phones, oldest first.
func (s *Store) TestPhones(ctx context.Context, actor string) ([]TestPhone, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+testPhoneColumns+` FROM test_phones WHERE actor = $1 ORDER BY id`, actor)
	if err != nil {
		return nil, fmt.Errorf("test phones: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TestPhone, error) { return scanTestPhone(r) })
	if err != nil {
		return nil, fmt.Errorf("test phones: %w", err)
	}
	return out, nil
}

// SetTestPhoneCode adds e164 to an actor's test phones, unverified, with a
// new code (its hash) valid for ttl; for a number already added and not
// verified it replaces the code and resets the tries. A verified number is
// returned unchanged (Verified set): no code is stored for it.
func (s *Store) SetTestPhoneCode(ctx context.Context, actor, e164 string, codeHash []byte, ttl time.Duration) (TestPhone, error) {
	p, err := scanTestPhone(s.pool.QueryRow(ctx, `INSERT INTO test_phones (actor, e164, code_hash, code_expires_at)
		VALUES ($1, $2, $3, now() + make_interval(secs => $4))
		ON CONFLICT (actor, e164) DO UPDATE SET code_hash = EXCLUDED.code_hash,
			code_expires_at = EXCLUDED.code_expires_at, attempts = 0
			WHERE test_phones.verified_at IS NULL
		RETURNING `+testPhoneColumns, actor, e164, codeHash, ttl.Seconds()))
	if errors.Is(err, pgx.ErrNoRows) {
		// The conflict's WHERE left a verified number as it was.
		p, err = scanTestPhone(s.pool.QueryRow(ctx, `SELECT `+testPhoneColumns+` FROM test_phones
			WHERE actor = $1 AND e164 = $2`, actor, e164))
	}
	if err != nil {
		return p, fmt.Errorf("add test phone: %w", err)
	}
	return p, nil
}

// TakeTestPhoneTry counts one try at the code of an actor's unverified
// test phone and returns the code's hash to compare with. The try is
// counted before the comparison, so parallel guesses share the limit of
// maxTries. It returns ErrNotFound for a phone that is not the actor's,
// the phone itself (Verified set, nil hash) when it is already verified,
// and ErrCodeExpired when the code may not be tried any more.
func (s *Store) TakeTestPhoneTry(ctx context.Context, actor string, id int64, maxTries int) (TestPhone, []byte, error) {
	var hash []byte
	err := s.pool.QueryRow(ctx, `UPDATE test_phones SET attempts = attempts + 1
		WHERE id = $1 AND actor = $2 AND verified_at IS NULL AND code_hash IS NOT NULL
			AND code_expires_at > now() AND attempts < $3
		RETURNING code_hash`, id, actor, maxTries).Scan(&hash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return TestPhone{}, nil, fmt.Errorf("test phone %d: %w", id, err)
	}
	p, perr := scanTestPhone(s.pool.QueryRow(ctx, `SELECT `+testPhoneColumns+` FROM test_phones WHERE id = $1 AND actor = $2`, id, actor))
	switch {
	case errors.Is(perr, pgx.ErrNoRows):
		return p, nil, fmt.Errorf("test phone %d: %w", id, ErrNotFound)
	case perr != nil:
		return p, nil, fmt.Errorf("test phone %d: %w", id, perr)
	case err == nil, p.Verified:
		return p, hash, nil
	}
	return p, nil, fmt.Errorf("test phone %d: %w", id, ErrCodeExpired)
}

// MarkTestPhoneVerified marks an actor's test phone verified and forgets
// its code.
func (s *Store) MarkTestPhoneVerified(ctx context.Context, actor string, id int64) (TestPhone, error) {
	p, err := scanTestPhone(s.pool.QueryRow(ctx, `UPDATE test_phones
		SET verified_at = coalesce(verified_at, now()), code_hash = NULL, code_expires_at = NULL
		WHERE id = $1 AND actor = $2 RETURNING `+testPhoneColumns, id, actor))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("test phone %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("verify test phone %d: %w", id, err)
	}
	return p, nil
}

// DeleteTestPhone removes one of an actor's test phones and returns it.
func (s *Store) DeleteTestPhone(ctx context.Context, actor string, id int64) (TestPhone, error) {
	p, err := scanTestPhone(s.pool.QueryRow(ctx, `DELETE FROM test_phones WHERE id = $1 AND actor = $2
		RETURNING `+testPhoneColumns, id, actor))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("test phone %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("remove test phone %d: %w", id, err)
	}
	return p, nil
}

// TestPhoneVerified reports whether actor has verified e164.
func (s *Store) TestPhoneVerified(ctx context.Context, actor, e164 string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM test_phones
		WHERE actor = $1 AND e164 = $2 AND verified_at IS NOT NULL)`, actor, e164).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("test phone verified: %w", err)
	}
	return ok, nil
}
