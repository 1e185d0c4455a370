// Command planbench measures planning a campaign over a large cohort:
// turning every patient into a first attempt spread across the calling
// window, and the Redis memory the running campaign then takes.
//
//	go run ./bench/planbench -patients 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/protectnow/protect/bench/internal/benchdb"
	"github.com/protectnow/protect/outreach"
)

func main() {
	patients := flag.Int("patients", 1_000_000, "cohort size")
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/13", "Redis database to use (flushed)")
	pace := flag.Float64("pace", 500, "campaign pace, messages per second")
	flag.Parse()
	if err := run(*patients, *redisURL, *pace); err != nil {
		fmt.Fprintln(os.Stderr, "planbench:", err)
		os.Exit(1)
	}
}

func usedMemory(ctx context.Context, rdb *redis.Client) int64 {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

func run(n int, redisURL string, pace float64) error {
	ctx := context.Background()
	t0 := time.Now()
	env, err := benchdb.Setup(ctx, "protect_bench_plan", n, 7)
	if err != nil {
		return err
	}
	defer env.Close()
	st, sum := env.Store, env.Import
	fmt.Printf("cohort: %d rows generated and imported in %.1f s (%d with a contact route)\n", sum.RowsRead, time.Since(t0).Seconds(), sum.Accepted)

	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return err
	}
	queue := asynq.NewClientFromRedisClient(rdb)
	defer queue.Close()
	eng := outreach.New(outreach.Options{Store: st, Queue: queue, PublicURL: "http://127.0.0.1:8080",
		Logger: benchdb.Quiet})
	c, err := eng.CreateCampaign(ctx, outreach.CampaignSpec{Name: "bench", Cohort: "bench", Sender: "+447700900999", Pace: pace,
		Window:    []byte(`{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"00:00","end":"24:00","timezone":"Europe/London"}`),
		CreatedBy: "bench"})
	if err != nil {
		return err
	}
	before := usedMemory(ctx, rdb)
	t1 := time.Now()
	planned, err := eng.Start(ctx, c.ID, "bench")
	if err != nil {
		return err
	}
	planTime := time.Since(t1)
	fmt.Printf("plan: %d patients in %.1f s (%.0f patients/s)\n", planned, planTime.Seconds(), float64(planned)/planTime.Seconds())

	// Run the dispatcher for a few seconds with no workers: the queue fills
	// to its backlog and stops there, whatever the campaign's size.
	var peak int64
	for i := 0; i < 20; i++ {
		if err := eng.Dispatch(ctx); err != nil {
			return err
		}
		if m := usedMemory(ctx, rdb); m > peak {
			peak = m
		}
		time.Sleep(250 * time.Millisecond)
	}
	queued, _ := st.QueuedCount(ctx, c.ID)
	fmt.Printf("redis: %.1f MB before start, peak %.1f MB while dispatching (%d attempts queued, pace %g/s)\n",
		float64(before)/1e6, float64(peak)/1e6, queued, pace)
	counts, err := st.CampaignStatus(ctx, c.ID)
	if err != nil {
		return err
	}
	fmt.Printf("outcomes at start: %v\n", counts.Outcomes)
	return nil
}
