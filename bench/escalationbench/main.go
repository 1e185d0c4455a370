// Command escalationbench measures the escalation path, in one process on
// a fresh database, with the Twilio sandbox standing in for Twilio:
//
//   - alert: signed SMS webhooks carrying an urgent answer arrive at -rate
//     per second for -duration; for each, the time from the webhook being
//     sent to the team's alert SMS leaving Protect (the Twilio API call for
//     it returning), as p50/p90/p99/max.
//
//   - inbox: the console inbox page with -open open escalations among
//     -patients patients, for an admin (every team) and for a handler of
//     one team, as p50/p99 over -requests requests; then the inbox
//     searched by NHS number, by a phone number typed with a space, and by
//     part of a name, and the live poll the page makes every 10 seconds.
//
//     go run ./bench/escalationbench -mode alert -rate 500 -duration 20s
//     go run ./bench/escalationbench -mode inbox -open 10000 -patients 1000000
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/bench/internal/benchdb"
	"github.com/protectnow/protect/bench/internal/load"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/console"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/sandbox"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
	"github.com/protectnow/protect/webhooks"
)

const dbName = "protect_bench_escalation"

func main() {
	mode := flag.String("mode", "all", "alert, inbox or all")
	rate := flag.Int("rate", 500, "urgent replies per second (alert)")
	duration := flag.Duration("duration", 20*time.Second, "how long replies arrive (alert)")
	open := flag.Int("open", 10_000, "open escalations (inbox)")
	requests := flag.Int("requests", 200, "inbox page requests per user (inbox)")
	pollers := flag.Int("pollers", 0, "handlers whose open inbox polls /console/inbox/live every 10 s while the inbox is measured (inbox)")
	patients := flag.Int("patients", 0, "patients in all, at least -open (inbox)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run")
	flag.Parse()
	ctx := context.Background()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "escalationbench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f) //nolint:errcheck
		defer pprof.StopCPUProfile()
	}
	var err error
	if *mode == "alert" || *mode == "all" {
		err = benchAlert(ctx, *rate, *duration)
	}
	if err == nil && (*mode == "inbox" || *mode == "all") {
		err = benchInbox(ctx, *open, max(*patients, *open), *requests, *pollers)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "escalationbench:", err)
		os.Exit(1)
	}
}

// freshStore makes a migrated database of its own.
func freshStore(ctx context.Context) (*store.Store, func(), error) {
	u, err := benchdb.Fresh(ctx, dbName)
	if err != nil {
		return nil, nil, err
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	st, err := store.Open(ctx, u+sep+"pool_max_conns=24")
	if err != nil {
		return nil, nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, func() { st.Close(); benchdb.Drop(ctx, dbName) }, nil
}

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func benchAlert(ctx context.Context, rate int, duration time.Duration) error {
	st, done, err := freshStore(ctx)
	if err != nil {
		return err
	}
	defer done()
	logger := quiet()
	n := int(float64(rate) * duration.Seconds())
	fmt.Printf("alert: %d urgent replies at %d/s over %v\n", n, rate, duration)

	sb, err := sandbox.New(sandbox.Config{AccountSID: config.SandboxAccountSID, AuthToken: config.SandboxAuthToken, Logger: logger, Workers: 32})
	if err != nil {
		return err
	}
	defer sb.Close()
	twSrv := httptest.NewServer(sb)
	defer twSrv.Close()
	tw := twilioapi.New(config.SandboxAccountSID, config.SandboxAuthToken, twSrv.URL)

	var handler http.Handler = http.NotFoundHandler()
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer gw.Close()
	routing, err := escalation.LoadRoutingFile("")
	if err != nil {
		return err
	}
	svc := escalation.New(escalation.Options{Store: st, Routing: routing, Twilio: tw, Logger: logger})
	engine := outreach.New(outreach.Options{Store: st, Twilio: tw, PublicURL: gw.URL, Logger: logger, NeedsRecorded: svc.NeedsRecorded})
	handler = server.New(&app.Runtime{Store: st, Logger: logger}, &webhooks.Handler{Engine: engine,
		AccountSID: config.SandboxAccountSID, AuthToken: config.SandboxAuthToken, PublicURL: gw.URL, Logger: logger})
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(rctx) })
	defer func() { stop(); wg.Wait() }()

	numbers, err := seedConversations(ctx, engine, st, n)
	if err != nil {
		return err
	}
	const sender = "+447700900999"
	webhookURL := gw.URL + "/webhooks/twilio/sms"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 512}, Timeout: 30 * time.Second}
	sent := make(map[string]time.Time, n)
	var sentMu sync.Mutex
	var failures atomic.Int64
	var webhookTimes []time.Duration
	var whMu sync.Mutex
	jobs := make(chan string, 1024)
	var senders sync.WaitGroup
	for range 256 {
		senders.Go(func() {
			for number := range jobs {
				form := url.Values{"AccountSid": {config.SandboxAccountSID}, "MessageSid": {newSID()}, "From": {number},
					"To": {sender}, "Body": {"1"}}
				req, _ := http.NewRequest(http.MethodPost, webhookURL, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Twilio-Signature", twilioapi.Sign(config.SandboxAuthToken, webhookURL, form))
				start := time.Now()
				sentMu.Lock()
				sent[form.Get("MessageSid")] = start
				sentMu.Unlock()
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
				}
				whMu.Lock()
				webhookTimes = append(webhookTimes, time.Since(start))
				whMu.Unlock()
			}
		})
	}
	interval := time.Second / time.Duration(rate)
	begin := time.Now()
	for i, number := range numbers {
		if d := time.Until(begin.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		jobs <- number
	}
	close(jobs)
	senders.Wait()
	offered := time.Since(begin)
	fmt.Printf("  webhooks sent in %v (%.0f/s), %d failed; webhook response p50 %v p99 %v\n",
		offered.Round(time.Millisecond), float64(n)/offered.Seconds(), failures.Load(), load.Pct(webhookTimes, 50), load.Pct(webhookTimes, 99))

	deadline := time.Now().Add(2 * time.Minute)
	for {
		var left int
		if err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM needs WHERE escalation_id IS NULL) +
			(SELECT count(*) FROM escalation_alerts WHERE channel = 'sms' AND state <> 'sent')`).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d needs or alerts still waiting after 2 minutes", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rows, err := st.Pool().Query(ctx, `SELECT m.provider_sid, a.sent_at, nd.created_at FROM escalation_alerts a
		JOIN needs nd ON nd.escalation_id = a.escalation_id JOIN messages m ON m.id = nd.message_id
		WHERE a.channel = 'sms' AND a.tier = 0`)
	if err != nil {
		return err
	}
	var lat, esc []time.Duration
	for rows.Next() {
		var sid string
		var at, recorded time.Time
		if err := rows.Scan(&sid, &at, &recorded); err != nil {
			return err
		}
		esc = append(esc, at.Sub(recorded))
		if t0, ok := sent[sid]; ok {
			lat = append(lat, at.Sub(t0))
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var sms int
	for _, m := range sb.Messages() {
		if m.To == "+447700900004" {
			sms++
		}
	}
	fmt.Printf("  %d escalations alerted (%d alert SMS after grouping)\n", len(lat), sms)
	fmt.Printf("  webhook -> alert SMS sent: p50 %v  p90 %v  p99 %v  max %v\n", load.Pct(lat, 50), load.Pct(lat, 90), load.Pct(lat, 99), load.Pct(lat, 100))
	fmt.Printf("  need recorded -> alert SMS sent (escalation alone): p50 %v  p90 %v  p99 %v  max %v\n",
		load.Pct(esc, 50), load.Pct(esc, 90), load.Pct(esc, 99), load.Pct(esc, 100))
	if len(lat) != n {
		return fmt.Errorf("%d replies but %d alerted escalations", n, len(lat))
	}
	return nil
}

// seedConversations makes n patients, each in a conversation waiting for
// the answer to "how unwell are you?" (1 = emergency: an urgent need).
func seedConversations(ctx context.Context, engine *outreach.Engine, st *store.Store, n int) ([]string, error) {
	if _, err := st.EnsureCohort(ctx, "bench"); err != nil {
		return nil, err
	}
	c, err := engine.CreateCampaign(ctx, outreach.CampaignSpec{Name: "bench", Cohort: "bench", Sender: "+447700900999", Pace: 100,
		Window:    []byte(`{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"00:00","end":"24:00","timezone":"Europe/London"}`),
		CreatedBy: "bench"})
	if err != nil {
		return nil, err
	}
	_, err = st.Pool().Exec(ctx, `
		INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth, mobile, mobile_kind, locality)
		SELECT '1' || lpad(i::text, 9, '0'), 'Bench', 'Patient', '1940-01-01', '+4474' || lpad(i::text, 8, '0'), 'mobile', 'Norwich'
		FROM generate_series(1, $1) i;
		`, n)
	if err != nil {
		return nil, fmt.Errorf("seed patients: %w", err)
	}
	for _, q := range []string{
		`INSERT INTO cohort_members (cohort_id, patient_id) SELECT (SELECT id FROM cohorts WHERE name = 'bench'), id FROM patients`,
		`INSERT INTO campaign_patients (campaign_id, patient_id, state, channel, contact_number, conversation, wait_until, last_activity)
		SELECT $1, id, 'conversing', 'sms', mobile, '{"question_id":"symptoms"}', now() + interval '1 day', now() FROM patients`,
		`UPDATE campaigns SET state = 'running', planned_at = now() WHERE id = $1`,
		// What each patient has said and been sent before reaching the
		// symptoms question: replies find these tables as they are in real
		// life, not empty.
		`INSERT INTO messages (direction, provider_sid, patient_id, campaign_id, from_number, to_number, body, kind)
		SELECT d, 'SMhist' || d || q || id, id, $1, mobile, '+447700900999', 'history', 'answer'
		FROM patients, unnest(ARRAY['in', 'out']) d, unnest(ARRAY['ok', 'food', 'medicines', 'unwell']) q`,
		`INSERT INTO answers (campaign_id, patient_id, message_id, channel, question, option_key, raw)
		SELECT $1, m.patient_id, m.id, 'sms', substr(m.provider_sid, 9), 'no', 'no' FROM messages m WHERE m.direction = 'in'`,
	} {
		args := []any{c.ID}
		if !strings.Contains(q, "$1") {
			args = nil
		}
		if _, err := st.Pool().Exec(ctx, q, args...); err != nil {
			return nil, fmt.Errorf("seed conversations: %w", err)
		}
	}
	// The statistics autovacuum would have by now, for the tables that
	// have rows. Empty ones stay unanalysed, as autovacuum leaves them: an
	// ANALYZE of an empty table would tell the planner it stays empty, and
	// the foreign-key checks would be planned as scans of it.
	if _, err := st.Pool().Exec(ctx, `ANALYZE patients, cohort_members, campaigns, campaign_patients, messages, answers`); err != nil {
		return nil, err
	}
	rows, err := st.Pool().Query(ctx, `SELECT mobile FROM patients ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func newSID() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck
	return "SM" + hex.EncodeToString(b)
}

func benchInbox(ctx context.Context, open, patients, requests, pollers int) error {
	st, done, err := freshStore(ctx)
	if err != nil {
		return err
	}
	defer done()
	logger := quiet()
	routing, err := escalation.LoadRoutingFile("")
	if err != nil {
		return err
	}
	teams := routing.TeamKeys()
	fmt.Printf("inbox: %d open escalations across %d teams, %d patients\n", open, len(teams), patients)
	// The first -open patients have an escalation; each has a mobile
	// (07911 for them, 07912 for the rest) and a reply to show.
	_, err = st.Pool().Exec(ctx, `INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth, locality, mobile, mobile_kind)
		SELECT '1' || lpad(i::text, 9, '0'), 'Bench', 'Patient ' || i, '1940-01-01', 'Norwich',
			CASE WHEN i <= $2 THEN '+447911' ELSE '+447912' END || lpad((i % 1000000)::text, 6, '0'), 'mobile'
		FROM generate_series(1, $1) i`, patients, open)
	if err != nil {
		return fmt.Errorf("seed patients: %w", err)
	}
	_, err = st.Pool().Exec(ctx, `INSERT INTO messages (direction, patient_id, from_number, to_number, body, kind, created_at)
		SELECT 'in', id, mobile, '+447700900999', 'I am not too bad but I could do with a call', 'unmatched', now() - interval '1 hour'
		FROM patients WHERE id <= $1`, open)
	if err != nil {
		return fmt.Errorf("seed replies: %w", err)
	}
	_, err = st.Pool().Exec(ctx, `INSERT INTO escalations (patient_id, category, priority, team, routed_team, due_at, opened_at, updated_at, need_count)
		SELECT id, (ARRAY['food','social','clinical','call-back','unreachable'])[1 + id % 5],
			(ARRAY['urgent','high','normal','normal','low'])[1 + id % 5],
			($1::text[])[1 + id % array_length($1::text[], 1)], ($1::text[])[1 + id % array_length($1::text[], 1)],
			now() + (id % 48 - 24) * interval '1 hour', now() - (id % 1000) * interval '1 minute', now(), 1
		FROM patients WHERE id <= $2`, teams, open)
	if err != nil {
		return fmt.Errorf("seed escalations: %w", err)
	}
	if _, err := st.Pool().Exec(ctx, `ANALYZE`); err != nil {
		return err
	}
	svc := escalation.New(escalation.Options{Store: st, Routing: routing, Logger: logger})
	con, err := console.New(console.Options{Service: svc, Store: st, Logger: logger})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(server.New(&app.Runtime{Store: st, Logger: logger}, con))
	defer srv.Close()
	hash := []byte("$2a$04$invalidinvalidinvalidinvalidinvalidinvalidinvalidinvali") // never used to log in
	stopPolls, err := startPollers(ctx, st, srv.URL, hash, teams, pollers)
	if err != nil {
		return err
	}
	defer stopPolls()
	users := []struct{ name, role, team string }{{"admin", store.RoleAdmin, ""}, {"handler", store.RoleHandler, teams[0]}}
	for _, u := range users {
		var ts []string
		if u.team != "" {
			ts = []string{u.team}
		}
		id, err := st.CreateUser(ctx, u.name, u.role, hash, ts, "bench")
		if err != nil {
			return err
		}
		secret := "bench-session-" + u.name
		if err := st.CreateSession(ctx, secret, id, time.Now().Add(time.Hour)); err != nil {
			return err
		}
		lat, err := timeGets(srv.URL, secret, requests, func(int) string { return "/console/inbox" }, `id="inbox"`)
		if err != nil {
			return fmt.Errorf("inbox for %s: %w", u.name, err)
		}
		var inTeam int
		if u.team == "" {
			inTeam = open
		} else if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM escalations WHERE team = $1`, u.team).Scan(&inTeam); err != nil {
			return err
		}
		fmt.Printf("  %-8s (%5d open in view, page of 100): p50 %v  p99 %v  max %v\n", u.name, inTeam, load.Pct(lat, 50), load.Pct(lat, 99), load.Pct(lat, 100))
		// Searches, each request a different escalated patient, and the
		// live poll.
		for _, q := range []struct {
			what string
			path func(i int) string
			want string
		}{
			{"search NHS number", func(i int) string { return fmt.Sprintf("/console/inbox?q=1%09d", 1+i*37%open) }, `id="searched"`},
			{"search phone", func(i int) string {
				return fmt.Sprintf("/console/inbox?q=07911+%06d", (1+i*37%open)%1000000)
			}, `id="searched"`},
			{"search name", func(i int) string { return fmt.Sprintf("/console/inbox?q=patient+%d", 1+i*37%open) }, `id="searched"`},
			{"live poll", func(int) string { return "/console/inbox/live" }, `"urgent_unclaimed"`},
		} {
			lat, err := timeGets(srv.URL, secret, requests, q.path, q.want)
			if err != nil {
				return fmt.Errorf("%s for %s: %w", q.what, u.name, err)
			}
			fmt.Printf("  %-8s %-18s: p50 %v  p99 %v  max %v\n", u.name, q.what, load.Pct(lat, 50), load.Pct(lat, 99), load.Pct(lat, 100))
		}
	}
	return nil
}

// startPollers starts n handlers (of the teams in turn), each polling the
// live inbox every 10 seconds as an open inbox page does, their first
// polls spread over the first 10 seconds. The returned function stops them
// and prints their own latencies.
func startPollers(ctx context.Context, st *store.Store, base string, hash []byte, teams []string, n int) (func(), error) {
	if n == 0 {
		return func() {}, nil
	}
	var mu sync.Mutex
	var lat []time.Duration
	var failed int
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range n {
		team := teams[i%len(teams)]
		id, err := st.CreateUser(ctx, fmt.Sprintf("poller%d", i), store.RoleHandler, hash, []string{team}, "bench")
		if err != nil {
			cancel()
			return nil, err
		}
		secret := fmt.Sprintf("bench-poller-%d", i)
		if err := st.CreateSession(ctx, secret, id, time.Now().Add(24*time.Hour)); err != nil {
			cancel()
			return nil, err
		}
		wg.Go(func() {
			next := time.After(time.Duration(i) * 10 * time.Second / time.Duration(n))
			for {
				select {
				case <-pctx.Done():
					return
				case <-next:
				}
				next = time.After(10 * time.Second)
				d, err := timeGet(base, secret, "/console/inbox/live", `"urgent_unclaimed"`)
				mu.Lock()
				if err != nil {
					failed++
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		})
	}
	fmt.Printf("  %d handlers polling the live inbox every 10 s (%.1f polls a second) throughout\n", n, float64(n)/10)
	return func() {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("  pollers' own live polls: %d, p50 %v  p99 %v  max %v, %d failed\n",
			len(lat), load.Pct(lat, 50), load.Pct(lat, 99), load.Pct(lat, 100), failed)
	}, nil
}

// timeGets times requests GETs of path(i) with a session, after 10
// warm-up requests, checking each answer is 200 and holds want.
func timeGets(base, secret string, requests int, path func(i int) string, want string) ([]time.Duration, error) {
	var lat []time.Duration
	for i := range requests + 10 {
		d, err := timeGet(base, secret, path(i), want)
		if err != nil {
			return nil, err
		}
		if i >= 10 { // warm-up
			lat = append(lat, d)
		}
	}
	return lat, nil
}

// timeGet times one GET of path with a session, checking the answer is 200
// and holds want.
func timeGet(base, secret, path, want string) (time.Duration, error) {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.AddCookie(&http.Cookie{Name: "protect_session", Value: secret})
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
		return 0, fmt.Errorf("%s: %d", path, resp.StatusCode)
	}
	return d, nil
}
