package testdb

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func admin(t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := connect(context.Background(), AdminURL(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func dropDB(t *testing.T, c *pgx.Conn, name string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
		t.Fatal(err)
	}
}

// TestHalfMadeTemplateIsRebuilt: a template left empty by a stopped run
// (or half-built under its temporary name) is rebuilt, not cloned; a
// finished one is used as it is.
func TestHalfMadeTemplateIsRebuilt(t *testing.T) {
	ctx := context.Background()
	c := admin(t)
	// Named like a test database of this process, so other runs' clean-up
	// leaves it alone while the test runs.
	tpl := fmt.Sprintf("protect_test_tplcheck_%d", os.Getpid())
	t.Cleanup(func() { dropDB(t, c, tpl); dropDB(t, c, tpl+"_building") })
	for _, db := range []string{tpl, tpl + "_building"} {
		if _, err := c.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{db}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	if err := ensureTemplate(ctx, c, tpl); err != nil {
		t.Fatal(err)
	}
	u, err := withDatabase(AdminURL(), tpl)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := connect(ctx, u, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var migrated int
	err = tc.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&migrated)
	tc.Close(ctx)
	if err != nil || migrated == 0 {
		t.Fatalf("template not migrated: %d migrations, %v", migrated, err)
	}
	var building bool
	c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tpl+"_building").Scan(&building) //nolint:errcheck
	if building {
		t.Fatal("the temporary template is still there")
	}

	oid := func() uint32 {
		var o uint32
		if err := c.QueryRow(ctx, `SELECT oid FROM pg_database WHERE datname = $1`, tpl).Scan(&o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	before := oid()
	if err := ensureTemplate(ctx, c, tpl); err != nil {
		t.Fatal(err)
	}
	if oid() != before {
		t.Fatal("a finished template was rebuilt")
	}
}

// TestConnectRetries: a server with no free connection (SQLSTATE 53300,
// here a role's connection limit) is retried until one is free; one that
// stays full, or refuses connections, is reported with what to do.
func TestConnectRetries(t *testing.T) {
	ctx := context.Background()
	c := admin(t)
	role := fmt.Sprintf("protect_test_limited_%d", os.Getpid())
	if _, err := c.Exec(ctx, `CREATE ROLE `+pgx.Identifier{role}.Sanitize()+` LOGIN CONNECTION LIMIT 0`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Exec(ctx, `DROP ROLE IF EXISTS `+pgx.Identifier{role}.Sanitize()) }) //nolint:errcheck
	u := strings.Replace(AdminURL(), "postgres@", role+"@", 1)
	if u == AdminURL() {
		t.Skip("PROTECT_TEST_DATABASE_URL does not name the postgres user")
	}

	_, err := connect(ctx, u, 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no free connection") || !strings.Contains(err.Error(), "53300") {
		t.Fatalf("full server: error = %v", err)
	}

	go func() {
		time.Sleep(400 * time.Millisecond)
		c2, err := pgx.Connect(ctx, AdminURL())
		if err == nil {
			c2.Exec(ctx, `ALTER ROLE `+pgx.Identifier{role}.Sanitize()+` CONNECTION LIMIT 5`) //nolint:errcheck
			c2.Close(ctx)
		}
	}()
	start := time.Now()
	conn, err := connect(ctx, u, 20*time.Second)
	if err != nil {
		t.Fatalf("not retried until a connection was free: %v", err)
	}
	conn.Close(ctx)
	if time.Since(start) < 300*time.Millisecond {
		t.Fatal("connected while the role had no connection left")
	}

	start = time.Now()
	_, err = connect(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", 700*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not accept connections") || !strings.Contains(err.Error(), "PROTECT_TEST_DATABASE_URL") {
		t.Fatalf("refused: error = %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 10*time.Second {
		t.Fatalf("refused connections retried for %s, want about 700ms", d)
	}
}
