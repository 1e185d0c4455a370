package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestParseRedisURL(t *testing.T) {
	tests := []struct {
		url       string
		addr      string   // plain
		master    string   // sentinel
		sentinels []string // sentinel
		db        int
		password  string
		sentPass  string
		wantErr   bool
	}{
		{url: "redis://127.0.0.1:6379/2", addr: "127.0.0.1:6379", db: 2},
		{url: "redis-sentinel://s1:26379,s2:26379,s3:26379/mymaster/0", master: "mymaster", sentinels: []string{"s1:26379", "s2:26379", "s3:26379"}},
		{url: "redis-sentinel://:pw@s1:26379/mymaster/3?sentinel_password=sp", master: "mymaster", sentinels: []string{"s1:26379"}, db: 3, password: "pw", sentPass: "sp"},
		{url: "redis-sentinel://[::1]:26379/m", master: "m", sentinels: []string{"[::1]:26379"}},
		{url: "redis-sentinel://s1:26379/", wantErr: true},
		{url: "redis-sentinel://s1/mymaster", wantErr: true},
		{url: "redis-sentinel://s1:26379/mymaster/x", wantErr: true},
		{url: "redis-sentinel://s1:26379/mymaster/0/extra", wantErr: true},
		{url: "redis-sentinel://s1:26379/mymaster?colour=red", wantErr: true},
		{url: "http://x", wantErr: true},
	}
	for _, tt := range tests {
		o, err := ParseRedisURL(tt.url)
		if tt.wantErr {
			if err == nil {
				t.Errorf("%s: no error", tt.url)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		if tt.master == "" {
			if o.Plain == nil || o.Plain.Addr != tt.addr || o.Plain.DB != tt.db {
				t.Errorf("%s: %+v", tt.url, o.Plain)
			}
			continue
		}
		f := o.Failover
		if f == nil || f.MasterName != tt.master || !slices.Equal(f.SentinelAddrs, tt.sentinels) || f.DB != tt.db ||
			f.Password != tt.password || f.SentinelPassword != tt.sentPass {
			t.Errorf("%s: %+v", tt.url, f)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis runs a private redis-server (a master, a replica or a
// sentinel) on a free port until the test ends.
func startRedis(t *testing.T, dir, name string, args ...string) int {
	t.Helper()
	port := freePort(t)
	conf := filepath.Join(dir, name+".conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir %s\n", port, dir)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", append([]string{conf}, args...)...)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Skipf("redis-server not available: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer c.Close()
	for i := 0; ; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return port
		}
		if i > 100 {
			t.Fatalf("%s did not start", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSentinelFailover runs a master, a replica and a sentinel, connects
// through a redis-sentinel:// URL, fails the master over, and checks the
// same client writes to the new master.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three redis-server processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	master := startRedis(t, dir, "master")
	replica := startRedis(t, dir, "replica", "--replicaof", "127.0.0.1", strconv.Itoa(master))
	sconf := filepath.Join(dir, "sentinel.conf")
	sport := freePort(t)
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n", sport, dir, master)
	if err := os.WriteFile(sconf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	sent := exec.Command("redis-server", sconf, "--sentinel")
	if err := sent.Start(); err != nil {
		t.Skipf("redis sentinel not available: %v", err)
	}
	t.Cleanup(func() { sent.Process.Kill(); sent.Wait() }) //nolint:errcheck
	sc := redis.NewSentinelClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(sport)})
	defer sc.Close()
	// The sentinel must know the replica before it can fail over to it.
	waitFor(t, 20*time.Second, "sentinel sees the replica", func() bool {
		rs, err := sc.Replicas(ctx, "mymaster").Result()
		return err == nil && len(rs) == 1
	})

	rdb, err := OpenRedis(ctx, fmt.Sprintf("redis-sentinel://127.0.0.1:%d/mymaster/0", sport))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	direct := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(replica)})
	defer direct.Close()
	waitFor(t, 10*time.Second, "the replica to have the first write", func() bool {
		return direct.Get(ctx, "before").Val() == "1"
	})
	// The sentinel refuses (NOGOODSLAVE) until it has seen the replica
	// in sync for a moment.
	waitFor(t, 30*time.Second, "the sentinel to start a failover", func() bool {
		return sc.Failover(ctx, "mymaster").Err() == nil
	})
	waitFor(t, 30*time.Second, "sentinel names the replica as master", func() bool {
		addr, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
		return err == nil && addr[1] == strconv.Itoa(replica)
	})
	// The failover client follows the new master: a write through the URL
	// lands on the old replica. (Writes in the moment before the old master
	// is demoted may land on it and be lost, as Redis replication allows;
	// the test waits past that moment.)
	n := 0
	waitFor(t, 30*time.Second, "a write through the URL reaching the new master", func() bool {
		n++
		if rdb.Set(ctx, "after", n, 0).Err() != nil {
			return false
		}
		v, err := direct.Get(ctx, "after").Int()
		return err == nil && v == n
	})
	if v, err := direct.Get(ctx, "before").Result(); err != nil || v != "1" {
		t.Fatalf("new master lost the write made before the failover: %q (%v)", v, err)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
