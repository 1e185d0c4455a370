package main

import (
	"context"
	"fmt"
	"io"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
)

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usageError{"migrate takes no arguments"}
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	// Migrations run over a direct connection (PROTECT_MIGRATE_DATABASE_URL);
	// the shipped templates go in through the usual one.
	applied, err := app.Migrate(ctx, cfg)
	if err != nil {
		return err
	}
	st, err := store.OpenWith(ctx, cfg.DatabaseURL, store.PoolOptions{MaxConns: 2, PgBouncer: cfg.DBPgBouncer})
	if err != nil {
		return err
	}
	defer st.Close()
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "applied", m)
	}
	n, err := templateadmin.Seed(ctx, st)
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(stdout, "imported %d shipped templates\n", n)
	}
	return nil
}

// openRuntime loads the configuration and opens the runtime, applying
// pending migrations or waiting for them as mode says (PROTECT_MIGRATE
// overrides it).
func openRuntime(ctx context.Context, stderr io.Writer, mode app.MigrateMode) (*app.Runtime, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	return openRuntimeWith(ctx, cfg, stderr, mode)
}

// openRuntimeWith opens the runtime for a configuration already loaded.
func openRuntimeWith(ctx context.Context, cfg *config.Config, stderr io.Writer, mode app.MigrateMode) (*app.Runtime, error) {
	logger := app.NewLogger(stderr, cfg)
	rt, err := app.Open(ctx, cfg, logger, mode)
	if err != nil {
		return nil, err
	}
	// A fresh install sends the shipped texts: import them as approved
	// templates wherever none exists (it never changes an existing one).
	n, err := templateadmin.Seed(ctx, rt.Store)
	if err != nil {
		rt.Close()
		return nil, err
	}
	if n > 0 {
		logger.Info("shipped templates imported", "templates", n)
	}
	return rt, nil
}
