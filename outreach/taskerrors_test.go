package outreach_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/protectnow/protect/internal/logbuf"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/outreach"
)

// The queue's error handler says whether asynq will retry a failed task:
// a plain error with retries left will be, one wrapping asynq.SkipRetry or
// asynq.RevokeTask, or on its last retry, will not. Each line names the
// task type, its ID and the payload's IDs, and no phone number.
func TestTaskErrorHandlerSaysWhetherItRetries(t *testing.T) {
	rdb := testdb.Redis(t)
	const queue = "test-task-errors"
	const number = "+447700900123"
	cases := []struct {
		id       string
		maxRetry int
		err      error
		want     string
		level    string
	}{
		{"retried", 3, fmt.Errorf("temporary send failure to %s", number), "will retry", "WARN"},
		{"skipped", 3, fmt.Errorf("claim lost for %s: %w", number, asynq.SkipRetry), "will not retry", "ERROR"},
		{"revoked", 3, fmt.Errorf("gone: %w", asynq.RevokeTask), "revoked, will not retry", "ERROR"},
		{"last", 0, errors.New("still failing"), "no retries left", "ERROR"},
	}
	var logs logbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	byID := map[string]error{}
	for _, c := range cases {
		byID[c.id] = c.err
	}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 2, Queues: map[string]int{queue: 1},
		TaskCheckInterval: 20 * time.Millisecond, LogLevel: asynq.FatalLevel, ErrorHandler: outreach.TaskErrorHandler(logger),
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour }})
	var mu sync.Mutex
	ran := map[string]bool{}
	if err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		mu.Lock()
		ran[id] = true
		mu.Unlock()
		return byID[strings.TrimPrefix(id, "taskerr:")]
	})); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	client := asynq.NewClientFromRedisClient(rdb)
	defer client.Close()
	for i, c := range cases {
		payload, _ := json.Marshal(map[string]any{"attempt": 1000 + i, "campaign": 7, "to": number})
		if _, err := client.Enqueue(asynq.NewTask(outreach.TaskSend, payload), asynq.Queue(queue),
			asynq.TaskID("taskerr:"+c.id), asynq.MaxRetry(c.maxRetry)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(ran)
		mu.Unlock()
		if n == len(cases) && strings.Count(logs.String(), "\n") >= len(cases) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tasks ran; logs:\n%s", n, len(cases), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := logs.String()
	if strings.Contains(out, "7700900123") {
		t.Errorf("a phone number in the logs:\n%s", out)
	}
	for i, c := range cases {
		var line string
		for l := range strings.SplitSeq(out, "\n") {
			if strings.Contains(l, "task_id=taskerr:"+c.id+" ") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("%s: no log line", c.id)
			continue
		}
		for _, want := range []string{"level=" + c.level, `msg="queue task failed; ` + c.want + `"`, "task=" + outreach.TaskSend,
			fmt.Sprintf("attempt=%d", 1000+i), "campaign=7"} {
			if !strings.Contains(line, want) {
				t.Errorf("%s: %q missing from %s", c.id, want, line)
			}
		}
		if c.want != "will retry" && strings.Contains(line, "; will retry") {
			t.Errorf("%s: says it will retry: %s", c.id, line)
		}
	}
}
