package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/protectnow/protect/bench/internal/inbound"
	"github.com/protectnow/protect/config"
)

// runSoak runs Protect as it runs on many machines, twice: once as it is
// (the baseline) and once with faults. Two `protect serve` behind a load
// balancer, three `protect worker`, PostgreSQL through PgBouncer in
// transaction pooling mode, Redis as a master, a replica and three
// sentinels. Every patient answers the wellbeing check by SMS as soon as
// the introduction reaches them. During the faulty run a random worker
// gets kill -9 every SoakKillEvery, one serve gets kill -9 (and comes
// back), and the Redis master gets kill -9 so the sentinels fail over to
// the replica. Promise: every patient contacted exactly once, every reply
// stored once, every patient's outcome the same as in the baseline.
func runSoak(ctx context.Context, p Params) (*Report, error) {
	r := &Report{Scenario: fmt.Sprintf("soak: %d patients at %.0f/s, 2 serve, %d workers, PgBouncer (transaction mode), Redis with a replica and 3 sentinels; "+
		"faults: kill -9 of a worker every %s, of a serve at %s, of the Redis master at %s",
		p.SoakPatients, p.SoakPace, p.Workers, p.SoakKillEvery, p.SoakServeKillAt, p.SoakFailoverAt)}
	if _, err := os.Stat(pgbouncerBin); err != nil {
		return nil, fmt.Errorf("soak needs PgBouncer (Debian package pgbouncer): %w", err)
	}
	base, err := soakRun(ctx, p, "soak-baseline", false)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	faulty, err := soakRun(ctx, p, "soak-faults", true)
	if err != nil {
		return nil, fmt.Errorf("with faults: %w", err)
	}
	for _, run := range []struct {
		name string
		res  *soakResult
	}{{"baseline", base}, {"faults", faulty}} {
		s := run.res
		r.add(run.name+": seconds from start to every outcome", s.seconds)
		r.add(run.name+": patients", s.patients)
		r.add(run.name+": patients texted the introduction once", s.introOnce)
		r.add(run.name+": patients texted it twice or more", s.introTwice)
		r.add(run.name+": patients never texted", s.never)
		r.add(run.name+": replies sent", s.replies)
		r.add(run.name+": replies answered 2xx", s.replies2xx)
		r.add(run.name+": replies retried after the balancer failed", s.retried)
		r.add(run.name+": replies never answered 2xx", s.lost)
		r.add(run.name+": replies stored (rows)", s.storedRows)
		r.add(run.name+": replies stored (distinct MessageSid)", s.storedSIDs)
		r.add(run.name+": seconds from the first introduction to the last (sent_at)", int(s.introSeconds))
		if s.introSeconds > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: introductions went out at %.0f a second (pace set to %.0f)",
				run.name, float64(s.introOnce+s.introTwice)/s.introSeconds, p.SoakPace))
		}
		r.add(run.name+": patients with an outcome", s.done)
		r.add(run.name+": attempts unsettled", s.unsettled)
		if run.name == "faults" {
			r.add("faults: worker kills (kill -9)", s.workerKills)
			r.add("faults: serve kills (kill -9)", s.serveKills)
			r.add("faults: Redis master kills (kill -9)", s.redisKills)
		}
		r.expect(s.introTwice == 0, "%s: %d patients texted the introduction twice", run.name, s.introTwice)
		r.expect(s.never == 0, "%s: %d patients never texted", run.name, s.never)
		r.expect(s.lost == 0, "%s: %d replies never answered 2xx", run.name, s.lost)
		r.expect(s.storedRows == s.replies && s.storedSIDs == s.replies, "%s: %d replies sent, %d rows and %d distinct MessageSids stored",
			run.name, s.replies, s.storedRows, s.storedSIDs)
		r.expect(s.done == s.patients, "%s: %d of %d patients reached an outcome", run.name, s.done, s.patients)
		r.expect(s.unsettled == 0, "%s: %d attempts unsettled", run.name, s.unsettled)
	}
	differ := 0
	for nhs, o := range base.outcomes {
		if faulty.outcomes[nhs] != o {
			differ++
		}
	}
	r.add("patients whose outcome differs from the baseline", differ)
	r.expect(differ == 0, "%d patients ended with another outcome than in the baseline", differ)
	if base.seconds > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("the run with faults took %.2f times as long as the baseline", float64(faulty.seconds)/float64(base.seconds)))
	}
	return r, nil
}

const pgbouncerBin = "/usr/sbin/pgbouncer"

type soakResult struct {
	seconds, patients, introOnce, introTwice, never            int
	replies, replies2xx, retried, lost, storedRows, storedSIDs int
	done, unsettled, workerKills, serveKills, redisKills       int
	outcomes                                                   map[string]string
	// introSeconds is how long the introductions took from the first
	// to the last accepted by Twilio: the pace the campaign achieved.
	introSeconds float64
}

func soakRun(ctx context.Context, p Params, name string, faults bool) (*soakResult, error) {
	e, err := newEnv(ctx, p, name)
	if err != nil {
		return nil, err
	}
	defer e.close()
	// newEnv's Redis is the master; a replica and three sentinels join it.
	master := strings.TrimSuffix(strings.TrimPrefix(e.redisURL, "redis://"), "/0")
	masterProc := e.procs.all[0]
	mhost, mport, _ := strings.Cut(master, ":")
	if _, err := e.startRedis(ctx, "redis-replica", "--replicaof", mhost, mport); err != nil {
		return nil, err
	}
	var sentinels []string
	for i := range 3 {
		addr, err := e.startSentinel(ctx, i+1, master)
		if err != nil {
			return nil, err
		}
		sentinels = append(sentinels, addr)
	}
	e.redisURL = "redis-sentinel://" + strings.Join(sentinels, ",") + "/mymaster/0"
	if err := e.freshDB(ctx); err != nil {
		return nil, err
	}
	bouncer, err := e.startPgBouncer(ctx)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(e.dbURL)
	u.Host = bouncer
	e.clientDBURL = u.String()
	e.extraEnv = append(e.extraEnv, "PROTECT_DB_PGBOUNCER=true")

	// Two serve processes behind a balancer that is the public URL.
	lbAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	e.httpAddr, e.publicURL = lbAddr, "http://"+lbAddr
	if err := e.startSandbox(200 * time.Millisecond); err != nil {
		return nil, err
	}
	lb := &balancer{client: &http.Client{Timeout: 30 * time.Second}}
	serves := make([]*proc, 2)
	startServe := func(i int) error {
		addr := lb.backend(i)
		if addr == "" {
			if addr, err = freeAddr(); err != nil {
				return err
			}
			lb.add(addr)
		}
		env := append(e.childEnv(8, e.sandboxURL), "PROTECT_HTTP_ADDR="+addr, "PROTECT_SPOOL_DIR="+filepath.Join(e.dir, fmt.Sprintf("spool%d", i+1)))
		pr, err := e.procs.start(fmt.Sprintf("serve%d", i+1), env, e.p.Bin, "serve")
		if err != nil {
			return err
		}
		serves[i] = pr
		return waitHTTP(ctx, "http://"+addr+"/healthz", pr, 60*time.Second)
	}
	for i := range serves {
		if err := startServe(i); err != nil {
			return nil, err
		}
	}
	srv := &http.Server{Handler: lb}
	ln, err := net.Listen("tcp", lbAddr)
	if err != nil {
		return nil, err
	}
	go srv.Serve(ln) //nolint:errcheck // closed below
	defer srv.Close()
	const workerPool = 4
	if err := e.startWorkers(p.Workers, workerPool); err != nil {
		return nil, err
	}

	patients := makePatients(0, p.SoakPatients)
	res := &soakResult{patients: len(patients), outcomes: map[string]string{}}
	err = e.startCampaign(ctx, campaignSpec{name: "soak", patients: patients, pace: p.SoakPace,
		policy: `{"steps": [{"channel": "sms", "wait": "2h"}], "conversation_timeout": "2h"}`})
	if err != nil {
		return nil, err
	}
	start := time.Now()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()

	// The patients: each answers the whole check as soon as the
	// introduction reaches them, one answer after another.
	index := map[string]int{}
	for i, pt := range patients {
		index[pt.E164] = i
	}
	var replied sync.Map
	var wg sync.WaitGroup
	var serial atomic.Int64
	var sent, ok2xx, retried, lost atomic.Int64
	answer := func(i int) {
		defer wg.Done()
		target := e.publicURL + "/webhooks/twilio/sms"
		for _, body := range scripts[i%len(scripts)] {
			m := inbound.SMS{Serial: int(serial.Add(1)), AccountSID: config.SandboxAccountSID, From: patients[i].E164, To: sender, Body: body}
			sent.Add(1)
			ok := false
			// A balancer in front of serve answers 502 when the serve it
			// chose died mid-request; the same message (same MessageSid)
			// is tried again, as Twilio does with a connection retry.
			for try := 0; try < 5 && !ok && runCtx.Err() == nil; try++ {
				if try > 0 {
					retried.Add(1)
					sleep(runCtx, time.Second)
				}
				resp, err := lb.client.Do(m.Request(target, config.SandboxAuthToken))
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck
				resp.Body.Close()
				ok = resp.StatusCode < 300
			}
			if !ok {
				lost.Add(1)
				return
			}
			ok2xx.Add(1)
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		seen := 0
		sem := make(chan struct{}, 64)
		for runCtx.Err() == nil {
			msgs := e.sb.Messages()
			for _, m := range msgs[seen:] {
				i, ok := index[m.To]
				if !ok || !isIntro(m.Body) {
					continue
				}
				if _, dup := replied.LoadOrStore(i, true); dup {
					continue
				}
				wg.Add(1)
				sem <- struct{}{}
				go func() { defer func() { <-sem }(); answer(i) }()
			}
			seen = len(msgs)
			sleep(runCtx, 100*time.Millisecond)
		}
	}()

	if faults {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(p.Seed, 23))
			killWorker := time.NewTicker(p.SoakKillEvery)
			defer killWorker.Stop()
			serveAt, failoverAt := time.After(p.SoakServeKillAt), time.After(p.SoakFailoverAt)
			for {
				select {
				case <-runCtx.Done():
					return
				case <-killWorker.C:
					if err := e.restartWorker(rnd.IntN(len(e.workers)), workerPool); err == nil {
						res.workerKills++
					}
				case <-serveAt:
					i := rnd.IntN(len(serves))
					serves[i].kill()
					res.serveKills++
					sleep(runCtx, 3*time.Second)
					startServe(i) //nolint:errcheck // the counts show what the other serve could not take
				case <-failoverAt:
					masterProc.kill()
					res.redisKills++
				}
			}
		}()
	}

	// Done when every patient has an outcome, or nothing moved for long.
	last, lastChange := -1, time.Now()
	err = poll(ctx, p.SoakLimit, time.Second, func() (bool, error) {
		n, err := e.count(ctx, `SELECT count(*) FROM campaign_patients WHERE state = 'done'`)
		if err != nil {
			return false, nil
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		return n >= len(patients) || time.Since(lastChange) > 90*time.Second, nil
	})
	res.seconds = int(time.Since(start).Seconds())
	if err != nil && ctx.Err() != nil {
		return nil, err
	}
	stopRun()
	wg.Wait()
	idle, cancel := context.WithTimeout(ctx, 10*time.Second)
	e.sb.WaitIdle(idle) //nolint:errcheck // bounded; the counts show what is missing
	cancel()

	res.replies, res.replies2xx, res.retried, res.lost = int(sent.Load()), int(ok2xx.Load()), int(retried.Load()), int(lost.Load())
	texts := e.texts()
	for _, pt := range patients {
		intros := 0
		for _, m := range texts[pt.E164] {
			if isIntro(m.Body) {
				intros++
			}
		}
		switch {
		case intros == 0:
			res.never++
		case intros == 1:
			res.introOnce++
		default:
			res.introTwice++
		}
	}
	if res.storedRows, err = e.count(ctx, `SELECT count(*) FROM messages WHERE direction = 'in'`); err != nil {
		return nil, err
	}
	if res.storedSIDs, err = e.count(ctx, `SELECT count(DISTINCT provider_sid) FROM messages WHERE direction = 'in'`); err != nil {
		return nil, err
	}
	if res.done, err = e.count(ctx, `SELECT count(*) FROM campaign_patients WHERE state = 'done'`); err != nil {
		return nil, err
	}
	if res.unsettled, err = e.unsettled(ctx); err != nil {
		return nil, err
	}
	if err := e.db.QueryRow(ctx, `SELECT coalesce(extract(epoch FROM max(sent_at) - min(sent_at)), 0)
		FROM attempts WHERE step = 1 AND sent_at IS NOT NULL`).Scan(&res.introSeconds); err != nil {
		return nil, err
	}
	res.outcomes, err = e.outcomes(ctx)
	return res, err
}

// startRedis starts a redis-server of the run's own with extra arguments.
func (e *env) startRedis(ctx context.Context, name string, args ...string) (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	_, port, _ := strings.Cut(addr, ":")
	all := append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", e.dir}, args...)
	pr, err := e.procs.start(name, nil, "redis-server", all...)
	if err != nil {
		return "", err
	}
	return addr, waitTCP(ctx, addr, pr, 10*time.Second)
}

// startSentinel starts sentinel n watching master (a quorum of 2 of 3).
func (e *env) startSentinel(ctx context.Context, n int, master string) (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	_, port, _ := strings.Cut(addr, ":")
	host, mport, _ := strings.Cut(master, ":")
	conf := filepath.Join(e.dir, fmt.Sprintf("sentinel%d.conf", n))
	body := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster %s %s 2\n"+
		"sentinel down-after-milliseconds mymaster 2000\nsentinel failover-timeout mymaster 10000\n", port, e.dir, host, mport)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return "", err
	}
	pr, err := e.procs.start(fmt.Sprintf("sentinel%d", n), nil, "redis-server", conf, "--sentinel")
	if err != nil {
		return "", err
	}
	if err := waitTCP(ctx, addr, pr, 10*time.Second); err != nil {
		return "", err
	}
	// Sentinels find each other through the master; wait until this one
	// knows it.
	c := redis.NewSentinelClient(&redis.Options{Addr: addr})
	defer c.Close()
	return addr, poll(ctx, 10*time.Second, 100*time.Millisecond, func() (bool, error) {
		_, err := c.GetMasterAddrByName(ctx, "mymaster").Result()
		return err == nil, nil
	})
}

// startPgBouncer starts PgBouncer in transaction pooling mode in front of
// the run's PostgreSQL server and returns its address.
func (e *env) startPgBouncer(ctx context.Context) (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	_, port, _ := strings.Cut(addr, ":")
	target, err := url.Parse(e.dbURL)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "protect-chaos-pgbouncer-")
	if err != nil {
		return "", err
	}
	asUser, _, _, err := dropRoot(dir)
	if err != nil {
		return "", err
	}
	host, pgPort, _ := strings.Cut(target.Host, ":")
	user := target.User.Username()
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %s
unix_socket_dir =
auth_type = trust
auth_file = %s/users.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
`, host, pgPort, port, dir)
	if err := os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.txt"), []byte(fmt.Sprintf("%q \"\"\n", user)), 0o644); err != nil {
		return "", err
	}
	args := append(append([]string{}, asUser...), pgbouncerBin, filepath.Join(dir, "pgbouncer.ini"))
	pr, err := e.procs.start("pgbouncer", nil, args[0], args[1:]...)
	if err != nil {
		return "", err
	}
	return addr, waitTCP(ctx, addr, pr, 10*time.Second)
}

// balancer spreads requests over the serve processes in turn, as a load
// balancer does. A serve that refuses the connection (it is dead) is
// skipped for the next; one that fails after taking the request gets the
// client a 502.
type balancer struct {
	client   *http.Client
	mu       sync.Mutex
	backends []string
	next     int
}

func (b *balancer) add(addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, addr)
}

func (b *balancer) backend(i int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i < len(b.backends) {
		return b.backends[i]
	}
	return ""
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	order := append(append([]string{}, b.backends[b.next:]...), b.backends[:b.next]...)
	b.next = (b.next + 1) % len(b.backends)
	b.mu.Unlock()
	for _, addr := range order {
		out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+addr+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		resp, err := b.client.Do(out)
		var op *net.OpError
		if err != nil && errors.As(err, &op) && op.Op == "dial" {
			continue // nothing listens there: the request never reached it
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(answer) //nolint:errcheck
		return
	}
	http.Error(w, "no serve process is up", http.StatusBadGateway)
}
