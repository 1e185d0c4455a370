package store_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/store"
)

// freshStore opens a store on a new, empty database of its own.
func freshStore(t *testing.T, suffix string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), testdb.Empty(t, "migrate_"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

var baseMigrations = fstest.MapFS{
	"0001_people.sql": {Data: []byte(`CREATE TABLE people (id bigint PRIMARY KEY, name text);`)},
	"0002_more.sql":   {Data: []byte(`ALTER TABLE people ADD COLUMN born date;`)},
}

// withFiles is baseMigrations plus name/SQL pairs.
func withFiles(pairs ...string) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range baseMigrations {
		out[k] = v
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		out[pairs[i]] = &fstest.MapFile{Data: []byte(pairs[i+1])}
	}
	return out
}

const concurrentIndex = "-- protect:no-transaction\nCREATE INDEX CONCURRENTLY people_name_idx ON people (name);"

// TestMigrationChecks: a migration changed after it was applied, or a
// database migrated by a newer release, stops Migrate before anything runs
// and names the file; a no-transaction migration runs CREATE INDEX
// CONCURRENTLY, which PostgreSQL refuses inside a transaction.
func TestMigrationChecks(t *testing.T) {
	ctx := context.Background()
	st := freshStore(t, "checks")
	defer store.SetMigrationsForTest(baseMigrations)()
	applied, err := st.Migrate(ctx)
	if err != nil || len(applied) != 2 {
		t.Fatalf("first migrate: %v %v", applied, err)
	}
	if s, err := st.Schema(ctx); err != nil || !s.UpToDate() || s.Current != 2 || s.Latest != 2 {
		t.Fatalf("schema after migrate: %+v %v", s, err)
	}

	cases := []struct {
		name    string
		fsys    fstest.MapFS
		wantErr string // empty: success
		applied []string
	}{
		{"no-transaction index", withFiles("0003_index.sql", concurrentIndex), "", []string{"0003_index.sql"}},
		{"edited migration", fstest.MapFS{
			"0001_people.sql": {Data: []byte(`CREATE TABLE people (id bigint PRIMARY KEY, name text, extra int);`)},
			"0002_more.sql":   baseMigrations["0002_more.sql"],
			"0003_index.sql":  {Data: []byte(concurrentIndex)},
		}, "migration 0001_people.sql was changed after it was applied", nil},
		{"database ahead of the binary", baseMigrations, "0003_index.sql", nil},
		{"concurrent index inside a transaction is refused", withFiles("0003_index.sql", concurrentIndex, "0004_bad.sql", "CREATE INDEX CONCURRENTLY people_born_idx ON people (born);"), "CREATE INDEX CONCURRENTLY cannot run inside a transaction block", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer store.SetMigrationsForTest(c.fsys)()
			got, err := st.Migrate(ctx)
			if c.wantErr == "" {
				if err != nil || strings.Join(got, ",") != strings.Join(c.applied, ",") {
					t.Fatalf("Migrate = %v, %v; want %v", got, err, c.applied)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Migrate error = %v; want it to mention %q", err, c.wantErr)
			}
		})
	}
	// The refused migration left nothing recorded.
	var n int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = 4`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("failed migration recorded: %d %v", n, err)
	}
}

// TestWaitForSchema: a process that leaves migrating to `protect migrate`
// waits while migrations are pending, says so, and goes on once they are
// applied; a database ahead of it stops it at once.
func TestWaitForSchema(t *testing.T) {
	ctx := context.Background()
	st := freshStore(t, "wait")
	defer store.SetMigrationsForTest(baseMigrations)()
	var waits atomic.Int32
	done := make(chan error, 1)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	go func() {
		done <- st.WaitForSchema(wctx, 20*time.Millisecond, func(s store.SchemaStatus) {
			if s.Latest != 2 || len(s.Pending) == 0 {
				t.Errorf("waiting with %+v", s)
			}
			waits.Add(1)
		})
	}()
	for waits.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("returned before migrations: %v", err)
	default:
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitForSchema after migrate: %v", err)
	}

	// A binary older than the database refuses to wait.
	restore := store.SetMigrationsForTest(fstest.MapFS{"0001_people.sql": baseMigrations["0001_people.sql"]})
	defer restore()
	err := st.WaitForSchema(ctx, 20*time.Millisecond, func(store.SchemaStatus) { t.Error("waited for a newer database") })
	if !errors.Is(err, store.ErrSchemaMismatch) || !strings.Contains(err.Error(), "0002_more.sql") {
		t.Fatalf("older binary: %v", err)
	}

	// A migration edited after it was applied stops a waiting process at
	// once, with the file named: waiting would never make it right.
	restore = store.SetMigrationsForTest(fstest.MapFS{
		"0001_people.sql": baseMigrations["0001_people.sql"],
		"0002_more.sql":   {Data: []byte("-- edited after release\n" + string(baseMigrations["0002_more.sql"].Data))},
	})
	defer restore()
	err = st.WaitForSchema(ctx, 20*time.Millisecond, func(store.SchemaStatus) { t.Error("waited on a changed migration") })
	if !errors.Is(err, store.ErrSchemaMismatch) || !strings.Contains(err.Error(), "0002_more.sql was changed") {
		t.Fatalf("changed migration: %v", err)
	}
}
