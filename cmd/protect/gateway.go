package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twilio/twilio-go"

	"github.com/protectnow/protect/api"
	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/console"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/internal/spool"
	"github.com/protectnow/protect/ivr"
	"github.com/protectnow/protect/opsalert"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/ratelimit"
	"github.com/protectnow/protect/sandbox"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/templateadmin"
	"github.com/protectnow/protect/twilioapi"
	"github.com/protectnow/protect/webhooks"
)

// gateway is a running Protect process: the runtime plus the engine and
// whichever halves (HTTP, workers) it serves.
type gateway struct {
	rt        *app.Runtime
	engine    *outreach.Engine
	ivr       *ivr.IVR
	templates *templateadmin.Service
	queue     *asynq.Client
	sandbox   *sandbox.Server
	esc       *escalation.Service
	// ops alerts the duty team when a sender is held or resumes.
	ops *opsalert.Notifier
	hup chan os.Signal
	// twilio is the one client every outbound message and call goes
	// through.
	twilio *twilio.RestClient
	// workers is the queue server once started; draining is set when it
	// stops taking tasks. Readiness reads both.
	workers  atomic.Pointer[asynq.Server]
	draining atomic.Bool
	// webhooks is set by handler; its replayer runs with the HTTP server.
	webhooks *webhooks.Handler
}

// gatewayConfig loads the configuration of a command that sends or
// serves: it must say where messages go (real credentials with a routing
// file, or the sandbox by name).
func gatewayConfig() (*config.Config, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	if err := cfg.RequireTwilio(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

// openGateway opens the runtime and builds the engine. In sandbox mode
// with no API URL, and when withSandbox is set, it starts the built-in
// sandbox and points twilio-go at it. With real credentials every Twilio
// request to a drama number is refused (twilioapi.RefuseTestNumbers).
func openGateway(ctx context.Context, cfg *config.Config, stderr io.Writer, withSandbox bool) (*gateway, error) {
	// One process (run) migrates; serve and worker, of which many may
	// start at once, wait for `protect migrate`.
	mode := app.MigrateWait
	if withSandbox {
		mode = app.MigrateApply
	}
	rt, err := openRuntimeWith(ctx, cfg, stderr, mode)
	if err != nil {
		return nil, err
	}
	routing, err := escalation.LoadRoutingFile(cfg.RoutingFile)
	if err != nil {
		rt.Close()
		return nil, err
	}
	if cfg.RoutingFile != "" {
		rt.Logger.Info("escalation routing", "file", cfg.RoutingFile, "teams", len(routing.TeamKeys()))
	} else {
		rt.Logger.Warn("escalation routing: the built-in demo routing (sandbox only; set PROTECT_ROUTING_FILE for real teams)",
			"teams", len(routing.TeamKeys()))
	}
	g := &gateway{rt: rt, queue: asynq.NewClientFromRedisClient(rt.Redis)}
	apiURL := cfg.TwilioAPIURL
	if cfg.Sandbox() && apiURL == "" {
		if !withSandbox {
			rt.Close()
			return nil, errors.New("PROTECT_SANDBOX=1 and no PROTECT_TWILIO_API_URL: run `protect sandbox` and set PROTECT_TWILIO_API_URL to its URL, or use `protect run`, which starts the sandbox itself")
		}
		g.sandbox, err = sandbox.New(sandbox.Config{AccountSID: cfg.AccountSID(), AuthToken: cfg.AuthToken(),
			InboundSMSURL: cfg.WebhookURL("/webhooks/twilio/sms"), Logger: rt.Logger.With("component", "sandbox")})
		if err != nil {
			rt.Close()
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		if apiURL, err = g.sandbox.Start(cfg.SandboxAddr); err != nil {
			rt.Close()
			return nil, fmt.Errorf("sandbox on %s: %w (set PROTECT_SANDBOX_ADDR)", cfg.SandboxAddr, err)
		}
		rt.Logger.Warn("PROTECT_SANDBOX=1: using the built-in Twilio sandbox; no real message leaves this machine", "sandbox", apiURL)
	}
	var twOpts []twilioapi.Option
	if !cfg.Sandbox() {
		twOpts = append(twOpts, twilioapi.RefuseTestNumbers(rt.Logger.With("component", "twilio")))
	}
	tw := twilioapi.New(cfg.AccountSID(), cfg.AuthToken(), apiURL, twOpts...)
	g.twilio = tw
	limiter := ratelimit.NewLimiter(rt.Redis, "protect:rate:")
	// The engine sends approved template versions from the database.
	texts := templateadmin.NewDBTexts(rt.Store, templateadmin.DefaultRefresh, rt.Logger.With("component", "templates"))
	if err := texts.Load(ctx); err != nil {
		rt.Close()
		return nil, err
	}
	g.esc = escalation.New(escalation.Options{Store: rt.Store, Routing: routing, Twilio: tw, Queue: g.queue, Redis: rt.Redis,
		Logger: rt.Logger})
	// The routing file can change without a restart: on SIGHUP, or when
	// the file changes on disk.
	g.hup = make(chan os.Signal, 1)
	signal.Notify(g.hup, syscall.SIGHUP)
	go g.esc.WatchRouting(ctx, cfg.RoutingFile, escalation.RoutingPollEvery, g.hup)
	g.ops = opsAlerts(cfg, g.esc, rt.Logger)
	g.engine = outreach.New(outreach.Options{Store: rt.Store, Twilio: tw, Queue: g.queue,
		Limiter: limiter, Texts: texts, PublicURL: cfg.PublicURL, Logger: rt.Logger, NeedsRecorded: g.esc.NeedsRecorded,
		Faults: ratelimit.NewWindowCounter(rt.Redis, "protect:gwfaults:"), HoldAfterFaults: cfg.HoldAfterFaults,
		FaultWindow: cfg.HoldFaultWindow, Ops: g.ops})
	// Voice calls: with a caller the engine accepts voice steps and the
	// default policy becomes SMS, SMS, then a call.
	g.ivr = ivr.New(ivr.Options{Engine: g.engine, Store: rt.Store, Twilio: tw,
		Calls: ratelimit.NewSemaphore(rt.Redis, "protect:calls:"), MaxCalls: cfg.CallsPerNumber, PublicURL: cfg.PublicURL,
		Speech: speech(cfg), Logger: rt.Logger.With("component", "ivr")})
	g.engine.SetCaller(g.ivr)
	testSender := cfg.TemplateTestSender
	if testSender == "" && cfg.Sandbox() {
		testSender = "+447700900999"
	}
	g.templates = templateadmin.New(templateadmin.Options{Store: rt.Store, Texts: texts,
		Limits: templateadmin.Limits{MaxFragments: cfg.SMSMaxFragments}, Twilio: tw, TestSender: testSender,
		Phones: phone.Parser{AllowTestNumbers: cfg.AllowTestNumbers}, Limiter: limiter, Logger: rt.Logger})
	registerMetrics(&server.Collector{Store: rt.Store, Inspector: asynq.NewInspectorFromRedisClient(rt.Redis),
		Logger: rt.Logger.With("component", "metrics")})
	return g, nil
}

var (
	metricsMu sync.Mutex
	// gauges is the registered collector of the latest gateway: a process
	// that builds another (the tests) replaces it rather than scrape a
	// closed database.
	gauges    prometheus.Collector
	buildInfo = sync.OnceFunc(func() { prometheus.MustRegister(server.BuildInfo(version)) })
)

// registerMetrics registers protect_build_info once and c in place of any
// earlier gateway's collector.
func registerMetrics(c prometheus.Collector) {
	buildInfo()
	metricsMu.Lock()
	defer metricsMu.Unlock()
	if gauges != nil {
		prometheus.Unregister(gauges)
	}
	prometheus.MustRegister(c)
	gauges = c
}

func (g *gateway) close() {
	signal.Stop(g.hup)
	if g.webhooks != nil {
		g.webhooks.Spool.Close()
	}
	if g.sandbox != nil {
		g.sandbox.Close()
	}
	g.ops.Close()
	g.queue.Close()
	g.rt.Close()
}

// opsAlerts builds the duty team's alerts of held senders: the operations
// webhook (PROTECT_OPS_WEBHOOK_URL), which does not depend on Twilio, and
// SMS to the routing's duty team when Twilio can still send them.
func opsAlerts(cfg *config.Config, esc *escalation.Service, logger *slog.Logger) *opsalert.Notifier {
	logger = logger.With("component", "ops-alerts")
	if cfg.OpsWebhookURL == "" {
		logger.Warn("PROTECT_OPS_WEBHOOK_URL is not set: a sender held because the Twilio account is refused is alerted by log, metric, audit and console only")
	}
	return opsalert.New(opsalert.Options{WebhookURL: cfg.OpsWebhookURL, Logger: logger,
		SMS: func(ctx context.Context, ev opsalert.Event) error {
			_, err := esc.TextDutyTeam(ctx, ev)
			if errors.Is(err, escalation.ErrAlertCannotGo) {
				logger.Info("duty team not texted", "event", ev.Event, "sender", ev.Sender, "why", err)
				return nil
			}
			return err
		}})
}

func (g *gateway) handler() (http.Handler, error) {
	cfg := g.rt.Config
	con, err := console.New(console.Options{Service: g.esc, Store: g.rt.Store, Templates: g.templates, SessionKey: cfg.SessionKey,
		SecureCookies: strings.HasPrefix(cfg.PublicURL, "https://"), Location: cfg.Timezone, Logger: g.rt.Logger, Redis: g.rt.Redis,
		Sandbox: cfg.Sandbox(), SessionIdle: cfg.SessionIdle, Engine: g.engine,
		ReportRefresh: cfg.ReportRefresh, ReportMaxAge: reportMaxAge(cfg.ReportRefresh)})
	if err != nil {
		return nil, err
	}
	// Inbound webhooks that cannot be applied while PostgreSQL is
	// unavailable are kept here until the replayer applies them.
	sp, err := spool.Open(cfg.SpoolDir, spool.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w (set PROTECT_SPOOL_DIR)", err)
	}
	g.webhooks = &webhooks.Handler{Engine: g.engine, AccountSID: cfg.AccountSID(), AuthToken: cfg.AuthToken(),
		PublicURL: cfg.PublicURL, Logger: g.rt.Logger, Extra: g.ivr.Register, Spool: sp}
	return server.New(g.rt, g.webhooks,
		&api.Routes{Engine: g.engine, Store: g.rt.Store, Logger: g.rt.Logger, Templates: g.templates, Escalations: g.esc,
			ReportMaxAge: reportMaxAge(cfg.ReportRefresh)}, con), nil
}

// reportMaxAge is how old the stored campaign figures the console and the
// API show may be before a view computes them itself: two refreshes of the
// workers (PROTECT_REPORT_REFRESH), and at least a minute, so views read
// the stored row while the workers keep up and count for themselves only
// when the workers are not running.
func reportMaxAge(refresh time.Duration) time.Duration {
	return max(console.DefaultReportMaxAge, 2*refresh)
}

// firstUserHint tells a newcomer how to make the first console user.
func (g *gateway) firstUserHint(ctx context.Context, stderr io.Writer) {
	if n, err := g.rt.Store.CountUsers(ctx); err == nil && n == 0 {
		fmt.Fprintf(stderr, "\nNo console users yet. Create the first admin, then log in at %s/console:\n"+
			"  bin/protect user create --name admin --role admin\n"+
			"  (handlers: --role handler --team TEAM; teams: %s)\n\n",
			g.rt.Config.PublicURL, strings.Join(g.esc.Routing().TeamKeys(), ", "))
	}
}

// runWorkers runs the queue workers and the engine's loops until ctx ends,
// then drains: no new task is taken, and tasks in flight get
// PROTECT_SHUTDOWN_GRACE to finish before they go back to the queue (the
// claim in PostgreSQL makes a retried task safe).
func (g *gateway) runWorkers(ctx context.Context) error {
	cfg := g.rt.Config
	srv := asynq.NewServerFromRedisClient(g.rt.Redis, asynq.Config{
		Concurrency:       cfg.WorkerConcurrency,
		Queues:            map[string]int{escalation.QueueEscalation: 10, outreach.QueueCall: 5, outreach.QueueSMS: 5},
		TaskCheckInterval: 100 * time.Millisecond,
		ShutdownTimeout:   cfg.ShutdownGrace,
		RetryDelayFunc: func(n int, _ error, _ *asynq.Task) time.Duration {
			return time.Duration(1<<min(n, 8)) * time.Second
		},
		Logger:       asynqLogger{g.rt.Logger},
		LogLevel:     asynq.WarnLevel,
		ErrorHandler: outreach.TaskErrorHandler(g.rt.Logger),
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(outreach.TaskSend, g.engine.HandleSend)
	mux.HandleFunc(escalation.TaskSLA, g.esc.HandleSLA)
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	g.workers.Store(srv)
	g.rt.Logger.Info("workers running", "concurrency", cfg.WorkerConcurrency)
	var wg sync.WaitGroup
	wg.Go(func() { g.esc.Run(ctx) })
	refresh := cfg.ReportRefresh
	if refresh <= 0 { // a Config not read from the environment
		refresh = outreach.ReportRefreshEvery
	}
	wg.Go(func() { g.engine.RefreshReports(ctx, refresh, cfg.Timezone) })
	// The drain starts the moment the process is told to stop: readiness
	// fails and no new task is taken while the loops finish their round.
	var start time.Time
	drain := sync.OnceFunc(func() {
		start = time.Now()
		g.draining.Store(true)
		g.rt.Logger.Info("workers draining", "grace", cfg.ShutdownGrace.String())
		srv.Stop()
	})
	stopDrain := context.AfterFunc(ctx, drain)
	defer stopDrain()
	g.engine.Run(ctx)
	wg.Wait()
	drain()
	srv.Shutdown()
	g.rt.Logger.Info("workers stopped", "drained_in", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// errStarting is a readiness check's answer before the process has
// connected and found its schema (it may be waiting for `protect migrate`).
var errStarting = errors.New("starting: connecting, or waiting for migrations")

// readiness is what a process needs to be ready: PostgreSQL, Redis and,
// in a process that runs workers, a queue server that is not draining.
// Each check answers "starting" until the gateway is open, so a listener
// bound before the schema is ready says alive but not ready.
func readiness(gw *atomic.Pointer[gateway], workers bool) []server.Check {
	check := func(name string, ping func(*gateway, context.Context) error) server.Check {
		return server.Check{Name: name, Ping: func(ctx context.Context) error {
			g := gw.Load()
			if g == nil {
				return errStarting
			}
			return ping(g, ctx)
		}}
	}
	cs := []server.Check{
		check("postgres", func(g *gateway, ctx context.Context) error { return g.rt.Store.Ping(ctx) }),
		check("redis", func(g *gateway, ctx context.Context) error { return g.rt.Redis.Ping(ctx).Err() }),
	}
	if workers {
		cs = append(cs, check("queue", func(g *gateway, _ context.Context) error {
			srv := g.workers.Load()
			switch {
			case g.draining.Load():
				return errors.New("draining")
			case srv == nil:
				return errors.New("not started")
			}
			return srv.Ping()
		}))
	}
	return cs
}

// listenOps binds the side listener this process is configured with (a
// worker's health, readiness and metrics, or metrics moved off the public
// listener) before anything else starts, so an orchestrator sees the
// process alive while it waits for migrations. It returns a function that
// serves it until its context ends; readiness follows gw once it is set.
func listenOps(cfg *config.Config, workers bool, gw *atomic.Pointer[gateway], logger *slog.Logger) (func(ctx context.Context) error, error) {
	addr, name, h := cfg.MetricsAddr, "PROTECT_METRICS_ADDR", server.MetricsOnly()
	if workers {
		addr, name, h = cfg.WorkerAddr, "PROTECT_WORKER_ADDR", server.Ops(readiness(gw, true), logger)
	}
	if addr == "" {
		return func(ctx context.Context) error { <-ctx.Done(); return nil }, nil
	}
	ln, err := server.ListenAs(addr, name)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		return server.Serve(ctx, ln, h, logger.With("listener", name))
	}, nil
}

// opsRunner serves the side listener from before the gateway opens until
// stop is called, which waits for it to close.
type opsRunner struct {
	gw   atomic.Pointer[gateway]
	stop func()
	err  error
}

// startOps binds and serves the side listener of cfg (see listenOps).
func startOps(cfg *config.Config, workers bool, stderr io.Writer) (*opsRunner, error) {
	o := &opsRunner{}
	serve, err := listenOps(cfg, workers, &o.gw, app.NewLogger(stderr, cfg))
	if err != nil {
		return nil, err
	}
	// The listener outlives a worker's drain, so that readiness says
	// "draining" until the last task has finished.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.err = serve(ctx); close(done) }()
	o.stop = sync.OnceFunc(func() { cancel(); <-done })
	return o, nil
}

// openServing binds the HTTP address first (a busy port stops the command
// before workers, the sandbox or migrations start) and the side listener,
// then opens the gateway.
func openServing(ctx context.Context, stderr io.Writer, withSandbox bool) (net.Listener, *gateway, *opsRunner, error) {
	cfg, err := gatewayConfig()
	if err != nil {
		return nil, nil, nil, err
	}
	ln, err := server.Listen(cfg.HTTPAddr)
	if err != nil {
		return nil, nil, nil, err
	}
	ops, err := startOps(cfg, false, stderr)
	if err != nil {
		ln.Close()
		return nil, nil, nil, err
	}
	g, err := openGateway(ctx, cfg, stderr, withSandbox)
	if err != nil {
		ops.stop()
		ln.Close()
		return nil, nil, nil, err
	}
	ops.gw.Store(g)
	return ln, g, ops, nil
}

func cmdRun(ctx context.Context, args []string, _, stderr io.Writer) error {
	if len(args) > 0 {
		return usageError{"run takes no arguments; configure it with environment variables"}
	}
	ln, g, ops, err := openServing(ctx, stderr, true)
	if err != nil {
		return err
	}
	defer ln.Close()
	defer g.close()
	defer ops.stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var workErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		workErr = g.runWorkers(ctx)
		cancel()
	}()
	h, err := g.handler()
	if err == nil {
		g.firstUserHint(ctx, stderr)
		wg.Go(func() { g.webhooks.Replay(ctx) })
		err = server.Serve(ctx, ln, h, g.rt.Logger)
	}
	cancel()
	wg.Wait()
	ops.stop()
	return errors.Join(err, workErr, ops.err)
}

func cmdServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	if len(args) > 0 {
		return usageError{"serve takes no arguments"}
	}
	ln, g, ops, err := openServing(ctx, stderr, false)
	if err != nil {
		return err
	}
	defer ln.Close()
	defer g.close()
	defer ops.stop()
	h, err := g.handler()
	if err != nil {
		return err
	}
	g.firstUserHint(ctx, stderr)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { g.webhooks.Replay(ctx) })
	err = server.Serve(ctx, ln, h, g.rt.Logger)
	cancel()
	wg.Wait()
	ops.stop()
	return errors.Join(err, ops.err)
}

// cmdWorker runs the queue workers. Its side listener (PROTECT_WORKER_ADDR)
// is bound first: while the worker waits for `protect migrate`, /healthz
// says alive and /readyz says not ready.
func cmdWorker(ctx context.Context, args []string, _, stderr io.Writer) error {
	if len(args) > 0 {
		return usageError{"worker takes no arguments"}
	}
	cfg, err := gatewayConfig()
	if err != nil {
		return err
	}
	ops, err := startOps(cfg, true, stderr)
	if err != nil {
		return err
	}
	defer ops.stop()
	g, err := openGateway(ctx, cfg, stderr, false)
	if err != nil {
		return err
	}
	defer g.close()
	ops.gw.Store(g)
	err = g.runWorkers(ctx)
	ops.stop()
	return errors.Join(err, ops.err)
}

// cmdSandbox runs the Twilio sandbox on its own, for deployments that run
// serve and worker apart without Twilio credentials.
func cmdSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usageError{"sandbox takes no arguments"}
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if !cfg.Sandbox() {
		return errors.New("the sandbox runs with PROTECT_SANDBOX=1 only (and then serve and worker need it too)")
	}
	logger := app.NewLogger(stderr, cfg)
	sb, err := sandbox.New(sandbox.Config{AccountSID: cfg.AccountSID(), AuthToken: cfg.AuthToken(),
		InboundSMSURL: cfg.WebhookURL("/webhooks/twilio/sms"), Logger: logger})
	if err != nil {
		return err
	}
	defer sb.Close()
	u, err := sb.Start(cfg.SandboxAddr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Twilio sandbox listening on %s\nSet PROTECT_TWILIO_API_URL=%s for serve and worker.\n", u, u)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

// asynqLogger sends the queue library's logs to slog.
type asynqLogger struct {
	l interface{ Error(string, ...any) }
}

func (a asynqLogger) Debug(args ...any) {}
func (a asynqLogger) Info(args ...any)  {}
func (a asynqLogger) Warn(args ...any)  { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }

// speech is how calls speak, from the configuration.
func speech(cfg *config.Config) ivr.Speech {
	sp := ivr.Speech{Rate: cfg.VoiceRate, Voices: map[string]ivr.VoiceSpec{"en": {Name: cfg.Voice, Language: cfg.VoiceLanguage}}}
	for lang, v := range cfg.Voices {
		sp.Voices[lang] = ivr.VoiceSpec{Name: v.Name, Language: v.Language}
	}
	return sp
}
