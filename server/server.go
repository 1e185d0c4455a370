// Package server assembles the gateway's HTTP surface: health and readiness
// probes, Prometheus metrics, and the routes other packages register
// (Twilio webhooks, the JSON API, the console).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
// The client address (log-in throttling, the audit log) is the TCP peer,
// unless the peer is one of the configured trusted proxies
// (PROTECT_TRUSTED_PROXIES), whose X-Forwarded-For is then believed.
func New(rt *app.Runtime, routes ...Routes) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	var proxies []string
	if rt.Config != nil {
		proxies = rt.Config.TrustedProxies
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		// The configuration checked them; trust nobody rather than everybody.
		rt.Logger.Error("trusted proxies not usable; trusting none", "error", err)
		_ = r.SetTrustedProxies(nil)
	}
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

// readyz answers with each component's state only: "ok" or "unavailable"
// for PostgreSQL and Redis, and "sandbox" or "live" for Twilio. The probe
// is public, so why a component is down (error text naming the database
// user, host and port) goes to the log only.
func readyz(rt *app.Runtime) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		states, ok := checkAll(ctx, []Check{
			{Name: "postgres", Ping: rt.Store.Ping},
			{Name: "redis", Ping: func(ctx context.Context) error { return rt.Redis.Ping(ctx).Err() }},
		}, rt.Logger)
		if rt.Config != nil {
			states["twilio"] = "live"
			if rt.Config.Sandbox() {
				states["twilio"] = "sandbox"
			}
		}
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

// Listen binds the HTTP address. Commands bind it before they start
// anything else, so a busy port stops them at once with a message that
// says what to change.
func Listen(addr string) (net.Listener, error) { return ListenAs(addr, "PROTECT_HTTP_ADDR") }

// ListenAs binds addr, which the variable name sets, for the message.
func ListenAs(addr, name string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w (is another process using it? set %s to a free host:port)", addr, err, name)
	}
	return ln, nil
}

// Serve runs the HTTP server on ln until ctx ends, then drains it. It
// closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("http server listening", "addr", ln.Addr().String())
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
