package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// A window key is a sorted set of events scored by the Redis time, in
// microseconds, at which they happened. Events older than the window are
// dropped before each count, and the key expires a window after its last
// event.

// KEYS[1] the set; ARGV[1] the window in microseconds; ARGV[2] a unique
// event ID. Returns the events in the window, this one included.
var windowAddScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return redis.call('ZCARD', KEYS[1])
`)

// WindowCounter counts events per key within a sliding window, shared by
// every process that uses the same Redis and prefix (gateway faults of a
// sender, counted across all workers). It is safe for concurrent use.
type WindowCounter struct {
	rdb    redis.Cmdable
	prefix string
}

// NewWindowCounter counts in rdb under keys starting with prefix.
func NewWindowCounter(rdb redis.Cmdable, prefix string) *WindowCounter {
	return &WindowCounter{rdb: rdb, prefix: prefix}
}

// Add records one event for key and returns how many events key has had
// within the last window, this one included.
func (c *WindowCounter) Add(ctx context.Context, key string, window time.Duration) (int, error) {
	if key == "" {
		return 0, errors.New("window counter: empty key")
	}
	if window < time.Millisecond {
		return 0, fmt.Errorf("window counter: window %v is shorter than a millisecond", window)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	n, err := windowAddScript.Run(ctx, c.rdb, []string{c.prefix + key}, window.Microseconds(), hex.EncodeToString(id[:])).Int()
	if err != nil {
		return 0, fmt.Errorf("window counter %s: %w", key, err)
	}
	return n, nil
}

// Reset forgets key's events.
func (c *WindowCounter) Reset(ctx context.Context, key string) error {
	if err := c.rdb.Del(ctx, c.prefix+key).Err(); err != nil {
		return fmt.Errorf("window counter %s: %w", key, err)
	}
	return nil
}
