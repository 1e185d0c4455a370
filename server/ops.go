package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one component a process needs to do its work: PostgreSQL,
// Redis, the queue server.
type Check struct {
	Name string
	Ping func(context.Context) error
}

// readyTimeout bounds a readiness probe: a component that takes longer is
// as good as down.
const readyTimeout = 2 * time.Second

// checkAll runs the checks at once and returns each component's state,
// "ok" or "unavailable", and whether all are ok. Details go to the log
// only: a probe's answer must not name hosts, users or databases.
func checkAll(ctx context.Context, checks []Check, logger *slog.Logger) (map[string]string, bool) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	states := make(map[string]string, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := true
	for _, c := range checks {
		wg.Go(func() {
			err := c.Ping(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				states[c.Name], ok = "unavailable", false
				logger.Warn("readiness: component unavailable", "component", c.Name, "error", err)
				return
			}
			states[c.Name] = "ok"
		})
	}
	wg.Wait()
	return states, ok
}

// Ops is the small HTTP surface of a process that serves no public
// routes (a worker), for its orchestrator and Prometheus: /healthz (the
// process is alive), /readyz (every check passes) and /metrics.
func Ops(checks []Check, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`)) //nolint:errcheck
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		states, ok := checkAll(r.Context(), checks, logger)
		writeStates(w, states, ok)
	})
	mux.Handle("GET /metrics", promhttp.Handler())
	return mux
}

// MetricsOnly serves /metrics alone, for PROTECT_METRICS_ADDR.
func MetricsOnly() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	return mux
}

func writeStates(w http.ResponseWriter, states map[string]string, ok bool) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(states) //nolint:errcheck
}
