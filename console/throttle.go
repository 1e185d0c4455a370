package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/internal/clip"
)

// Log-in throttling: failed log-ins are counted per user name and per
// client address in Redis (short-lived state); past the limit within the
// window, further attempts are refused for LockoutFor. Names are counted
// whether or not they exist, so a refusal reveals nothing about them.
const (
	NameFailures = 5
	AddrFailures = 20
	FailWindow   = 15 * time.Minute
	LockoutFor   = 15 * time.Minute
)

// failScript counts a failure and, at the limit, locks for the lockout.
// KEYS: counter, lock. ARGV: window ms, limit, lockout ms. Returns the
// lock's remaining ms, or 0 when not locked.
var failScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return tonumber(ARGV[3])
end
return 0`)

// throttle counts failed log-ins. A nil throttle (no Redis) allows all.
type throttle struct {
	rdb    *redis.Client
	logger *slog.Logger
}

// throttleKey names a counter or lock. Names and addresses are hashed so
// Redis holds no user names in clear; names are folded to lower case so
// "Nina" and "nina" share a count.
func throttleKey(kind, scope, v string) string {
	if scope == "name" {
		v = strings.ToLower(v)
	}
	h := sha256.Sum256([]byte(v))
	return "protect:login:" + kind + ":" + scope + ":" + hex.EncodeToString(h[:12])
}

// lockedFor says how long until the name or the address may try again
// (0: now), and which of them is locked.
func (t *throttle) lockedFor(ctx context.Context, name, addr string) (time.Duration, string, error) {
	if t == nil {
		return 0, "", nil
	}
	pipe := t.rdb.Pipeline()
	byName := pipe.PTTL(ctx, throttleKey("lock", "name", name))
	byAddr := pipe.PTTL(ctx, throttleKey("lock", "address", addr))
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, "", fmt.Errorf("login throttle: %w", err)
	}
	if d := byName.Val(); d > 0 {
		return max(d, byAddr.Val()), "name", nil
	}
	if d := byAddr.Val(); d > 0 {
		return d, "address", nil
	}
	return 0, "", nil
}

// failed counts a failed log-in for the name and the address and reports
// whether either is now locked, and for how long.
func (t *throttle) failed(ctx context.Context, name, addr string) (time.Duration, string, error) {
	if t == nil {
		return 0, "", nil
	}
	var locked time.Duration
	scope := ""
	for _, c := range []struct {
		scope, v string
		limit    int
	}{{"name", name, NameFailures}, {"address", addr, AddrFailures}} {
		ms, err := failScript.Run(ctx, t.rdb, []string{throttleKey("fails", c.scope, c.v), throttleKey("lock", c.scope, c.v)},
			FailWindow.Milliseconds(), c.limit, LockoutFor.Milliseconds()).Int64()
		if err != nil {
			return 0, "", fmt.Errorf("login throttle: %w", err)
		}
		if d := time.Duration(ms) * time.Millisecond; d > locked {
			locked, scope = d, c.scope
		}
	}
	return locked, scope, nil
}

// succeeded clears the name's failures after a good log-in.
func (t *throttle) succeeded(ctx context.Context, name string) error {
	if t == nil {
		return nil
	}
	if err := t.rdb.Del(ctx, throttleKey("fails", "name", name)).Err(); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	return nil
}

// minutes rounds a wait up to whole minutes for people.
func minutes(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// loginRefused shows the log-in form again with a message.
func (c *Console) loginRefused(ctx *gin.Context, status int, msg string) {
	nonce := randomToken()
	c.setCookie(ctx, loginCookie, nonce, "/console/login", 600)
	c.render(ctx, status, "login", page{Title: "Log in", CSRF: c.mac("login", nonce), Error: msg})
}

// refuseLocked refuses a log-in while the name or address is locked,
// auditing the refusal; it reports whether it refused.
func (c *Console) refuseLocked(ctx *gin.Context, name string) bool {
	return c.refuseIf(ctx, name, c.throttle.lockedFor)
}

// countFailure records a failed log-in and, when that reaches the limit,
// refuses at once; it reports whether it refused.
func (c *Console) countFailure(ctx *gin.Context, name string) bool {
	return c.refuseIf(ctx, name, c.throttle.failed)
}

// refuseIf refuses the log-in, audited, when check says the name or the
// address is locked. Throttling fails open: a Redis outage must not lock
// every handler out of urgent work.
func (c *Console) refuseIf(ctx *gin.Context, name string, check func(context.Context, string, string) (time.Duration, string, error)) bool {
	wait, scope, err := check(ctx.Request.Context(), name, ctx.ClientIP())
	if err != nil {
		c.logger.Error("login throttle unavailable; attempt allowed", "error", err)
		return false
	}
	if wait <= 0 {
		return false
	}
	c.svc.Audit(ctx.Request.Context(), escalation.Actor{Name: "anonymous", RemoteAddr: ctx.ClientIP()}, "login.throttled", "user", 0,
		map[string]any{"name": clip.Text(name, 64), "locked": scope, "retry_after_seconds": int(wait.Seconds())})
	ctx.Header("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
	c.loginRefused(ctx, http.StatusTooManyRequests, "Too many attempts. Try again in "+minutes(wait)+".")
	return true
}
