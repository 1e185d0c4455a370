package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
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
				logger.Warn("readiness check failed", "component", c.Name, "error", err)
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

// Listen binds addr now, so that a busy port stops the process before it
// starts any work; name is the variable that sets it, for the message.
func Listen(addr, name string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, errors.New("listen on " + addr + ": " + err.Error() + " (set " + name + " to a free host:port)")
	}
	return ln, nil
}

// ServeListener serves h on ln until ctx ends, then drains it.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, what string, logger *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info(what+" listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
