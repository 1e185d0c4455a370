package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// A semaphore key is a sorted set of holders scored by the Redis time, in
// milliseconds, at which their lease runs out. Expired holders are dropped
// before every change, and the key itself expires with its last lease.

// Shared by the scripts: the Redis clock in milliseconds, and dropping
// holders whose lease has run out.
const semPrelude = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
`

// semTouch sets a holder's lease and keeps the key until the last lease.
const semTouch = `
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[1])), ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
`

// KEYS[1] the set; ARGV[1] lease ms; ARGV[2] holder; ARGV[3] limit.
var acquireScript = redis.NewScript(semPrelude + `
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
` + semTouch)

// KEYS[1] the set; ARGV[1] lease ms; ARGV[2] holder.
var extendScript = redis.NewScript(semPrelude + `
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  return 0
end
` + semTouch)

// KEYS[1] the set; ARGV[1] holder. Releasing in a script keeps the client
// type down to redis.Scripter.
var releaseScript = redis.NewScript(`return redis.call('ZREM', KEYS[1], ARGV[1])`)

// KEYS[1] the set. Counts unexpired holders without changing anything.
var countScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%d', now), '+inf')
`)

// Semaphore caps how many holders (calls in progress, say) a key (a
// caller number) has at once, across every process that uses the same
// Redis and prefix. A holder that is not released, because its worker
// crashed, frees its place when its lease runs out. It is safe for
// concurrent use.
type Semaphore struct {
	rdb    redis.Scripter
	prefix string
}

// NewSemaphore returns a Semaphore that keeps its state in rdb (a
// *redis.Client or anything else that runs scripts) under keys starting
// with prefix, such as "protect:calls:".
func NewSemaphore(rdb redis.Scripter, prefix string) *Semaphore {
	return &Semaphore{rdb: rdb, prefix: prefix}
}

func checkHolder(key, holder string, lease time.Duration) error {
	switch {
	case key == "":
		return errors.New("ratelimit: empty semaphore key")
	case holder == "":
		return errors.New("ratelimit: empty semaphore holder")
	case lease < time.Millisecond:
		return fmt.Errorf("ratelimit: lease must be at least 1ms, got %s", lease)
	}
	return nil
}

// Acquire takes a place for holder (a call SID, an attempt ID) under key
// if fewer than limit holders have one, for lease. It does not block: ok
// is false when the key is full. Acquiring again with the same holder
// always succeeds and renews its lease, so a retried task does not take a
// second place.
func (s *Semaphore) Acquire(ctx context.Context, key string, limit int, lease time.Duration, holder string) (ok bool, err error) {
	if err := checkHolder(key, holder, lease); err != nil {
		return false, err
	}
	if limit < 1 {
		return false, fmt.Errorf("ratelimit: semaphore limit must be at least 1, got %d", limit)
	}
	n, err := acquireScript.Run(ctx, s.rdb, []string{s.prefix + key}, lease.Milliseconds(), holder, limit).Int()
	if err != nil {
		return false, fmt.Errorf("ratelimit: acquire %q: %w", key, err)
	}
	return n == 1, nil
}

// Extend renews holder's lease on key to lease from now. It returns false
// if holder has no place, because it was released or its lease ran out:
// the place may be someone else's by now, so the caller must not go on as
// if it held it.
func (s *Semaphore) Extend(ctx context.Context, key, holder string, lease time.Duration) (ok bool, err error) {
	if err := checkHolder(key, holder, lease); err != nil {
		return false, err
	}
	n, err := extendScript.Run(ctx, s.rdb, []string{s.prefix + key}, lease.Milliseconds(), holder).Int()
	if err != nil {
		return false, fmt.Errorf("ratelimit: extend %q: %w", key, err)
	}
	return n == 1, nil
}

// Release gives up holder's place on key. It reports whether holder was
// still in the set; releasing twice is harmless.
func (s *Semaphore) Release(ctx context.Context, key, holder string) (released bool, err error) {
	n, err := releaseScript.Run(ctx, s.rdb, []string{s.prefix + key}, holder).Int()
	if err != nil {
		return false, fmt.Errorf("ratelimit: release %q: %w", key, err)
	}
	return n == 1, nil
}

// Count returns how many holders of key have an unexpired lease.
func (s *Semaphore) Count(ctx context.Context, key string) (int, error) {
	n, err := countScript.Run(ctx, s.rdb, []string{s.prefix + key}).Int()
	if err != nil {
		return 0, fmt.Errorf("ratelimit: count %q: %w", key, err)
	}
	return n, nil
}
