// Command pacebench measures how closely the send pipeline keeps a
// campaign's pace: the dispatcher, Asynq workers, the Redis rate limiter and
// twilio-go sending to the sandbox, for paces from 10 to 500 messages/s.
//
//	go run ./bench/pacebench
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/protectnow/protect/bench/internal/benchdb"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/ratelimit"
	"github.com/protectnow/protect/sandbox"
	"github.com/protectnow/protect/twilioapi"
)

func main() {
	paces := flag.String("paces", "10,50,100,250,500", "paces to measure, messages per second")
	seconds := flag.Float64("seconds", 10, "seconds of sending at each pace")
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/13", "Redis database to use (flushed)")
	concurrency := flag.Int("concurrency", 64, "worker goroutines")
	flag.Parse()
	for _, p := range strings.Split(*paces, ",") {
		pace, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pacebench: bad pace", p)
			os.Exit(2)
		}
		if err := run(pace, *seconds, *redisURL, *concurrency); err != nil {
			fmt.Fprintln(os.Stderr, "pacebench:", err)
			os.Exit(1)
		}
	}
}

func run(pace, seconds float64, redisURL string, concurrency int) error {
	ctx := context.Background()
	n := int(pace * seconds)
	quiet := benchdb.Quiet
	env, err := benchdb.Setup(ctx, "protect_bench_pace", n*13/10+50, 5)
	if err != nil {
		return err
	}
	defer env.Close()
	st := env.Store
	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	rdb.FlushDB(ctx) //nolint:errcheck

	sb, err := sandbox.New(sandbox.Config{AccountSID: config.SandboxAccountSID, AuthToken: config.SandboxAuthToken,
		CallbackDelay: time.Hour, Logger: quiet}) // no status callbacks: only sending is measured
	if err != nil {
		return err
	}
	defer sb.Close()
	api := httptest.NewServer(sb)
	defer api.Close()
	queue := asynq.NewClientFromRedisClient(rdb)
	defer queue.Close()
	eng := outreach.New(outreach.Options{Store: st, Twilio: twilioapi.New(config.SandboxAccountSID, config.SandboxAuthToken, api.URL),
		Queue: queue, Limiter: ratelimit.NewLimiter(rdb, "bench:rate:"), PublicURL: "http://127.0.0.1:1", Logger: quiet})
	c, err := eng.CreateCampaign(ctx, outreach.CampaignSpec{Name: "pace", Cohort: "bench", Sender: "+447700900999", Pace: pace,
		Window: benchdb.AlwaysOpen, CreatedBy: "bench"})
	if err != nil {
		return err
	}
	// Plan only n patients: the rest of the cohort stays out of it.
	if _, err := st.Pool().Exec(ctx, `DELETE FROM cohort_members WHERE patient_id NOT IN (
		SELECT id FROM patients WHERE mobile_kind = 'mobile' ORDER BY id LIMIT $1)`, n); err != nil {
		return err
	}
	workers := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: concurrency, TaskCheckInterval: 10 * time.Millisecond,
		Queues: map[string]int{outreach.QueueSMS: 1}, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(outreach.TaskSend, eng.HandleSend)
	if err := workers.Start(mux); err != nil {
		return err
	}
	defer workers.Shutdown()
	loopCtx, stop := context.WithCancel(ctx)
	defer stop()
	go eng.Run(loopCtx)
	if _, err := eng.Start(ctx, c.ID, "bench"); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(seconds*3+30) * time.Second)
	for len(sb.Messages()) < n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	msgs := sb.Messages()
	if len(msgs) < n {
		return fmt.Errorf("pace %g: only %d of %d sent in time", pace, len(msgs), n)
	}
	times := make([]time.Time, len(msgs))
	for i, m := range msgs {
		times[i] = m.Created
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	whole := float64(len(times)-1) / times[len(times)-1].Sub(times[0]).Seconds()
	// Steady state: after the first second's burst.
	skip := int(pace)
	steady := float64(len(times)-1-skip) / times[len(times)-1].Sub(times[skip]).Seconds()
	dup := duplicates(msgs)
	fmt.Printf("pace %6.0f/s: %5d messages, measured %7.2f/s overall (%+.2f%%), %7.2f/s steady (%+.2f%%), %d duplicates\n",
		pace, len(msgs), whole, 100*(whole-pace)/pace, steady, 100*(steady-pace)/pace, dup)
	if math.Abs(steady-pace)/pace > 0.02 {
		fmt.Printf("  WARNING: steady rate off by more than 2%%\n")
	}
	return nil
}

func duplicates(msgs []sandbox.Message) int {
	seen := map[string]bool{}
	d := 0
	for _, m := range msgs {
		if seen[m.To] {
			d++
		}
		seen[m.To] = true
	}
	return d
}
