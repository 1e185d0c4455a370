package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationSource is where migrations are read from: the embedded files
// (tests swap in their own).
var migrationSource fs.FS = mustSub(migrationFiles, "migrations")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// migrationLock is the advisory lock key that serialises migrations across
// processes starting at once.
const migrationLock = 7_361_021_001

type migration struct {
	version int
	name    string
	sql     string
	// checksum is the SHA-256 of the file: an applied migration whose file
	// changed afterwards stops start-up.
	checksum string
	// noTx runs the file outside a transaction, for statements PostgreSQL
	// refuses inside one (CREATE INDEX CONCURRENTLY). Such a file holds one
	// statement, so a failure never leaves half of it applied.
	noTx bool
}

// noTxMarker, as the first line of a migration, runs it outside a
// transaction.
const noTxMarker = "-- protect:no-transaction"

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationSource, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", name)
		}
		b, err := fs.ReadFile(migrationSource, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, migration{version: v, name: name, sql: string(b), checksum: hex.EncodeToString(sum[:]),
			noTx: strings.HasPrefix(strings.TrimSpace(string(b)), noTxMarker)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// SchemaFingerprint identifies the embedded migrations; test databases
// cloned from a template use it to know when the template is stale.
func SchemaFingerprint() string {
	ms, err := migrations()
	if err != nil {
		return "invalid"
	}
	h := sha256.New()
	for _, m := range ms {
		h.Write([]byte(m.name))
		h.Write([]byte(m.sql))
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// SchemaStatus compares the database's applied migrations with the ones
// this binary carries.
type SchemaStatus struct {
	// Current is the newest version applied (0 for an empty database);
	// Latest is the newest this binary knows.
	Current, Latest int
	// Pending are this binary's migrations not yet applied.
	Pending []string
	// Unknown are applied versions this binary does not have: the
	// database is ahead of it (a newer release migrated it).
	Unknown []string
	// Changed are applied migrations whose file differs from what was
	// applied.
	Changed []string
}

// UpToDate reports whether the database has exactly this binary's schema.
func (s SchemaStatus) UpToDate() bool {
	return len(s.Pending) == 0 && len(s.Unknown) == 0 && len(s.Changed) == 0
}

// Err explains a schema this binary must not run against, or nil. Pending
// migrations are not an error here: the caller decides whether to apply
// them or wait.
func (s SchemaStatus) Err() error {
	var errs []error
	for _, c := range s.Changed {
		errs = append(errs, fmt.Errorf("%s", c))
	}
	if len(s.Unknown) > 0 {
		errs = append(errs, fmt.Errorf("the database has migrations this binary does not know (%s): it was migrated by a newer release; run that release, or restore the database", strings.Join(s.Unknown, ", ")))
	}
	return errors.Join(errs...)
}

// ErrSchemaMismatch marks a database whose schema this binary must not use.
var ErrSchemaMismatch = errors.New("schema mismatch")

type appliedMigration struct {
	name     string
	checksum *string
}

// bootstrapMigrations makes sure the bookkeeping table exists with its
// checksum column (added after the first releases).
func bootstrapMigrations(ctx context.Context, q querier) error {
	if _, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text`)
	return err
}

func appliedMigrations(ctx context.Context, q querier) (map[int]appliedMigration, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, err
	}
	out := map[int]appliedMigration{}
	if !exists {
		return out, nil
	}
	var hasSum bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'schema_migrations' AND column_name = 'checksum' AND table_schema = current_schema())`).Scan(&hasSum); err != nil {
		return nil, err
	}
	sql := `SELECT version, name, NULL::text FROM schema_migrations`
	if hasSum {
		sql = `SELECT version, name, checksum FROM schema_migrations`
	}
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		var a appliedMigration
		if err := rows.Scan(&v, &a.name, &a.checksum); err != nil {
			return nil, err
		}
		out[v] = a
	}
	return out, rows.Err()
}

func compareSchema(ms []migration, applied map[int]appliedMigration) SchemaStatus {
	var st SchemaStatus
	known := map[int]bool{}
	for _, m := range ms {
		known[m.version] = true
		st.Latest = max(st.Latest, m.version)
		a, ok := applied[m.version]
		if !ok {
			st.Pending = append(st.Pending, m.name)
			continue
		}
		st.Current = max(st.Current, m.version)
		if a.checksum != nil && *a.checksum != m.checksum {
			st.Changed = append(st.Changed, fmt.Sprintf("migration %s was changed after it was applied (checksum %.12s in the database, %.12s in this binary): put the file back as it was and add a new migration instead", m.name, *a.checksum, m.checksum))
		}
	}
	var unknown []int
	for v := range applied {
		if !known[v] {
			unknown = append(unknown, v)
			st.Current = max(st.Current, v)
		}
	}
	sort.Ints(unknown)
	for _, v := range unknown {
		st.Unknown = append(st.Unknown, applied[v].name)
	}
	return st
}

// Schema reports how the database's schema compares with this binary's.
func (s *Store) Schema(ctx context.Context) (SchemaStatus, error) {
	ms, err := migrations()
	if err != nil {
		return SchemaStatus{}, err
	}
	applied, err := appliedMigrations(ctx, s.pool)
	if err != nil {
		return SchemaStatus{}, fmt.Errorf("read schema version: %w", err)
	}
	return compareSchema(ms, applied), nil
}

// WaitForSchema waits until the database has this binary's schema, for
// processes that leave migrating to `protect migrate` (a Kubernetes Job).
// It calls waiting each time it finds migrations still pending, and
// returns at once, with ErrSchemaMismatch, when the database is ahead of
// this binary or an applied migration changed.
func (s *Store) WaitForSchema(ctx context.Context, every time.Duration, waiting func(SchemaStatus)) error {
	for {
		st, err := s.Schema(ctx)
		switch {
		case err != nil:
			// A database still starting or briefly unreachable is worth
			// waiting for too.
			if ctx.Err() != nil {
				return err
			}
		case st.Err() != nil:
			return fmt.Errorf("%w: %w", ErrSchemaMismatch, st.Err())
		case len(st.Pending) == 0:
			return nil
		default:
			waiting(st)
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("database schema is at version %d, this binary needs %d: run `protect migrate`", st.Current, st.Latest)
			}
			return fmt.Errorf("waiting for migrations: %w", err)
		case <-time.After(every):
		}
	}
}

// Migrate applies the migrations not yet applied, in order, each in its
// own transaction (or none, for a no-transaction migration), and returns
// the names applied. It first checks the applied ones: a migration file
// changed after it was applied, or a database migrated by a newer release,
// stops it before anything runs. It holds a session advisory lock so that
// processes starting together migrate once: run it on a direct
// connection, not through PgBouncer in transaction mode.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, migrationLock) //nolint:errcheck
	if err := bootstrapMigrations(ctx, conn); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied, err := appliedMigrations(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	st := compareSchema(ms, applied)
	if err := st.Err(); err != nil {
		return nil, fmt.Errorf("migrate: %w: %w", ErrSchemaMismatch, err)
	}
	// Migrations applied before checksums were kept get the checksum of
	// the file as it is now.
	if _, err := conn.Exec(ctx, `UPDATE schema_migrations m SET checksum = f.checksum
		FROM unnest($1::int[], $2::text[]) AS f(version, checksum)
		WHERE m.version = f.version AND m.checksum IS NULL`, versions(ms), checksums(ms)); err != nil {
		return nil, fmt.Errorf("migrate: record checksums: %w", err)
	}
	var done []string
	for _, m := range ms {
		if _, ok := applied[m.version]; ok {
			continue
		}
		if err := applyMigration(ctx, conn.Conn(), m); err != nil {
			return done, err
		}
		done = append(done, m.name)
	}
	return done, nil
}

func applyMigration(ctx context.Context, conn *pgx.Conn, m migration) error {
	record := `INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`
	if m.noTx {
		if _, err := conn.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %s (run outside a transaction; check for an INVALID index left behind before retrying): %w", m.name, err)
		}
		if _, err := conn.Exec(ctx, record, m.version, m.name, m.checksum); err != nil {
			return fmt.Errorf("migration %s: record: %w", m.name, err)
		}
		return nil
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, record, m.version, m.name, m.checksum)
		return err
	})
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	return nil
}

func versions(ms []migration) []int32 {
	out := make([]int32, len(ms))
	for i, m := range ms {
		out[i] = int32(m.version)
	}
	return out
}

func checksums(ms []migration) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.checksum
	}
	return out
}
