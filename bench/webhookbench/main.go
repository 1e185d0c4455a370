// Command webhookbench measures the inbound SMS webhook on loopback: signed
// requests from patients answering their questionnaire, each checked,
// parsed, advanced through the questionnaire and written durably to
// PostgreSQL before the TwiML answer goes back.
//
//	go run ./bench/webhookbench -rate 2000 -duration 20s
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/bench/internal/benchdb"
	"github.com/protectnow/protect/bench/internal/inbound"
	"github.com/protectnow/protect/bench/internal/load"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/webhooks"
)

func main() {
	rate := flag.Float64("rate", 2000, "requests per second")
	duration := flag.Duration("duration", 20*time.Second, "how long to send")
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/13", "Redis database to use (flushed)")
	flag.IntVar(&poolSize, "pool", 0, "PostgreSQL connections of the gateway (0: its default)")
	flag.BoolVar(&explain, "explain", false, "print the plan of the conversation lookup")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run")
	flag.Parse()
	if err := run(*rate, *duration, *redisURL); err != nil {
		fmt.Fprintln(os.Stderr, "webhookbench:", err)
		os.Exit(1)
	}
}

var (
	poolSize   int
	explain    bool
	cpuProfile string
)

// answers walk the wellbeing check: OK, no food help, no medicines help,
// not unwell, no call back.
var answers = []string{"1", "2", "2", "2", "2"}

func run(rate float64, d time.Duration, redisURL string) error {
	ctx := context.Background()
	requests := int(rate * d.Seconds())
	patients := requests/len(answers) + 1
	env, err := benchdb.Setup(ctx, "protect_bench_webhook", patients*16/10, 11)
	if err != nil {
		return err
	}
	defer env.Close()
	st, quiet := env.Store, benchdb.Quiet
	if poolSize > 0 {
		// A pool of its own size for the gateway under test.
		env.Store.Close()
		u := strings.Replace(env.URL, "?", fmt.Sprintf("?pool_max_conns=%d&", poolSize), 1)
		if st, err = store.Open(ctx, u); err != nil {
			return err
		}
		defer st.Close()
	}
	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	rdb.FlushDB(ctx) //nolint:errcheck

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	public := "http://" + ln.Addr().String()
	eng := outreach.New(outreach.Options{Store: st, PublicURL: public, Logger: quiet})
	c, err := eng.CreateCampaign(ctx, outreach.CampaignSpec{Name: "bench", Cohort: "bench", Sender: "+447700900999", Pace: 100,
		Window: benchdb.AlwaysOpen, CreatedBy: "bench"})
	if err != nil {
		return err
	}
	if _, err := eng.Start(ctx, c.ID, "bench"); err != nil {
		return err
	}
	// Fixture: every patient has had the first text and is waiting to
	// answer (as after the send pipeline ran; that pipeline is measured by
	// pacebench). Plain SQL here is bench set-up, not application code.
	if _, err := st.Pool().Exec(ctx, `UPDATE campaign_patients cp SET state = 'contacting', channel = 'sms',
			contact_number = a.to_number, last_activity = now(), wait_until = now() + interval '1 day',
			conversation = '{"question_id":"ok"}'
		FROM attempts a WHERE a.campaign_id = cp.campaign_id AND a.patient_id = cp.patient_id AND cp.state = 'pending'`); err != nil {
		return err
	}
	// The first text of each, as the sender records it, and the
	// statistics autovacuum would have gathered by the time replies come:
	// the tables a reply touches are not empty in real life.
	if _, err := st.Pool().Exec(ctx, `UPDATE attempts SET state = 'sent', provider_sid = 'SMout' || id, sent_at = now() WHERE state = 'planned'`); err != nil {
		return err
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO messages (direction, provider_sid, patient_id, campaign_id, from_number, to_number, body, kind)
		SELECT 'out', provider_sid, patient_id, campaign_id, '+447700900999', to_number, 'Hello, this is your GP practice...', 'attempt'
		FROM attempts WHERE state = 'sent'`); err != nil {
		return err
	}
	// Empty tables stay unanalysed, as autovacuum leaves them (see
	// escalationbench).
	if _, err := st.Pool().Exec(ctx, `ANALYZE patients, cohort_members, campaigns, campaign_patients, attempts, messages`); err != nil {
		return err
	}
	var numbers []string
	rows, err := st.Pool().Query(ctx, `SELECT contact_number FROM campaign_patients WHERE state = 'contacting' ORDER BY patient_id LIMIT $1`, patients)
	if err != nil {
		return err
	}
	for rows.Next() {
		var n string
		rows.Scan(&n) //nolint:errcheck
		numbers = append(numbers, n)
	}
	rows.Close()
	if len(numbers) < patients {
		return fmt.Errorf("only %d patients with an SMS number, need %d", len(numbers), patients)
	}

	if explain {
		rows, _ := st.Pool().Query(ctx, `EXPLAIN ANALYZE SELECT cp.patient_id FROM campaign_patients cp
			JOIN campaigns c ON c.id = cp.campaign_id JOIN patients p ON p.id = cp.patient_id
			LEFT JOIN practices pr ON pr.code = p.gp_practice_code
			WHERE cp.contact_number = $1 AND cp.state IN ('contacting', 'conversing') AND cp.channel = 'sms'
			ORDER BY cp.last_activity DESC LIMIT 1 FOR UPDATE OF cp`, numbers[0])
		for rows.Next() {
			var line string
			rows.Scan(&line) //nolint:errcheck
			fmt.Println(line)
		}
		rows.Close()
	}
	if cpuProfile != "" {
		pf, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(pf) //nolint:errcheck
		defer pprof.StopCPUProfile()
	}
	rt := &app.Runtime{Store: st, Redis: rdb, Logger: quiet}
	h := server.New(rt, &webhooks.Handler{Engine: eng, AccountSID: config.SandboxAccountSID, AuthToken: config.SandboxAuthToken,
		PublicURL: public, Logger: quiet})
	srv := &http.Server{Handler: h}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()

	target := public + "/webhooks/twilio/sms"
	// Patient i%patients answers question i/patients: each request advances
	// a conversation by one question, as real traffic does.
	next := func(i int) *http.Request {
		p, q := i%patients, i/patients
		return inbound.SMS{Serial: i, AccountSID: config.SandboxAccountSID, From: numbers[p], To: "+447700900999",
			Body: answers[q%len(answers)]}.Request(target, config.SandboxAuthToken)
	}
	fmt.Printf("inbound webhook: %d patients, %.0f req/s for %s\n", patients, rate, d)
	res := load.Run(load.Client(), rate, d, 512, next)
	fmt.Println(res)
	var answered, stored int
	st.Pool().QueryRow(ctx, `SELECT count(*) FROM answers`).Scan(&answered)                       //nolint:errcheck
	st.Pool().QueryRow(ctx, `SELECT count(*) FROM messages WHERE direction = 'in'`).Scan(&stored) //nolint:errcheck
	fmt.Printf("stored: %d inbound messages, %d answers\n", stored, answered)
	return nil
}
