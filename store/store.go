// Package store is Protect's system of record: every SQL statement the
// gateway runs against PostgreSQL lives here, in plain SQL.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when a row asked for by key does not exist.
var ErrNotFound = errors.New("not found")

// ErrDuplicate is returned when a name or key is taken.
var ErrDuplicate = errors.New("already exists")

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// Store wraps a PostgreSQL connection pool.
type Store struct {
	pool *pgxpool.Pool
	// aux serves the few lookups that fill in-process caches (questionnaire
	// definitions, live and pinned templates). They happen while the caller
	// holds a connection of pool for a webhook's transaction; with their own
	// two connections a full pool can never deadlock them.
	aux *pgxpool.Pool
}

// DefaultPoolSize is a process's PostgreSQL connections unless told
// otherwise: webhooks and workers hold a connection for one short
// transaction each, and sixteen let PostgreSQL group commits without the
// WAL and index-page contention more connections bring on a small machine
// (BENCHMARKS.md).
const DefaultPoolSize = 16

// auxPoolSize is the small second pool for cache fills (see Store.aux).
const auxPoolSize = 2

// PoolOptions tune how a process connects.
type PoolOptions struct {
	// MaxConns caps the main pool (0: pool_max_conns in the URL, else
	// DefaultPoolSize). The process holds at most MaxConns + 2.
	MaxConns int
	// PgBouncer is set when the URL points at PgBouncer in transaction
	// pooling mode: statements are not prepared on the server (PgBouncer
	// before 1.21 cannot route named prepared statements), only described
	// once per process and sent unnamed, still in one round trip.
	PgBouncer bool
}

// Open connects to PostgreSQL and checks the connection.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWith(ctx, url, PoolOptions{})
}

// OpenWith connects to PostgreSQL with pool options and checks the
// connection.
func OpenWith(ctx context.Context, url string, o PoolOptions) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	switch {
	case o.MaxConns > 0:
		cfg.MaxConns = int32(o.MaxConns)
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = DefaultPoolSize
	}
	if o.PgBouncer {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	// A few connections stay open through quiet hours so that the first
	// webhooks of a burst (a caller waiting on the line) do not wait for
	// a PostgreSQL backend to start; pool_min_conns overrides it.
	if !strings.Contains(url, "pool_min_conns") {
		cfg.MinConns = min(4, cfg.MaxConns)
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", safeURL(url), err)
	}
	auxCfg := cfg.Copy()
	auxCfg.MaxConns, auxCfg.MinConns = auxPoolSize, 0
	aux, err := pgxpool.NewWithConfig(ctx, auxCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	return &Store{pool: pool, aux: aux}, nil
}

// Close releases the pool.
func (s *Store) Close() {
	s.pool.Close()
	s.aux.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool exposes the pool to the few callers that need a dedicated connection
// (asynq-free listeners, tests).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// tx runs fn in a transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// pipelined runs a transaction whose statements fn sends in batches on
// one connection, BEGIN in its first batch and COMMIT in its last, so a
// webhook that a caller waits on pays two round trips rather than one per
// statement. fn reports whether it committed; if it did not, or failed,
// the transaction is rolled back (or the connection dropped) so it never
// goes back to the pool open.
func (s *Store) pipelined(ctx context.Context, fn func(conn *pgxpool.Conn) (committed bool, err error)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	committed, err := fn(conn)
	if !committed {
		if _, rerr := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) //nolint:errcheck
		}
	}
	return err
}

// safeURL drops the password from a connection URL for error messages.
func safeURL(raw string) string {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
