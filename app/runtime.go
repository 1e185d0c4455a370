// Package app holds the runtime shared by every part of a Protect process:
// configuration, the store, Redis and the logger, opened once and passed
// down explicitly.
package app

import (
	"context"
	"fmt"
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

// Open connects to PostgreSQL and Redis and applies pending migrations.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Runtime, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	applied, err := st.Migrate(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	for _, m := range applied {
		logger.Info("migration applied", "migration", m)
	}
	rdb, err := OpenRedis(ctx, cfg.RedisURL)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Runtime{Config: cfg, Store: st, Redis: rdb, Logger: logger}, nil
}

// OpenRedis connects to Redis and checks it answers.
func OpenRedis(ctx context.Context, url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("connect to Redis at %s: %w", opt.Addr, err)
	}
	return rdb, nil
}

// Close releases connections.
func (rt *Runtime) Close() {
	rt.Redis.Close()
	rt.Store.Close()
}
