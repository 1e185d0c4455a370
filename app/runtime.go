// Package app holds the runtime shared by every part of a Protect process:
// configuration, the store, Redis and the logger, opened once and passed
// down explicitly.
package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/redact"
	"github.com/protectnow/protect/store"
)

// Runtime is what handlers and workers need from the process.
type Runtime struct {
	Config *config.Config
	Store  *store.Store
	Redis  *redis.Client
	Logger *slog.Logger
}

// NewLogger builds the process logger. Every record goes through the
// redaction safety net.
func NewLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redact.ReplaceAttr}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// MigrateMode is what a process does about pending migrations at start.
type MigrateMode string

// Migrate modes: apply them (one machine, the CLI, `protect migrate`), or
// wait for `protect migrate` to (many processes, a Kubernetes Job).
const (
	MigrateApply MigrateMode = "apply"
	MigrateWait  MigrateMode = "wait"
)

// schemaLogEvery is how often a waiting process says what it waits for.
const schemaLogEvery = 10 * time.Second

// Open connects to PostgreSQL and Redis and makes sure the schema is this
// binary's: it applies pending migrations or waits for them, by mode
// unless PROTECT_MIGRATE overrides it.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger, mode MigrateMode) (*Runtime, error) {
	st, err := store.OpenWith(ctx, cfg.DatabaseURL, store.PoolOptions{MaxConns: cfg.DBPool, PgBouncer: cfg.DBPgBouncer})
	if err != nil {
		return nil, err
	}
	if err := EnsureSchema(ctx, cfg, st, logger, mode); err != nil {
		st.Close()
		return nil, err
	}
	rdb, err := OpenRedis(ctx, cfg.RedisURL)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Runtime{Config: cfg, Store: st, Redis: rdb, Logger: logger}, nil
}

// EnsureSchema makes sure st's schema is this binary's before a command
// uses it: it applies pending migrations, or waits for `protect migrate`
// to (logging every 10 s what it waits for, up to
// PROTECT_MIGRATE_TIMEOUT), as mode says unless PROTECT_MIGRATE overrides
// it. A database migrated by a newer release, or a migration changed after
// it was applied, stops it with the file named.
func EnsureSchema(ctx context.Context, cfg *config.Config, st *store.Store, logger *slog.Logger, mode MigrateMode) error {
	if cfg.Migrate != "" {
		mode = MigrateMode(cfg.Migrate)
	}
	if mode == MigrateWait {
		wctx, cancel := context.WithTimeout(ctx, cfg.MigrateTimeout)
		defer cancel()
		start, last := time.Now(), time.Time{}
		waited := false
		err := st.WaitForSchema(wctx, time.Second, func(s store.SchemaStatus) {
			waited = true
			if time.Since(last) >= schemaLogEvery {
				last = time.Now()
				logger.Warn("waiting for migrations: run `protect migrate` (the migration Job)",
					"database_version", s.Current, "binary_version", s.Latest, "pending", len(s.Pending))
			}
		})
		if err != nil {
			return err
		}
		if waited {
			logger.Info("schema ready: migrations applied by `protect migrate`", "waited", time.Since(start).Round(time.Second).String())
		}
		return nil
	}
	applied, err := Migrate(ctx, cfg)
	for _, m := range applied {
		logger.Info("migration applied", "migration", m)
	}
	return err
}

// ErrMigrateThroughPgBouncer is returned when migrations would run through
// PgBouncer in transaction mode, where their session lock is not safe.
var ErrMigrateThroughPgBouncer = errors.New("migrations hold a session lock, which PgBouncer in transaction mode does not keep: " +
	"set PROTECT_MIGRATE_DATABASE_URL to PostgreSQL directly (PROTECT_DB_PGBOUNCER=true and no separate migration URL)")

// Migrate applies pending migrations over PROTECT_MIGRATE_DATABASE_URL (a
// direct connection: migrating holds a session advisory lock) and returns
// their names. It refuses to migrate through PgBouncer.
func Migrate(ctx context.Context, cfg *config.Config) ([]string, error) {
	if cfg.DBPgBouncer && cfg.MigrateDatabaseURL == cfg.DatabaseURL {
		return nil, ErrMigrateThroughPgBouncer
	}
	st, err := store.OpenWith(ctx, cfg.MigrateDatabaseURL, store.PoolOptions{MaxConns: 1})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Migrate(ctx)
}

// Close releases connections.
func (rt *Runtime) Close() {
	rt.Redis.Close()
	rt.Store.Close()
}
