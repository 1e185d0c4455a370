// Package ratelimit holds rate limits and concurrency caps in Redis, so
// that every worker process sending messages or placing calls shares them.
//
// Limiter paces actions per key (a sender number, an account) with the
// generic cell rate algorithm; Semaphore caps the number of concurrent
// holders per key (calls in progress on a caller number). Both run as one
// Lua script per operation and read the clock with Redis TIME, so the
// clocks of the workers' machines do not matter, and every key they write
// expires on its own.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limits on the arguments: the script keeps times in whole microseconds.
const (
	// MaxRate is the highest rate a Limiter accepts, per second.
	MaxRate = 1e6
	// MinRate is the lowest rate a Limiter accepts, per second (about one
	// a fortnight).
	MinRate = 1e-6
	// MaxBurst is the largest burst a Limiter accepts.
	MaxBurst = 1_000_000
)

// gcraScript reserves one slot. A key holds its theoretical arrival time
// (TAT): the time, in Redis microseconds, at which the sender is back to
// empty. A request may go at TAT - tau, where tau = (burst-1)*T lets burst
// requests through at once, and pushes TAT on by one interval T.
//
// KEYS[1] the key; ARGV[1] T in microseconds; ARGV[2] tau in microseconds;
// ARGV[3] the longest wait to reserve for, in microseconds, or -1.
// Returns {1 if reserved else 0, wait in microseconds}.
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local maxWait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0) or 0
if tat < now then tat = now end
local wait = tat - tau - now
if wait < 0 then wait = 0 end
if maxWait >= 0 and wait > maxWait then
  return {0, wait}
end
local newTat = tat + interval
-- Once TAT has passed the key means the same as no key, so let it go then.
local ttl = math.floor((newTat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%d', newTat), 'PX', string.format('%d', ttl))
return {1, wait}
`)

// Limiter paces actions per key at a rate shared by every process that
// uses the same Redis and prefix. It is safe for concurrent use.
//
// The rate is a ceiling, not a promise: a reservation whose caller gives
// up (a cancelled Wait, a crash before acting) is simply lost, so fewer
// actions may happen than the rate allows, never more.
type Limiter struct {
	rdb    redis.Scripter
	prefix string
}

// NewLimiter returns a Limiter that keeps its state in rdb (a *redis.Client
// or anything else that runs scripts) under keys starting with prefix,
// such as "protect:rate:".
func NewLimiter(rdb redis.Scripter, prefix string) *Limiter {
	return &Limiter{rdb: rdb, prefix: prefix}
}

func checkArgs(key string, rate float64, burst int) error {
	switch {
	case key == "":
		return errors.New("ratelimit: empty key")
	case !(rate >= MinRate && rate <= MaxRate):
		return fmt.Errorf("ratelimit: rate must be between %g and %g per second, got %g", MinRate, float64(MaxRate), rate)
	case burst < 1 || burst > MaxBurst:
		return fmt.Errorf("ratelimit: burst must be between 1 and %d, got %d", MaxBurst, burst)
	}
	return nil
}

// Reserve takes the next slot for key, at ratePerSec with up to burst
// actions at once after a quiet spell, and returns how long the caller
// must wait before acting; 0 means now. The slot is taken whatever the
// caller then does. Every caller of a key should pass the same rate and
// burst.
func (l *Limiter) Reserve(ctx context.Context, key string, ratePerSec float64, burst int) (wait time.Duration, err error) {
	wait, _, err = l.reserve(ctx, key, ratePerSec, burst, -1)
	return wait, err
}

// TryReserve is Reserve that takes the slot only if the wait is at most
// maxWait. If not, it returns ok false, nothing is taken, and wait says
// how long until a slot would be free at the current pace. Use it to
// re-queue work rather than hold a worker asleep.
func (l *Limiter) TryReserve(ctx context.Context, key string, ratePerSec float64, burst int, maxWait time.Duration) (wait time.Duration, ok bool, err error) {
	if maxWait < 0 {
		maxWait = 0
	}
	return l.reserve(ctx, key, ratePerSec, burst, maxWait)
}

// reserve runs the script; maxWait < 0 means no limit.
func (l *Limiter) reserve(ctx context.Context, key string, rate float64, burst int, maxWait time.Duration) (time.Duration, bool, error) {
	if err := checkArgs(key, rate, burst); err != nil {
		return 0, false, err
	}
	interval := math.Round(1e6 / rate) // microseconds
	tau := interval * float64(burst-1)
	limit := int64(-1)
	if maxWait >= 0 {
		limit = maxWait.Microseconds()
	}
	res, err := gcraScript.Run(ctx, l.rdb, []string{l.prefix + key}, int64(interval), int64(tau), limit).Int64Slice()
	if err != nil {
		return 0, false, fmt.Errorf("ratelimit: reserve %q: %w", key, err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("ratelimit: reserve %q: unexpected reply %v", key, res)
	}
	return time.Duration(res[1]) * time.Microsecond, res[0] == 1, nil
}

// Wait reserves a slot for key and sleeps until it comes. If ctx has a
// deadline that comes before the slot, Wait returns at once with an error
// wrapping context.DeadlineExceeded and takes nothing. If ctx is cancelled
// while Wait sleeps, it returns ctx.Err() and the slot is lost.
func (l *Limiter) Wait(ctx context.Context, key string, ratePerSec float64, burst int) error {
	var (
		wait time.Duration
		ok   = true
		err  error
	)
	if deadline, has := ctx.Deadline(); has {
		wait, ok, err = l.TryReserve(ctx, key, ratePerSec, burst, time.Until(deadline))
	} else {
		wait, err = l.Reserve(ctx, key, ratePerSec, burst)
	}
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("ratelimit: next slot for %q in %s, after the deadline: %w", key, wait, context.DeadlineExceeded)
	case wait <= 0:
		return nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
