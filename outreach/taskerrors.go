package outreach

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/protectnow/protect/redact"
)

var taskErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "protect_task_errors_total", Help: "Queue task handlers that returned an error, by task type."}, []string{"type"})

func init() { prometheus.MustRegister(taskErrors) }

// taskIDKeys are the payload fields logged with a task error: IDs only,
// never a phone number or a name.
var taskIDKeys = []string{"attempt", "escalation", "tier", "campaign", "patient"}

// TaskErrorHandler logs every error a queue task handler returns, with the
// task's type, queue ID, retry count and the IDs in its payload (set it as
// the asynq server's ErrorHandler). A task the queue will retry is logged
// as a warning; one it will not (asynq.SkipRetry, asynq.RevokeTask, or its
// last retry) as an error that says so. The error's text is scrubbed of
// number-like runs.
func TaskErrorHandler(logger *slog.Logger) asynq.ErrorHandler {
	return asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
		taskErrors.WithLabelValues(t.Type()).Inc()
		attrs := taskAttrs(ctx, t, err)
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		switch {
		case errors.Is(err, asynq.RevokeTask):
			logger.Error("queue task failed; revoked, will not retry", attrs...)
		case errors.Is(err, asynq.SkipRetry):
			logger.Error("queue task failed; will not retry", attrs...)
		case retried >= maxRetry:
			logger.Error("queue task failed; no retries left", attrs...)
		default:
			logger.Warn("queue task failed; will retry", attrs...)
		}
	})
}

// taskAttrs are the log attributes of a failed task: its type, queue ID,
// retry count and payload IDs, and the scrubbed error.
func taskAttrs(ctx context.Context, t *asynq.Task, err error) []any {
	attrs := []any{"task", t.Type(), "error", redact.Scrub(err.Error())}
	if id, ok := asynq.GetTaskID(ctx); ok {
		attrs = append(attrs, "task_id", id)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	attrs = append(attrs, "retried", retried, "max_retry", maxRetry)
	var payload map[string]json.RawMessage
	if json.Unmarshal(t.Payload(), &payload) == nil {
		for _, k := range taskIDKeys {
			if v, ok := payload[k]; ok {
				var n int64
				if json.Unmarshal(v, &n) == nil {
					attrs = append(attrs, k, n)
				}
			}
		}
	}
	return attrs
}
