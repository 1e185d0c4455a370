// Package benchdb gives benchmark programs a fresh database of their own.
package benchdb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/protectnow/protect/outreach/cohort"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/store"
)

// AdminURL is the server benchmarks create databases on.
func AdminURL() string {
	if v := os.Getenv("PROTECT_BENCH_DATABASE_URL"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Fresh drops and creates database name and returns its URL.
func Fresh(ctx context.Context, name string) (string, error) { return FreshOn(ctx, AdminURL(), name) }

// FreshOn drops and creates database name on the server of adminURL and
// returns its URL.
func FreshOn(ctx context.Context, adminURL, name string) (string, error) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	id := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop %s: %w", name, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+id); err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// Drop removes a benchmark database.
func Drop(ctx context.Context, name string) { DropOn(ctx, AdminURL(), name) }

// DropOn removes database name from the server of adminURL.
func DropOn(ctx context.Context, adminURL, name string) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return
	}
	defer admin.Close(ctx)
	admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)") //nolint:errcheck
}

// Env is a migrated benchmark database holding an imported cohort.
type Env struct {
	Store  *store.Store
	URL    string
	Import cohort.Summary
	name   string
	dir    string
}

// Quiet is a logger that discards everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Setup makes a fresh database called name, migrates it, and imports a
// generated cohort "bench" of n patients through the real importer.
func Setup(ctx context.Context, name string, n int, seed uint64) (*Env, error) {
	dbURL, err := Fresh(ctx, name)
	if err != nil {
		return nil, err
	}
	env := &Env{name: name, URL: dbURL}
	if env.Store, err = store.Open(ctx, dbURL); err != nil {
		return nil, err
	}
	if _, err := env.Store.Migrate(ctx); err != nil {
		env.Close()
		return nil, err
	}
	if env.dir, err = os.MkdirTemp("", name); err != nil {
		env.Close()
		return nil, err
	}
	path := filepath.Join(env.dir, "cohort.csv")
	f, err := os.Create(path)
	if err != nil {
		env.Close()
		return nil, err
	}
	err = WriteCohort(f, n, seed, false)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		env.Close()
		return nil, err
	}
	env.Import, err = cohort.ImportFile(ctx, env.Store, path, cohort.Options{Cohort: "bench",
		ReportPath: filepath.Join(env.dir, "report.csv"), Phones: phone.Parser{}, Logger: Quiet})
	if err != nil {
		env.Close()
		return nil, err
	}
	return env, nil
}

// Close drops the database and removes the files.
func (e *Env) Close() {
	if e.Store != nil {
		e.Store.Close()
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
	Drop(context.Background(), e.name)
}

// AlwaysOpen is a calling window open at every hour, for benchmarks.
var AlwaysOpen = []byte(`{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"00:00","end":"24:00","timezone":"Europe/London"}`)
