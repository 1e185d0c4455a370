package app

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelScheme is the URL scheme of a Redis reached through Sentinel:
// redis-sentinel://[:password@]host1:26379,host2:26379/mastername[/db]
// with optional sentinel_password and sentinel_username query parameters.
const SentinelScheme = "redis-sentinel"

// RedisOptions is a parsed PROTECT_REDIS_URL: a plain Redis or a Sentinel
// group.
type RedisOptions struct {
	Plain    *redis.Options
	Failover *redis.FailoverOptions
}

// ParseRedisURL parses redis://, rediss:// and redis-sentinel:// URLs.
func ParseRedisURL(raw string) (RedisOptions, error) {
	if !strings.HasPrefix(raw, SentinelScheme+"://") {
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return RedisOptions{}, fmt.Errorf("parse redis URL: %w", err)
		}
		return RedisOptions{Plain: opt}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return RedisOptions{}, fmt.Errorf("parse redis sentinel URL: %w", err)
	}
	fo := &redis.FailoverOptions{}
	for _, addr := range strings.Split(u.Host, ",") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(addr))
		if err != nil || host == "" || port == "" {
			return RedisOptions{}, fmt.Errorf("redis sentinel URL: %q is not host:port", addr)
		}
		fo.SentinelAddrs = append(fo.SentinelAddrs, net.JoinHostPort(host, port))
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if parts[0] == "" || len(parts) > 2 {
		return RedisOptions{}, fmt.Errorf("redis sentinel URL: path must be /mastername or /mastername/db, got %q", u.Path)
	}
	fo.MasterName = parts[0]
	if len(parts) == 2 {
		db, err := strconv.Atoi(parts[1])
		if err != nil || db < 0 {
			return RedisOptions{}, fmt.Errorf("redis sentinel URL: database %q is not a number", parts[1])
		}
		fo.DB = db
	}
	if u.User != nil {
		fo.Username = u.User.Username()
		fo.Password, _ = u.User.Password()
	}
	q := u.Query()
	fo.SentinelUsername = q.Get("sentinel_username")
	fo.SentinelPassword = q.Get("sentinel_password")
	for k := range q {
		if k != "sentinel_username" && k != "sentinel_password" {
			return RedisOptions{}, fmt.Errorf("redis sentinel URL: unknown parameter %q", k)
		}
	}
	return RedisOptions{Failover: fo}, nil
}

// Client makes the client: go-redis's failover client for Sentinel, which
// asks the sentinels for the master and follows it when it fails over.
func (o RedisOptions) Client() *redis.Client {
	if o.Failover != nil {
		return redis.NewFailoverClient(o.Failover)
	}
	return redis.NewClient(o.Plain)
}

// Describe names the server for messages, without credentials.
func (o RedisOptions) Describe() string {
	if o.Failover != nil {
		return fmt.Sprintf("master %q via sentinels %s", o.Failover.MasterName, strings.Join(o.Failover.SentinelAddrs, ","))
	}
	return o.Plain.Addr
}

// OpenRedis connects to Redis (directly or through Sentinel) and checks it
// answers.
func OpenRedis(ctx context.Context, rawURL string) (*redis.Client, error) {
	opt, err := ParseRedisURL(rawURL)
	if err != nil {
		return nil, err
	}
	rdb := opt.Client()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("connect to Redis (%s): %w", opt.Describe(), err)
	}
	return rdb, nil
}
