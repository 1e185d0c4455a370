// Package app holds the runtime shared by every part of a Protect process:
// configuration, the store, Redis and the logger, opened once and passed
// down explicitly.
package app

import (
	"context"
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
	if cfg.Migrate != "" {
		mode = MigrateMode(cfg.Migrate)
	}
	if err := ensureSchema(ctx, cfg, st, logger, mode); err != nil {
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

func ensureSchema(ctx context.Context, cfg *config.Config, st *store.Store, logger *slog.Logger, mode MigrateMode) error {
	if mode == MigrateWait {
		wctx, cancel := context.WithTimeout(ctx, cfg.MigrateTimeout)
		defer cancel()
		last := time.Time{}
		return st.WaitForSchema(wctx, time.Second, func(s store.SchemaStatus) {
			if time.Since(last) >= schemaLogEvery {
				last = time.Now()
				logger.Warn("waiting for migrations: run `protect migrate` (the migration Job)",
					"database_version", s.Current, "binary_version", s.Latest, "pending", len(s.Pending))
			}
		})
	}
	applied, err := Migrate(ctx, cfg)
	for _, m := range applied {
		logger.Info("migration applied", "migration", m)
	}
	return err
}

// Migrate applies pending migrations over PROTECT_MIGRATE_DATABASE_URL (a
// direct connection: migrating holds a session advisory lock) and returns
// their names.
func Migrate(ctx context.Context, cfg *config.Config) ([]string, error) {
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
