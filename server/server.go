// Package server assembles the gateway's HTTP surface: health and readiness
// probes, Prometheus metrics, and the routes other packages register
// (Twilio webhooks, the JSON API, the console).
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/protectnow/protect/app"
)

var requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "protect_http_request_duration_seconds",
	Help:    "HTTP request latency by route and status.",
	Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
}, []string{"route", "method", "status"})

func init() { prometheus.MustRegister(requestDuration) }

// Routes is implemented by packages that add handlers to the server.
type Routes interface {
	Register(r *gin.Engine)
}

// New builds the gin engine with the probes, metrics and the given routes.
func New(rt *app.Runtime, routes ...Routes) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), observe(rt.Logger))
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", readyz(rt))
	// With PROTECT_METRICS_ADDR, metrics live on their own listener and
	// not on this public one.
	if rt.Config == nil || rt.Config.MetricsAddr == "" {
		r.GET("/metrics", gin.WrapH(promhttp.Handler()))
	}
	for _, rs := range routes {
		rs.Register(r)
	}
	return r
}

func readyz(rt *app.Runtime) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		states, ok := checkAll(ctx, []Check{
			{Name: "postgres", Ping: rt.Store.Ping},
			{Name: "redis", Ping: func(ctx context.Context) error { return rt.Redis.Ping(ctx).Err() }},
		}, rt.Logger)
		writeStates(c.Writer, states, ok)
	}
}

// observe records latency and logs requests without query strings or
// bodies, which may carry personal data.
func observe(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		requestDuration.WithLabelValues(route, c.Request.Method, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
		if status >= 500 {
			logger.Error("http request failed", "route", route, "method", c.Request.Method, "status", status, "errors", c.Errors.String())
		} else if logger.Enabled(c, slog.LevelDebug) {
			logger.Debug("http request", "route", route, "method", c.Request.Method, "status", status, "ms", time.Since(start).Milliseconds())
		}
	}
}

// Serve runs the HTTP server until ctx ends, then drains it.
func Serve(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("http server listening", "addr", addr)
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
