package outreach

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

var taskErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "protect_task_errors_total", Help: "Queue task handlers that returned an error, by task type."}, []string{"type"})

func init() { prometheus.MustRegister(taskErrors) }

// taskIDKeys are the payload fields logged with a task error: IDs only,
// never a phone number or a name.
var taskIDKeys = []string{"attempt", "escalation", "tier", "campaign", "patient"}

// TaskErrorHandler logs every error a queue task handler returns, with the
// task's type, queue ID, retry count and the IDs in its payload (set it as
// the asynq server's ErrorHandler). A task that will be retried is logged
// as a warning, one that will not as an error.
func TaskErrorHandler(logger *slog.Logger) asynq.ErrorHandler {
	return asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
		taskErrors.WithLabelValues(t.Type()).Inc()
		attrs := []any{"task", t.Type(), "error", err}
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
		if retried >= maxRetry {
			logger.Error("queue task failed; no retries left", attrs...)
			return
		}
		logger.Warn("queue task failed; will retry", attrs...)
	})
}
