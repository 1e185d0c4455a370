// Command reportbench measures the campaign pages and reports of a large
// campaign (issue 14): a fresh database holding a -patients cohort and a
// running campaign over it with about -attempts attempts, answers, needs
// and escalations spread over -days days, loaded with set-based SQL. It
// then measures
//
//   - the cost of one full report computation (store.ComputeCampaignReport)
//     at that size, -computes times;
//   - the store queries behind the campaign list, the metrics gauges and
//     the refresh loop (CampaignSummaries, CampaignFunnels, Cohorts, …);
//   - through the real HTTP handlers (server.New with the console and the
//     API), -requests requests each of the campaign list, the campaign
//     page, the report JSON API and the two report CSVs, from -concurrency
//     clients, as p50/p95/p99/max: first with a fresh stored report, then
//     with the stored report an hour old and the workers' refresh loop
//     running, as when a compute takes longer than the refresh interval.
//
// The database is dropped at the end unless -keep; -reuse measures a kept
// one again without loading it.
//
//	go run ./bench/reportbench -patients 1000000 -attempts 10000000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/protectnow/protect/api"
	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/bench/internal/benchdb"
	loadgen "github.com/protectnow/protect/bench/internal/load"
	"github.com/protectnow/protect/console"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
)

const dbName = "protect_bench_report"

func main() {
	s := shape{}
	flag.IntVar(&s.Patients, "patients", 1_000_000, "patients in the cohort and campaign")
	flag.IntVar(&s.Attempts, "attempts", 10_000_000, "attempts, about")
	flag.IntVar(&s.Days, "days", 28, "days the campaign has been running")
	requests := flag.Int("requests", 200, "requests per page and phase")
	concurrency := flag.Int("concurrency", 1, "clients requesting at once")
	computes := flag.Int("computes", 3, "full report computations to time")
	keep := flag.Bool("keep", false, "keep the database at the end")
	reuse := flag.Bool("reuse", false, "use the database a -keep run left instead of loading a new one")
	flag.Parse()
	if err := run(context.Background(), s, *requests, *concurrency, *computes, *keep, *reuse); err != nil {
		fmt.Fprintln(os.Stderr, "reportbench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func run(ctx context.Context, s shape, requests, concurrency, computes int, keep, reuse bool) error {
	u := benchdb.AdminURL()
	var err error
	if !reuse {
		if u, err = benchdb.Fresh(ctx, dbName); err != nil {
			return err
		}
	} else {
		u = strings.Replace(u, "/postgres?", "/"+dbName+"?", 1)
	}
	if !keep {
		defer benchdb.Drop(ctx, dbName)
	}
	// A small pool, as a gateway process has: the pages, the refresh loop
	// and the audit log share it.
	st, err := store.OpenWith(ctx, u, store.PoolOptions{MaxConns: 8})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng := outreach.New(outreach.Options{Store: st, Logger: logger, PublicURL: "http://127.0.0.1"})
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return err
	}
	var id int64
	if reuse {
		if err := st.Pool().QueryRow(ctx, `SELECT id FROM campaigns WHERE name = 'bench'`).Scan(&id); err != nil {
			return fmt.Errorf("no kept database to reuse: %w", err)
		}
	} else {
		logf("load: %d patients, about %d attempts over %d days", s.Patients, s.Attempts, s.Days)
		t := time.Now()
		if id, err = load(ctx, st, eng, s, logf); err != nil {
			return err
		}
		logf("  %-18s %6.1f s", "load in all", time.Since(t).Seconds())
	}
	if err := describe(ctx, st, id); err != nil {
		return err
	}

	logf("\nfull report computation (store.ComputeCampaignReport), %d runs:", computes)
	var last store.CampaignReport
	for i := range computes {
		t := time.Now()
		r, err := st.ComputeCampaignReport(ctx, id, time.Now(), loc)
		if err != nil {
			return err
		}
		last = r
		logf("  run %d: %.2f s", i+1, time.Since(t).Seconds())
	}
	if err := st.SaveCampaignReport(ctx, last); err != nil {
		return err
	}
	logf("  funnel: %+v; %d hours, %d days, %d practices", last.Funnel, len(last.Hours), len(last.Days), len(last.ByPractice))
	// Two refreshers at once, as two worker processes: one computes, the
	// other finds the refresh claimed.
	if err := ageReport(ctx, st, id); err != nil {
		return err
	}
	var mu sync.Mutex
	var computed []int
	var rwg sync.WaitGroup
	for range 2 {
		rwg.Go(func() {
			r, ok, err := st.RefreshStaleCampaignReport(ctx, id, time.Now(), outreach.ReportRefreshEvery, loc)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				logf("  refresher: %v", err)
			}
			if ok {
				computed = append(computed, r.TookMillis)
			}
		})
	}
	rwg.Wait()
	logf("  two refreshers of the stale report at once: %d computed it (took_ms %v)", len(computed), computed)
	if err := queryCosts(ctx, st, id, loc); err != nil {
		return err
	}

	// The gateway's HTTP surface: console and API, as cmd/protect builds
	// them.
	routing, err := escalation.LoadRoutingFile("")
	if err != nil {
		return err
	}
	svc := escalation.New(escalation.Options{Store: st, Routing: routing, Logger: logger})
	con, err := console.New(console.Options{Service: svc, Store: st, Logger: logger, Engine: eng, Location: loc})
	if err != nil {
		return err
	}
	rt := &app.Runtime{Store: st, Logger: logger}
	srv := httptest.NewServer(server.New(rt, &api.Routes{Engine: eng, Store: st, Logger: logger, Escalations: svc, Location: loc}, con))
	defer srv.Close()
	secret, token, err := credentials(ctx, st)
	if err != nil {
		return err
	}
	pages := []page{
		{"campaign list", "/console/campaigns", "cookie", "Campaigns"},
		{"campaign page", fmt.Sprintf("/console/campaigns/%d", id), "cookie", "bench"},
		{"report JSON API", fmt.Sprintf("/api/v1/campaigns/%d/report", id), "bearer", `"funnel"`},
		{"report CSV", fmt.Sprintf("/console/campaigns/%d/report.csv", id), "cookie", "practice"},
		{"daily CSV", fmt.Sprintf("/console/campaigns/%d/daily.csv", id), "cookie", ","},
		{"campaign API", fmt.Sprintf("/api/v1/campaigns/%d", id), "bearer", `"status"`},
	}
	cl := client{base: srv.URL, cookie: secret, token: token}

	logf("\npages with a fresh stored report, %d requests each, %d at once:", requests, concurrency)
	if err := measure(cl, pages, requests, concurrency, 0); err != nil {
		return err
	}

	// A draft campaign over the same cohort: its page forecasts it, from
	// the cohort and the earlier campaigns, on every view.
	var draft int64
	if err := st.Pool().QueryRow(ctx, `SELECT id FROM campaigns WHERE name = 'next'`).Scan(&draft); err != nil {
		return err
	}
	logf("\ndraft campaign page (a forecast per view), %d requests, %d at once:", min(requests, 10), concurrency)
	if err := measure(cl, []page{{"draft page", fmt.Sprintf("/console/campaigns/%d", draft), "cookie", "next"}},
		min(requests, 10), concurrency, 60*time.Second); err != nil {
		return err
	}

	// The stored report an hour old, as it is when a compute takes longer
	// than the pages' bound, with the refresh loop running as in every
	// worker process.
	if err := ageReport(ctx, st, id); err != nil {
		return err
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { eng.RefreshReports(rctx, outreach.ReportRefreshEvery, loc) })
	phase := time.Now()
	logf("\npages with the stored report an hour old and the refresh loop running, %d requests each (at most 60 s a page), %d at once:", requests, concurrency)
	err = measure(cl, pages, requests, concurrency, 60*time.Second)
	// Let the loop finish the refresh it started, for its cost under load.
	for wait := time.Now(); err == nil && time.Since(wait) < 3*time.Minute; time.Sleep(time.Second) {
		if r, rerr := st.CampaignReport(ctx, id); rerr == nil && r.ComputedAt.After(phase.Add(-time.Second)) {
			break
		}
	}
	stop()
	wg.Wait()
	if err != nil {
		return err
	}
	if r, err := st.CampaignReport(ctx, id); err == nil {
		logf("  pages measured in %s; the loop's refresh: computed %s after the phase began, took %d ms",
			time.Since(phase).Round(time.Second), r.ComputedAt.Sub(phase).Round(time.Second), r.TookMillis)
	}
	if keep {
		logf("\ndatabase %s kept (-reuse measures it again)", dbName)
	}
	return nil
}

// ageReport makes the stored report an hour older, as if the workers had
// not refreshed it for an hour.
func ageReport(ctx context.Context, st *store.Store, id int64) error {
	_, err := st.Pool().Exec(ctx, `UPDATE campaign_reports SET computed_at = computed_at - interval '1 hour',
			report = jsonb_set(report, '{computed_at}', to_jsonb(computed_at - interval '1 hour')) WHERE campaign_id = $1`, id)
	return err
}

// describe prints the data's shape.
func describe(ctx context.Context, st *store.Store, id int64) error {
	var patients, attempts, answers, needs, escalations int
	var size string
	err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM campaign_patients WHERE campaign_id = $1),
			(SELECT count(*) FROM attempts WHERE campaign_id = $1), (SELECT count(*) FROM answers WHERE campaign_id = $1),
			(SELECT count(*) FROM needs WHERE campaign_id = $1), (SELECT count(*) FROM escalations WHERE campaign_id = $1),
			pg_size_pretty(pg_database_size(current_database()))`, id).
		Scan(&patients, &attempts, &answers, &needs, &escalations, &size)
	if err != nil {
		return err
	}
	logf("data: campaign %d: %d patients, %d attempts, %d answers, %d needs, %d escalations; database %s",
		id, patients, attempts, answers, needs, escalations, size)
	return nil
}

// queryCosts times the store queries the list, the gauges and the
// refresh loop run, 20 times each or for 10 s, whichever ends first.
func queryCosts(ctx context.Context, st *store.Store, id int64, loc *time.Location) error {
	logf("\nstore queries, up to 20 runs or 10 s each (p50 / max):")
	for _, q := range []struct {
		name string
		fn   func() error
	}{
		{"CampaignSummaries (list)", func() error { _, err := st.CampaignSummaries(ctx); return err }},
		{"CampaignFunnels (gauges)", func() error { _, err := st.CampaignFunnels(ctx); return err }},
		{"Cohorts (new campaign form)", func() error { _, err := st.Cohorts(ctx); return err }},
		{"CampaignReport (stored row)", func() error { _, err := st.CampaignReport(ctx, id); return err }},
		{"StaleReportCampaigns", func() error { _, err := st.StaleReportCampaigns(ctx, time.Now(), time.Minute); return err }},
		{"EscalationLoads (gauges)", func() error { _, err := st.EscalationLoads(ctx, time.Now()); return err }},
		{"PlannedBefore (confirm page)", func() error { _, err := st.PlannedBefore(ctx, id, time.Now().Add(time.Hour)); return err }},
		{"PendingAttempts (cancel page)", func() error { _, err := st.PendingAttempts(ctx, id); return err }},
		{"CampaignStatus (API campaign)", func() error { _, err := st.CampaignStatus(ctx, id); return err }},
	} {
		var lat []time.Duration
		start := time.Now()
		for i := 0; i < 20 && (i == 0 || time.Since(start) < 10*time.Second); i++ {
			t := time.Now()
			if err := q.fn(); err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			lat = append(lat, time.Since(t))
		}
		logf("  %-30s %9v / %v (%d runs)", q.name, loadgen.Pct(lat, 50), loadgen.Pct(lat, 100), len(lat))
	}
	_ = loc
	return nil
}

// credentials makes a programme lead with a console session and an API
// token of the same role.
func credentials(ctx context.Context, st *store.Store) (session, token string, err error) {
	hash := []byte("$2a$04$invalidinvalidinvalidinvalidinvalidinvalidinvalidinvali") // never used to log in
	uid, err := st.CreateUser(ctx, "lead", store.RoleProgrammeLead, hash, nil, "bench")
	if err != nil {
		// A reused database has the lead already.
		if err := st.Pool().QueryRow(ctx, `SELECT id FROM users WHERE name = 'lead'`).Scan(&uid); err != nil {
			return "", "", err
		}
	}
	session = fmt.Sprintf("bench-session-%d", time.Now().UnixNano())
	if err := st.CreateSession(ctx, session, uid, time.Now().Add(2*time.Hour)); err != nil {
		return "", "", err
	}
	token, err = st.CreateAPIToken(ctx, fmt.Sprintf("bench-%d", time.Now().UnixNano()), store.RoleProgrammeLead, "bench")
	return session, token, err
}

type page struct {
	name, path, auth, want string
}

type client struct {
	base, cookie, token string
}

func (c client) get(p page) (time.Duration, error) {
	req, _ := http.NewRequest(http.MethodGet, c.base+p.path, nil)
	if p.auth == "cookie" {
		req.AddCookie(&http.Cookie{Name: "protect_session", Value: c.cookie})
	} else {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	t := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), p.want) {
		return 0, fmt.Errorf("%s: %d %.200s", p.path, resp.StatusCode, b)
	}
	return d, nil
}

// measure requests each page n times from conc clients after 5 warm-up
// requests, stopping a page early after limit (0: no limit), and prints
// its percentiles.
func measure(c client, pages []page, n, conc int, limit time.Duration) error {
	for _, p := range pages {
		for range 5 {
			if _, err := c.get(p); err != nil {
				return err
			}
		}
		var mu sync.Mutex
		var lat []time.Duration
		var firstErr error
		next := make(chan struct{})
		start := time.Now()
		go func() {
			defer close(next)
			for range n {
				if limit > 0 && time.Since(start) > limit {
					return
				}
				next <- struct{}{}
			}
		}()
		var wg sync.WaitGroup
		for range conc {
			wg.Go(func() {
				for range next {
					d, err := c.get(p)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					lat = append(lat, d)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
		if len(lat) == 0 {
			return errors.New("no request finished")
		}
		logf("  %-16s n=%-4d p50 %-9v p95 %-9v p99 %-9v max %v", p.name, len(lat), loadgen.Pct(lat, 50), loadgen.Pct(lat, 95), loadgen.Pct(lat, 99), loadgen.Pct(lat, 100))
	}
	return nil
}
