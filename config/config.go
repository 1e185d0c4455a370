// Package config reads Protect's settings from environment variables. Every
// variable is checked at start: a missing or malformed value stops the
// program with a message naming the variable and what it expects.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config holds the settings of one process.
type Config struct {
	DatabaseURL string
	RedisURL    string
	HTTPAddr    string
	// PublicURL is the base URL Twilio reaches this gateway on (scheme, host,
	// optional port and path prefix, no trailing slash). Webhook URLs given to
	// Twilio and signature checks both use it, so a proxy in front does not
	// break validation.
	PublicURL string
	Timezone  *time.Location

	TwilioAccountSID string
	TwilioAuthToken  string
	// TwilioAPIURL points twilio-go at a Twilio-compatible API instead of
	// Twilio's own; empty means Twilio, or the built-in sandbox when no
	// credentials are set.
	TwilioAPIURL string

	WorkerConcurrency int
	LogLevel          string
	LogFormat         string
	// AllowTestNumbers accepts the 07700 900xxx drama range as mobiles. It is
	// on by default only with the sandbox.
	AllowTestNumbers bool
	// SessionKey signs console sessions; generated at start when empty, which
	// logs everybody out at each restart.
	SessionKey string
	// SandboxAddr is where the built-in Twilio sandbox listens.
	SandboxAddr string
	// RoutingFile is the escalation routing file; empty: the built-in one.
	RoutingFile string
	// Voice and VoiceLanguage are the voice that speaks English on
	// automated calls; Voices adds or replaces the voices of other
	// languages (the IVR has built-in ones for the languages Amazon Polly
	// speaks); VoiceRate is the speaking rate.
	Voice         string
	VoiceLanguage string
	Voices        map[string]Voice
	VoiceRate     string
	// CallsPerNumber caps the calls in progress per caller number.
	CallsPerNumber int
	// TemplateTestSender sends comms leads' template tests (a number or a
	// messaging service SID); empty turns tests off, except with the
	// sandbox.
	TemplateTestSender string
	// SMSMaxFragments is the SMS length, in parts, above which the
	// template editor warns.
	SMSMaxFragments int

	// DBPool caps the process's main PostgreSQL pool (0: the store's
	// default); the process holds at most DBPool + 2 connections.
	DBPool int
	// DBPgBouncer says PROTECT_DATABASE_URL points at PgBouncer in
	// transaction pooling mode.
	DBPgBouncer bool
	// MigrateDatabaseURL is where `protect migrate` (and processes that
	// apply migrations) connect: PostgreSQL directly, since migrating
	// holds a session lock PgBouncer's transaction mode cannot keep.
	MigrateDatabaseURL string
	// Migrate is "apply" or "wait"; empty lets each command choose (run
	// and the CLI apply, serve and worker wait).
	Migrate string
	// MigrateTimeout bounds how long a process waits for migrations.
	MigrateTimeout time.Duration
	// WorkerAddr is where `protect worker` serves health, readiness and
	// metrics; empty: no listener.
	WorkerAddr string
	// MetricsAddr moves /metrics of `protect serve` and `protect run` off
	// the public listener to this address; empty: on the public one.
	MetricsAddr string
	// ShutdownGrace is how long workers get to finish in-flight tasks
	// after SIGTERM.
	ShutdownGrace time.Duration
	// SandboxMode is PROTECT_SANDBOX: talk to the Twilio sandbox with its
	// fixed credentials. It is never switched on by missing credentials.
	SandboxMode bool
	// TrustedProxies are the CIDRs whose X-Forwarded-For the HTTP server
	// believes; empty: the client address is always the TCP peer.
	TrustedProxies []string
	// SessionIdle ends a console session not used for this long.
	SessionIdle time.Duration
	// ReportRefresh is how often the workers recompute the stored
	// figures of running and paused campaigns: the most a campaign page's
	// funnel lags behind what happened.
	ReportRefresh time.Duration
	// SpoolDir is where serve and run keep inbound webhooks while
	// PostgreSQL is unavailable, until they are replayed.
	SpoolDir string
	// OpsWebhookURL receives operations alerts (a sender held or resumed)
	// as JSON, apart from Twilio; empty: none.
	OpsWebhookURL string
	// HoldAfterFaults gateway faults (429, Twilio's 5xx, network errors
	// and time-outs) of one sender within HoldFaultWindow, across all
	// workers, hold the sender.
	HoldAfterFaults int
	HoldFaultWindow time.Duration
}

// Voice is a Twilio voice and the language tag it speaks.
type Voice struct{ Name, Language string }

// Sandbox reports whether the gateway talks to the Twilio sandbox
// (PROTECT_SANDBOX=1) instead of a real provider.
func (c *Config) Sandbox() bool { return c.SandboxMode }

// ErrNoTwilio is returned by RequireTwilio when neither Twilio credentials
// nor the sandbox are configured.
var ErrNoTwilio = errors.New("no Twilio: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to send real messages, " +
	"or PROTECT_SANDBOX=1 to use the built-in Twilio sandbox (no real message is sent)")

// RequireTwilio checks that the process has somewhere to send messages:
// real credentials, or the sandbox asked for by name. Commands that send
// or serve call it; the others (import, users) work without either.
func (c *Config) RequireTwilio() error {
	if !c.SandboxMode && c.TwilioAccountSID == "" {
		return ErrNoTwilio
	}
	if !c.SandboxMode && c.RoutingFile == "" {
		return errors.New("PROTECT_ROUTING_FILE: required with real Twilio credentials (the built-in demo routing " +
			"sends alerts to test numbers); start from deploy/routing.example.yaml, or set PROTECT_SANDBOX=1 to try Protect")
	}
	return nil
}

// Sandbox credentials: fixed, documented and useless against real Twilio.
const (
	SandboxAccountSID = "AC0000000000000000000000000sandbox"
	SandboxAuthToken  = "sandboxauthtoken0000000000000000"
)

// Var documents one environment variable; the README table is generated
// from the same list so they never disagree.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable Protect reads.
var Vars = []Var{
	{"PROTECT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/protect?sslmode=disable", "PostgreSQL connection URL (the system of record)."},
	{"PROTECT_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL for queues, rate limits and short-lived state."},
	{"PROTECT_HTTP_ADDR", "127.0.0.1:8080", "host:port the HTTP server listens on."},
	{"PROTECT_PUBLIC_URL", "http://127.0.0.1:8080", "Public base URL Twilio uses to reach the gateway; webhook signatures are checked against it."},
	{"PROTECT_TIMEZONE", "Europe/London", "IANA time zone for calling windows and reports."},
	{"TWILIO_ACCOUNT_SID", "", "Twilio account SID (AC...); with the token, messages go to real phones."},
	{"TWILIO_AUTH_TOKEN", "", "Twilio auth token; also checks X-Twilio-Signature."},
	{"PROTECT_TWILIO_API_URL", "", "Base URL of a Twilio-compatible API to use instead of Twilio (for example a sandbox run apart)."},
	{"PROTECT_WORKER_CONCURRENCY", "20", "Asynq worker goroutines per process (1-1000)."},
	{"PROTECT_LOG_LEVEL", "info", "debug, info, warn or error."},
	{"PROTECT_LOG_FORMAT", "text", "text or json."},
	{"PROTECT_SANDBOX", "", "1: use the built-in Twilio sandbox (what `make run` sets); no real message is sent. Not allowed with Twilio credentials."},
	{"PROTECT_ALLOW_TEST_NUMBERS", "true without Twilio credentials, else false", "Accept 07700 900xxx test numbers as mobiles (never sent to through a real provider)."},
	{"PROTECT_SESSION_KEY", "", "Secret (32+ characters) that signs console sessions; random at each start when empty."},
	{"PROTECT_SANDBOX_ADDR", "127.0.0.1:8089", "Where `protect run` (and `protect sandbox`) serve the built-in Twilio sandbox when PROTECT_SANDBOX=1."},
	{"PROTECT_ROUTING_FILE", "", "Escalation routing file (teams, rules, SLAs, alerts; see deploy/routing.example.yaml). Required with Twilio credentials; empty with the sandbox: the built-in demo routing."},
	{"PROTECT_TRUSTED_PROXIES", "", "Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed. Empty: the client address is the TCP peer."},
	{"PROTECT_SESSION_IDLE", "30m", "Console sessions end after this long without use (1m-12h), as well as 12 hours after log-in."},
	{"PROTECT_REPORT_REFRESH", "30s", "How often workers recompute the figures of running and paused campaigns (1s-1h): the most a campaign page, which updates itself, lags behind. Shorter is fresher and costs a report query per active campaign each time."},
	{"PROTECT_VOICE", "Polly.Amy", "Twilio voice that speaks English on automated calls (for example Polly.Amy or alice)."},
	{"PROTECT_VOICE_LANGUAGE", "en-GB", "Language tag of that English voice."},
	{"PROTECT_VOICES", "", "Voices of other languages, as `cy=Polly.Gwyneth/cy-GB,pl=Polly.Ewa/pl-PL`; built in: cy, pl, pt, ro, es, fr, tr (Amazon Polly). A patient whose language has no voice hears English."},
	{"PROTECT_VOICE_RATE", "90%", "Speaking rate of calls: x-slow, slow, medium (normal) or 20%-200% of normal; Polly and Google voices only."},
	{"PROTECT_CALLS_PER_NUMBER", "10", "Calls in progress at once per caller number, across all workers (1-1000)."},
	{"PROTECT_TEMPLATE_TEST_SENDER", "", "Twilio number (E.164) or messaging service SID (MG...) that sends template tests to comms leads' phones; empty turns tests off (the sandbox uses +447700900999)."},
	{"PROTECT_SMS_MAX_FRAGMENTS", "2", "SMS parts above which the template editor warns (1-10)."},
	{"PROTECT_DB_POOL", "16", "PostgreSQL connections of a process's main pool (1-500); it holds at most this + 2. See deploy/README.md for the budget."},
	{"PROTECT_DB_PGBOUNCER", "false", "true when PROTECT_DATABASE_URL points at PgBouncer in transaction pooling mode (no server-side prepared statements)."},
	{"PROTECT_MIGRATE_DATABASE_URL", "same as PROTECT_DATABASE_URL", "Where migrations run: PostgreSQL directly, never through PgBouncer in transaction mode."},
	{"PROTECT_MIGRATE", "apply for run and the CLI, wait for serve and worker", "apply: apply pending migrations at start; wait: wait for `protect migrate` to apply them (a Kubernetes Job)."},
	{"PROTECT_MIGRATE_TIMEOUT", "10m", "How long a waiting process waits for migrations before it gives up."},
	{"PROTECT_WORKER_ADDR", "", "host:port where `protect worker` serves /healthz, /readyz and /metrics; empty: no listener."},
	{"PROTECT_METRICS_ADDR", "", "host:port for /metrics of `protect serve` and `protect run`, off the public listener; empty: /metrics on PROTECT_HTTP_ADDR."},
	{"PROTECT_SHUTDOWN_GRACE", "25s", "After SIGTERM, how long workers get to finish tasks in flight (unfinished ones go back to the queue)."},
	{"PROTECT_OPS_WEBHOOK_URL", "", "URL (Slack or Teams incoming webhook, pager) that receives a JSON alert with a `text` field when a sender is held by a fault of the account or the gateway, and when it resumes; works when Twilio does not. Also as PROTECT_OPS_WEBHOOK_URL_FILE. The routing's duty team is texted too when Twilio can still send."},
	{"PROTECT_HOLD_FAULTS", "20", "Gateway faults (HTTP 429, Twilio 5xx, network errors, time-outs) of one sender within PROTECT_HOLD_FAULT_WINDOW, across all workers, that hold the sender (1-100000)."},
	{"PROTECT_HOLD_FAULT_WINDOW", "60s", "The window PROTECT_HOLD_FAULTS are counted in (1s-1h)."},
	{"PROTECT_SPOOL_DIR", "spool", "Directory (on a local disk that survives restarts) where serve and run keep inbound SMS and status callbacks while PostgreSQL is unavailable, until replayed; relative to the working directory."},
}

// secretVars may be given as NAME_FILE, the path of a file holding the
// value (Kubernetes and Docker secrets mounted as files).
var secretVars = map[string]bool{
	"PROTECT_DATABASE_URL": true, "PROTECT_MIGRATE_DATABASE_URL": true, "PROTECT_REDIS_URL": true,
	"TWILIO_ACCOUNT_SID": true, "TWILIO_AUTH_TOKEN": true, "PROTECT_SESSION_KEY": true,
	"PROTECT_OPS_WEBHOOK_URL": true,
}

// Known reports whether name is a variable Protect reads: one of Vars, or
// the NAME_FILE variant of a secret.
func Known(name string) bool {
	if base, ok := strings.CutSuffix(name, "_FILE"); ok && secretVars[base] {
		return true
	}
	for _, v := range Vars {
		if v.Name == name {
			return true
		}
	}
	return false
}

// Load reads the configuration from the environment.
func Load() (*Config, error) { return FromLookup(os.LookupEnv) }

// FromLookup reads the configuration through lookup, for tests.
func FromLookup(lookup func(string) (string, bool)) (*Config, error) {
	get := func(name string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		for _, v := range Vars {
			if v.Name == name && !strings.Contains(v.Default, " ") {
				return v.Default
			}
		}
		return ""
	}
	var errs []error
	bad := func(name, expected, got string) {
		errs = append(errs, fmt.Errorf("%s: expected %s, got %q", name, expected, got))
	}
	// A secret given as a file (NAME_FILE) is read once, here; the plain
	// variable and its file variant together are a mistake.
	plain := lookup
	lookup = func(name string) (string, bool) {
		v, ok := plain(name)
		if !secretVars[name] {
			return v, ok
		}
		path, fok := plain(name + "_FILE")
		if !fok || strings.TrimSpace(path) == "" {
			return v, ok
		}
		if ok && strings.TrimSpace(v) != "" {
			errs = append(errs, fmt.Errorf("%s and %s_FILE: set one, not both", name, name))
			return v, ok
		}
		b, err := os.ReadFile(strings.TrimSpace(path))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s_FILE: %w", name, err))
			return "", false
		}
		return strings.TrimSpace(string(b)), true
	}

	c := &Config{
		DatabaseURL:      get("PROTECT_DATABASE_URL"),
		RedisURL:         get("PROTECT_REDIS_URL"),
		HTTPAddr:         get("PROTECT_HTTP_ADDR"),
		PublicURL:        strings.TrimRight(get("PROTECT_PUBLIC_URL"), "/"),
		TwilioAccountSID: get("TWILIO_ACCOUNT_SID"),
		TwilioAuthToken:  get("TWILIO_AUTH_TOKEN"),
		TwilioAPIURL:     strings.TrimRight(get("PROTECT_TWILIO_API_URL"), "/"),
		LogLevel:         strings.ToLower(get("PROTECT_LOG_LEVEL")),
		LogFormat:        strings.ToLower(get("PROTECT_LOG_FORMAT")),
		SessionKey:       get("PROTECT_SESSION_KEY"),
		SandboxAddr:      get("PROTECT_SANDBOX_ADDR"),
		RoutingFile:      get("PROTECT_ROUTING_FILE"),
		Voice:            get("PROTECT_VOICE"),
		VoiceLanguage:    get("PROTECT_VOICE_LANGUAGE"),
		VoiceRate:        get("PROTECT_VOICE_RATE"),

		TemplateTestSender: get("PROTECT_TEMPLATE_TEST_SENDER"),
		SpoolDir:           get("PROTECT_SPOOL_DIR"),
	}
	if n, err := strconv.Atoi(get("PROTECT_CALLS_PER_NUMBER")); err != nil || n < 1 || n > 1000 {
		bad("PROTECT_CALLS_PER_NUMBER", "a whole number from 1 to 1000", get("PROTECT_CALLS_PER_NUMBER"))
	} else {
		c.CallsPerNumber = n
	}

	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("PROTECT_DATABASE_URL", "a postgres:// URL", c.DatabaseURL)
	}
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "redis-sentinel") {
		bad("PROTECT_REDIS_URL", "a redis:// URL or redis-sentinel://host:port,host:port/master/db", "(hidden)")
	}
	c.MigrateDatabaseURL = c.DatabaseURL
	if v := get("PROTECT_MIGRATE_DATABASE_URL"); v != "" {
		c.MigrateDatabaseURL = v
		if u, err := url.Parse(v); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("PROTECT_MIGRATE_DATABASE_URL", "a postgres:// URL", "(hidden)")
		}
	}
	if n, err := strconv.Atoi(get("PROTECT_DB_POOL")); err != nil || n < 1 || n > 500 {
		bad("PROTECT_DB_POOL", "a whole number from 1 to 500", get("PROTECT_DB_POOL"))
	} else if _, set := lookup("PROTECT_DB_POOL"); set {
		c.DBPool = n
	}
	if b, err := strconv.ParseBool(get("PROTECT_DB_PGBOUNCER")); err != nil {
		bad("PROTECT_DB_PGBOUNCER", "true or false", get("PROTECT_DB_PGBOUNCER"))
	} else {
		c.DBPgBouncer = b
	}
	switch m := strings.ToLower(get("PROTECT_MIGRATE")); m {
	case "", "apply", "wait":
		c.Migrate = m
	default:
		bad("PROTECT_MIGRATE", "apply or wait", m)
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"PROTECT_MIGRATE_TIMEOUT", &c.MigrateTimeout}, {"PROTECT_SHUTDOWN_GRACE", &c.ShutdownGrace}} {
		v, err := time.ParseDuration(get(d.name))
		if err != nil || v <= 0 || v > 24*time.Hour {
			bad(d.name, "a duration such as 30s or 10m", get(d.name))
			continue
		}
		*d.dst = v
	}
	c.WorkerAddr, c.MetricsAddr = get("PROTECT_WORKER_ADDR"), get("PROTECT_METRICS_ADDR")
	for name, addr := range map[string]string{"PROTECT_WORKER_ADDR": c.WorkerAddr, "PROTECT_METRICS_ADDR": c.MetricsAddr} {
		if _, port, err := net.SplitHostPort(addr); addr != "" && (err != nil || port == "") {
			bad(name, "host:port, for example 0.0.0.0:9090", addr)
		}
	}
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || port == "" {
		bad("PROTECT_HTTP_ADDR", "host:port, for example 127.0.0.1:8080", c.HTTPAddr)
	}
	if _, port, err := net.SplitHostPort(c.SandboxAddr); err != nil || port == "" {
		bad("PROTECT_SANDBOX_ADDR", "host:port, for example 127.0.0.1:8089", c.SandboxAddr)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		bad("PROTECT_PUBLIC_URL", "an absolute http(s) URL without query, for example https://protect.example.nhs.uk", c.PublicURL)
	}
	if c.TwilioAPIURL != "" {
		if u, err := url.Parse(c.TwilioAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("PROTECT_TWILIO_API_URL", "an absolute http(s) URL", c.TwilioAPIURL)
		}
	}
	tz := get("PROTECT_TIMEZONE")
	if loc, err := time.LoadLocation(tz); err != nil {
		bad("PROTECT_TIMEZONE", "an IANA time zone such as Europe/London", tz)
	} else {
		c.Timezone = loc
	}
	if v := get("PROTECT_SANDBOX"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("PROTECT_SANDBOX", "1 or 0", v)
		}
		c.SandboxMode = b
	}
	switch {
	case c.TwilioAccountSID == "" && c.TwilioAuthToken == "":
	case c.TwilioAccountSID == "" || c.TwilioAuthToken == "":
		errs = append(errs, errors.New("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: set both, or neither and PROTECT_SANDBOX=1 to use the sandbox"))
	case c.SandboxMode:
		errs = append(errs, errors.New("PROTECT_SANDBOX=1 and TWILIO_ACCOUNT_SID are both set: unset PROTECT_SANDBOX to send real messages, "+
			"or empty TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to use the sandbox"))
	case !strings.HasPrefix(c.TwilioAccountSID, "AC") || len(c.TwilioAccountSID) != 34:
		bad("TWILIO_ACCOUNT_SID", "an account SID: AC followed by 32 characters", "AC…")
	}
	wc := get("PROTECT_WORKER_CONCURRENCY")
	if n, err := strconv.Atoi(wc); err != nil || n < 1 || n > 1000 {
		bad("PROTECT_WORKER_CONCURRENCY", "a whole number from 1 to 1000", wc)
	} else {
		c.WorkerConcurrency = n
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("PROTECT_LOG_LEVEL", "debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("PROTECT_LOG_FORMAT", "text or json", c.LogFormat)
	}
	// Drama numbers never reach a real provider (twilioapi refuses them),
	// so accepting them is safe whenever no credentials are set.
	c.AllowTestNumbers = c.TwilioAccountSID == ""
	if v := get("PROTECT_ALLOW_TEST_NUMBERS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("PROTECT_ALLOW_TEST_NUMBERS", "true or false", v)
		}
		c.AllowTestNumbers = b
	}
	mf := get("PROTECT_SMS_MAX_FRAGMENTS")
	if n, err := strconv.Atoi(mf); err != nil || n < 1 || n > 10 {
		bad("PROTECT_SMS_MAX_FRAGMENTS", "a whole number from 1 to 10", mf)
	} else {
		c.SMSMaxFragments = n
	}
	if !validRate(c.VoiceRate) {
		bad("PROTECT_VOICE_RATE", "x-slow, slow, medium, fast, x-fast or a percentage from 20% to 200%", c.VoiceRate)
	}
	if v, err := parseVoices(get("PROTECT_VOICES")); err != nil {
		bad("PROTECT_VOICES", "language=Voice/tag pairs separated by commas, such as cy=Polly.Gwyneth/cy-GB", err.Error())
	} else {
		c.Voices = v
	}
	if c.SessionKey != "" && len(c.SessionKey) < 32 {
		bad("PROTECT_SESSION_KEY", "at least 32 characters", "(hidden)")
	}
	for p := range strings.SplitSeq(get("PROTECT_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			bad("PROTECT_TRUSTED_PROXIES", "comma-separated CIDRs such as 10.0.0.0/8,192.168.1.10/32", p)
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	idle := get("PROTECT_SESSION_IDLE")
	if d, err := time.ParseDuration(idle); err != nil || d < time.Minute || d > 12*time.Hour {
		bad("PROTECT_SESSION_IDLE", "a duration from 1m to 12h, such as 30m", idle)
	} else {
		c.SessionIdle = d
	}
	refresh := get("PROTECT_REPORT_REFRESH")
	if d, err := time.ParseDuration(refresh); err != nil || d < time.Second || d > time.Hour {
		bad("PROTECT_REPORT_REFRESH", "a duration from 1s to 1h, such as 30s", refresh)
	} else {
		c.ReportRefresh = d
	}
	c.OpsWebhookURL = get("PROTECT_OPS_WEBHOOK_URL")
	if u, err := url.Parse(c.OpsWebhookURL); c.OpsWebhookURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		bad("PROTECT_OPS_WEBHOOK_URL", "an absolute http(s) URL", "(hidden)")
	}
	if n, err := strconv.Atoi(get("PROTECT_HOLD_FAULTS")); err != nil || n < 1 || n > 100000 {
		bad("PROTECT_HOLD_FAULTS", "a whole number from 1 to 100000", get("PROTECT_HOLD_FAULTS"))
	} else {
		c.HoldAfterFaults = n
	}
	if d, err := time.ParseDuration(get("PROTECT_HOLD_FAULT_WINDOW")); err != nil || d < time.Second || d > time.Hour {
		bad("PROTECT_HOLD_FAULT_WINDOW", "a duration from 1s to 1h, such as 60s", get("PROTECT_HOLD_FAULT_WINDOW"))
	} else {
		c.HoldFaultWindow = d
	}
	if c.RoutingFile != "" {
		if st, err := os.Stat(c.RoutingFile); err != nil || st.IsDir() {
			bad("PROTECT_ROUTING_FILE", "a readable routing file", c.RoutingFile)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// validRate reports whether rate is an SSML prosody rate.
func validRate(rate string) bool {
	switch rate {
	case "x-slow", "slow", "medium", "fast", "x-fast":
		return true
	}
	n, err := strconv.Atoi(strings.TrimSuffix(rate, "%"))
	return strings.HasSuffix(rate, "%") && err == nil && n >= 20 && n <= 200
}

// parseVoices parses "cy=Polly.Gwyneth/cy-GB,pl=Polly.Ewa/pl-PL".
func parseVoices(s string) (map[string]Voice, error) {
	out := map[string]Voice{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		lang, spec, ok := strings.Cut(item, "=")
		name, tag, ok2 := strings.Cut(spec, "/")
		lang, name, tag = strings.TrimSpace(lang), strings.TrimSpace(name), strings.TrimSpace(tag)
		if !ok || !ok2 || len(lang) != 2 || lang != strings.ToLower(lang) || name == "" || tag == "" {
			return nil, fmt.Errorf("%q", item)
		}
		if _, dup := out[lang]; dup {
			return nil, fmt.Errorf("%q: %s twice", item, lang)
		}
		out[lang] = Voice{Name: name, Language: tag}
	}
	return out, nil
}

// AccountSID returns the Twilio account in use: the configured one, or the
// sandbox's.
func (c *Config) AccountSID() string {
	if c.Sandbox() {
		return SandboxAccountSID
	}
	return c.TwilioAccountSID
}

// AuthToken returns the Twilio auth token in use.
func (c *Config) AuthToken() string {
	if c.Sandbox() {
		return SandboxAuthToken
	}
	return c.TwilioAuthToken
}

// WebhookURL joins the public base URL and a path.
func (c *Config) WebhookURL(path string) string { return c.PublicURL + path }
