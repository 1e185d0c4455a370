package app

import (
	"context"
	"errors"
	"testing"

	"github.com/protectnow/protect/config"
)

// Migrations hold a session advisory lock, which PgBouncer in transaction
// mode would hand to another client: through PgBouncer they need a direct
// URL of their own.
func TestMigrateRefusesPgBouncer(t *testing.T) {
	const pooled = "postgres://protect@pgbouncer:6432/protect"
	cfg := &config.Config{DatabaseURL: pooled, MigrateDatabaseURL: pooled, DBPgBouncer: true}
	if _, err := Migrate(context.Background(), cfg); !errors.Is(err, ErrMigrateThroughPgBouncer) {
		t.Fatalf("Migrate through PgBouncer: %v", err)
	}
}
