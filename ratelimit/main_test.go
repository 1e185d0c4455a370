package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// redisOpts points at the Redis database these tests own. Kept local and
// simple: a random database from 10 to 15, flushed at the start.
var redisOpts *redis.Options

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	url := os.Getenv("PROTECT_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratelimit tests:", err)
		return 2
	}
	ctx := context.Background()
	admin := redis.NewClient(opts)
	defer admin.Close()
	// Take the same lock that internal/testdb takes for a database number,
	// so the two never flush each other's data.
	for _, n := range rand.Perm(6) {
		db := 10 + n
		lock := fmt.Sprintf("protect:testdb:%d", db)
		ok, err := admin.SetNX(ctx, lock, os.Getpid(), 0).Result()
		if err != nil {
			fmt.Fprintln(os.Stderr, "ratelimit tests: Redis at", url, "is needed:", err)
			return 2
		}
		if !ok {
			continue
		}
		defer admin.Del(ctx, lock)
		o := *opts
		o.DB = db
		redisOpts = &o
		c := redis.NewClient(redisOpts)
		err = c.FlushDB(ctx).Err()
		c.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "ratelimit tests: flush:", err)
			return 2
		}
		return m.Run()
	}
	fmt.Fprintln(os.Stderr, "ratelimit tests: Redis databases 10 to 15 are all taken")
	return 2
}

// client returns a new connection to the test database, closed after t.
func client(t testing.TB) *redis.Client {
	c := redis.NewClient(redisOpts)
	t.Cleanup(func() { c.Close() })
	return c
}
