// Package testdb gives each test package a PostgreSQL database and a Redis
// database number of its own, so packages run in parallel without sharing
// state. Databases are cloned from a migrated template, which is rebuilt
// only when the migrations change. The template is built under a temporary
// name and renamed once migrated and marked complete, so a run stopped
// half-way never leaves a template that later runs would clone. A server
// that is starting up, refusing connections or full is waited for, then
// reported with what to do.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }
package testdb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/protectnow/protect/store"
)

const lockKey = 7_361_021_002

var (
	dbURL    string
	redisURL string
	st       *store.Store
	stOnce   sync.Once
	stErr    error
)

// AdminURL is the PostgreSQL server tests create databases on.
func AdminURL() string {
	if v := os.Getenv("PROTECT_TEST_DATABASE_URL"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// AdminRedisURL is the Redis server tests take a database number on.
func AdminRedisURL() string {
	if v := os.Getenv("PROTECT_TEST_REDIS_URL"); v != "" {
		return v
	}
	return "redis://127.0.0.1:6379/0"
}

// Main sets up the package's databases, runs the tests and drops them.
func Main(m *testing.M) int {
	ctx := context.Background()
	name := packageDBName()
	var err error
	if dbURL, err = createDatabase(ctx, name); err != nil {
		fmt.Fprintf(os.Stderr, "testdb: %v\n(is PostgreSQL running? `make test` starts it; or set PROTECT_TEST_DATABASE_URL)\n", err)
		return 2
	}
	defer dropDatabase(name)
	n, rdb, err := claimRedisDB(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testdb: %v\n(is Redis running? `make test` starts it; or set PROTECT_TEST_REDIS_URL)\n", err)
		return 2
	}
	defer releaseRedisDB(rdb, n)
	code := m.Run()
	if st != nil {
		st.Close()
	}
	return code
}

// URL is the package's database URL.
func URL() string { return dbURL }

// RedisURL is the package's Redis URL, with its own database number.
func RedisURL() string { return redisURL }

// Store opens (once) the package's database.
func Store(t testing.TB) *store.Store {
	t.Helper()
	stOnce.Do(func() { st, stErr = openStore(context.Background(), dbURL, connectWait) })
	if stErr != nil {
		t.Fatalf("testdb: %v", stErr)
	}
	return st
}

// Redis returns a client on the package's Redis database.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// Reset empties every table and the package's Redis database, for tests
// that count rows. Tables of one row that migrations fill (the template
// generation counter) get their row back.
func Reset(t testing.TB) {
	t.Helper()
	s := Store(t)
	ctx := context.Background()
	_, err := s.Pool().Exec(ctx, `DO $$ DECLARE r record; BEGIN
		FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations' LOOP
			EXECUTE 'TRUNCATE TABLE ' || quote_ident(r.tablename) || ' RESTART IDENTITY CASCADE';
		END LOOP; END $$;
		INSERT INTO template_generation DEFAULT VALUES`)
	if err != nil {
		t.Fatalf("testdb: reset: %v", err)
	}
	if err := Redis(t).FlushDB(ctx).Err(); err != nil {
		t.Fatalf("testdb: reset redis: %v", err)
	}
}

// Empty creates a database with no schema at all, for tests of migrating
// and of waiting for migrations, and drops it when t ends. It returns the
// database's URL, with a small pool.
func Empty(t testing.TB, suffix string) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("protect_test_empty_%s_%d", unsafe.ReplaceAllString(strings.ToLower(suffix), "_"), os.Getpid())
	admin, err := connect(ctx, AdminURL(), connectWait)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	drop := func() error {
		_, err := admin.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
		return err
	}
	t.Cleanup(func() {
		drop() //nolint:errcheck
		admin.Close(context.Background())
	})
	if err := drop(); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Set("pool_max_conns", "3")
	u.RawQuery = q.Encode()
	return u.String()
}

var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

func packageDBName() string {
	base := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	base = unsafe.ReplaceAllString(strings.ToLower(base), "_")
	if len(base) > 30 {
		base = base[:30]
	}
	return fmt.Sprintf("protect_test_%s_%d", base, os.Getpid())
}

func withDatabase(raw, db string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", raw, err)
	}
	u.Path = "/" + db
	return u.String(), nil
}

func createDatabase(ctx context.Context, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute+connectWait)
	defer cancel()
	admin, err := connect(ctx, AdminURL(), connectWait)
	if err != nil {
		return "", err
	}
	defer admin.Close(context.Background())
	// Template creation and cloning are serialised: CREATE DATABASE ...
	// TEMPLATE fails while anyone else is connected to the template.
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer admin.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, lockKey) //nolint:errcheck

	dropStale(ctx, admin)
	tpl := "protect_tpl_" + store.SchemaFingerprint()
	if err := ensureTemplate(ctx, admin, tpl); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("drop old %s: %w", name, err)
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE `+pgx.Identifier{tpl}.Sanitize()); err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	return withDatabase(AdminURL(), name)
}

// templateMark is the comment a template gets once fully migrated; a
// database under a template's name without it (left by an older version of
// this package, or made by hand) is rebuilt, never cloned.
const templateMark = "protect test template: migrated"

// ensureTemplate makes sure tpl exists, fully migrated: it is built as
// tpl_building, marked, then renamed, so no one ever sees it half-made.
// The caller holds the advisory lock.
func ensureTemplate(ctx context.Context, admin *pgx.Conn, tpl string) error {
	var mark *string
	err := admin.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, tpl).Scan(&mark)
	if err == nil && mark != nil && *mark == templateMark {
		return nil
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up template %s: %w", tpl, err)
	}
	build := tpl + "_building"
	for _, db := range []string{tpl, build} { // a half-made one, or one a stopped run was building
		if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{db}.Sanitize()+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop unfinished template %s: %w", db, err)
		}
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{build}.Sanitize()); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	buildURL, err := withDatabase(AdminURL(), build)
	if err != nil {
		return err
	}
	s, err := openStore(ctx, buildURL, connectWait)
	if err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	_, err = s.Migrate(ctx)
	s.Close()
	if err != nil {
		admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{build}.Sanitize()+` WITH (FORCE)`) //nolint:errcheck
		return fmt.Errorf("migrate template: %w", err)
	}
	if _, err := admin.Exec(ctx, `COMMENT ON DATABASE `+pgx.Identifier{build}.Sanitize()+` IS '`+templateMark+`'`); err != nil {
		return fmt.Errorf("mark template: %w", err)
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{build}.Sanitize()+` RENAME TO `+pgx.Identifier{tpl}.Sanitize()); err != nil {
		return fmt.Errorf("rename template: %w", err)
	}
	return nil
}

// connectWait is how long a server that is starting up, refusing
// connections or out of connections is waited for.
const connectWait = time.Minute

// connect connects to url, retrying with back-off for up to wait while the
// server is starting up, refuses connections or has no free connection.
func connect(ctx context.Context, url string, wait time.Duration) (*pgx.Conn, error) {
	var c *pgx.Conn
	err := retry(ctx, url, wait, func() (err error) {
		c, err = pgx.Connect(ctx, url)
		return err
	})
	return c, err
}

// openStore is store.Open with connect's retries.
func openStore(ctx context.Context, url string, wait time.Duration) (*store.Store, error) {
	var s *store.Store
	err := retry(ctx, url, wait, func() (err error) {
		s, err = store.Open(ctx, url)
		return err
	})
	return s, err
}

func retry(ctx context.Context, url string, wait time.Duration, try func() error) error {
	deadline := time.Now().Add(wait)
	pause := 100 * time.Millisecond
	for {
		err := try()
		if err == nil {
			return nil
		}
		if !transient(err) || time.Now().Add(pause).After(deadline) {
			return explain(url, wait, err)
		}
		select {
		case <-ctx.Done():
			return explain(url, wait, err)
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// PostgreSQL's SQLSTATEs for a full server and one starting up.
const (
	sqlTooManyConnections = "53300"
	sqlCannotConnectNow   = "57P03"
)

// transient reports whether err may go away by itself: the server is
// starting up, refusing connections (restarting) or has no free connection.
func transient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == sqlTooManyConnections || pgErr.Code == sqlCannotConnectNow
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// explain says what to do about a connection that failed.
func explain(url string, wait time.Duration, err error) error {
	where := url
	if u, perr := pgconn.ParseConfig(url); perr == nil {
		where = fmt.Sprintf("%s:%d", u.Host, u.Port)
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == sqlTooManyConnections:
		return fmt.Errorf("PostgreSQL at %s has no free connection after %s of retrying (other test runs or services hold them all): "+
			"run fewer test packages at once (go test -p 1), stop what holds them, or raise max_connections: %w", where, wait, err)
	case transient(err):
		return fmt.Errorf("PostgreSQL at %s did not accept connections within %s: start it (`make services` or scripts/services.sh --test) "+
			"or point PROTECT_TEST_DATABASE_URL at a running server: %w", where, wait, err)
	}
	return fmt.Errorf("connect to PostgreSQL at %s: %w", where, err)
}

// dropStale removes databases left by test processes that died, and
// templates of older schemas.
func dropStale(ctx context.Context, admin *pgx.Conn) {
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'protect_test_%' OR datname LIKE 'protect_tpl_%'`)
	if err != nil {
		return
	}
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	current := "protect_tpl_" + store.SchemaFingerprint()
	for _, n := range names {
		stale := false
		if strings.HasPrefix(n, "protect_tpl_") {
			stale = n != current
		} else if i := strings.LastIndexByte(n, '_'); i > 0 {
			pid, err := strconv.Atoi(n[i+1:])
			stale = err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH
		}
		if stale {
			admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{n}.Sanitize()+` WITH (FORCE)`) //nolint:errcheck
		}
	}
}

func dropDatabase(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return
	}
	defer admin.Close(ctx)
	admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`) //nolint:errcheck
}

// claimRedisDB takes a free database number from 1 to 15 with a lock key in
// database 0 that expires if the process dies.
func claimRedisDB(ctx context.Context) (int, *redis.Client, error) {
	opt, err := redis.ParseURL(AdminRedisURL())
	if err != nil {
		return 0, nil, fmt.Errorf("parse redis URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for n := 1; n <= 15; n++ {
			ok, err := rdb.SetNX(ctx, fmt.Sprintf("protect:testdb:%d", n), os.Getpid(), time.Hour).Result()
			if err != nil {
				rdb.Close()
				return 0, nil, fmt.Errorf("connect to Redis: %w", err)
			}
			if !ok {
				continue
			}
			o := *opt
			o.DB = n
			c := redis.NewClient(&o)
			err = c.FlushDB(ctx).Err()
			c.Close()
			if err != nil {
				return 0, nil, fmt.Errorf("flush redis db %d: %w", n, err)
			}
			u, _ := url.Parse(AdminRedisURL())
			u.Path = "/" + strconv.Itoa(n)
			redisURL = u.String()
			return n, rdb, nil
		}
		if time.Now().After(deadline) {
			rdb.Close()
			return 0, nil, fmt.Errorf("no free Redis database number: more than 15 test packages at once")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func releaseRedisDB(rdb *redis.Client, n int) {
	ctx := context.Background()
	o := *rdb.Options()
	o.DB = n
	c := redis.NewClient(&o)
	c.FlushDB(ctx) //nolint:errcheck
	c.Close()
	rdb.Del(ctx, fmt.Sprintf("protect:testdb:%d", n))
	rdb.Close()
}
