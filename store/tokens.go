package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Roles a user or token can have.
const (
	RoleAdmin         = "admin"
	RoleProgrammeLead = "programme_lead"
	RoleCommsLead     = "comms_lead"
	RoleHandler       = "handler"
)

// ValidRole reports whether role is known.
func ValidRole(role string) bool {
	switch role {
	case RoleAdmin, RoleProgrammeLead, RoleCommsLead, RoleHandler:
		return true
	}
	return false
}

// APIToken is a token's identity, never its secret.
type APIToken struct {
	ID   int64
	Name string
	Role string
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateAPIToken makes a token and returns its secret, which is not stored.
func (s *Store) CreateAPIToken(ctx context.Context, name, role, createdBy string) (string, error) {
	if !ValidRole(role) {
		return "", fmt.Errorf("create token: unknown role %q", role)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	token := "pt_" + base64.RawURLEncoding.EncodeToString(b)
	_, err := s.pool.Exec(ctx, `INSERT INTO api_tokens (name, token_hash, role, created_by) VALUES ($1, $2, $3, $4)`,
		name, hashToken(token), role, createdBy)
	if err != nil {
		return "", fmt.Errorf("create token %q: %w", name, err)
	}
	return token, nil
}

// APITokenBySecret finds a live token by its secret.
func (s *Store) APITokenBySecret(ctx context.Context, token string) (APIToken, error) {
	var t APIToken
	err := s.pool.QueryRow(ctx, `UPDATE api_tokens SET last_used = now()
		WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id, name, role`, hashToken(token)).Scan(&t.ID, &t.Name, &t.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("token: %w", err)
	}
	return t, nil
}

// RevokeAPIToken revokes a token by name.
func (s *Store) RevokeAPIToken(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL`, name)
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke token %q: %w", name, ErrNotFound)
	}
	return nil
}
