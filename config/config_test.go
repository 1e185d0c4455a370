package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestDefaultsWork(t *testing.T) {
	c, err := FromLookup(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox() || !c.AllowTestNumbers || c.Timezone.String() != "Europe/London" || c.WorkerConcurrency != 20 ||
		c.SessionIdle != 30*time.Minute || len(c.TrustedProxies) != 0 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if !errors.Is(c.RequireTwilio(), ErrNoTwilio) {
		t.Fatal("no credentials and no sandbox must not start")
	}
}

// The sandbox runs only when asked for; without credentials or the
// sandbox, or with both, a gateway does not start, and the message names
// the variables to set. Real credentials need a routing file.
func TestSandboxOnlyWhenAsked(t *testing.T) {
	routing := filepath.Join(t.TempDir(), "routing.yaml")
	if err := os.WriteFile(routing, []byte("teams: []"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := map[string]string{"TWILIO_ACCOUNT_SID": "AC" + strings.Repeat("a", 32), "TWILIO_AUTH_TOKEN": "tok"}
	with := func(extra map[string]string) map[string]string {
		out := maps.Clone(creds)
		maps.Copy(out, extra)
		return out
	}
	tests := []struct {
		name       string
		env        map[string]string
		loadErr    string // FromLookup fails mentioning this
		requireErr string // RequireTwilio fails mentioning this
		sandbox    bool
	}{
		{"nothing set", nil, "", "PROTECT_SANDBOX=1", false},
		{"nothing set names the credentials", nil, "", "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN", false},
		{"sandbox asked for", map[string]string{"PROTECT_SANDBOX": "1"}, "", "", true},
		{"sandbox off", map[string]string{"PROTECT_SANDBOX": "0"}, "", "PROTECT_SANDBOX=1", false},
		{"sandbox and credentials", with(map[string]string{"PROTECT_SANDBOX": "1", "PROTECT_ROUTING_FILE": routing}), "PROTECT_SANDBOX=1 and TWILIO_ACCOUNT_SID", "", false},
		{"sandbox not a boolean", map[string]string{"PROTECT_SANDBOX": "yes please"}, "PROTECT_SANDBOX", "", false},
		{"credentials without routing", creds, "", "PROTECT_ROUTING_FILE", false},
		{"credentials with routing", with(map[string]string{"PROTECT_ROUTING_FILE": routing}), "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromLookup(lookup(tt.env))
			if tt.loadErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.loadErr) {
					t.Fatalf("load error %v, want mention of %q", err, tt.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = c.RequireTwilio()
			if tt.requireErr == "" && err != nil || tt.requireErr != "" && (err == nil || !strings.Contains(err.Error(), tt.requireErr)) {
				t.Fatalf("RequireTwilio: %v, want mention of %q", err, tt.requireErr)
			}
			if c.Sandbox() != tt.sandbox || (c.Sandbox() && c.AccountSID() != SandboxAccountSID) {
				t.Fatalf("sandbox %v (account %s), want %v", c.Sandbox(), c.AccountSID(), tt.sandbox)
			}
		})
	}
}

func TestTrustedProxiesAndIdle(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{"PROTECT_TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.10 ,", "PROTECT_SESSION_IDLE": "45m"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.TrustedProxies, []string{"10.0.0.0/8", "192.168.1.10"}) || c.SessionIdle != 45*time.Minute {
		t.Fatalf("proxies %v idle %v", c.TrustedProxies, c.SessionIdle)
	}
}

func TestReportRefresh(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want time.Duration
	}{
		{map[string]string{}, 30 * time.Second},
		{map[string]string{"PROTECT_REPORT_REFRESH": "5s"}, 5 * time.Second},
		{map[string]string{"PROTECT_REPORT_REFRESH": " 2m "}, 2 * time.Minute},
	}
	for _, tt := range tests {
		c, err := FromLookup(lookup(tt.env))
		if err != nil {
			t.Fatalf("env %v: %v", tt.env, err)
		}
		if c.ReportRefresh != tt.want {
			t.Errorf("env %v: refresh %v, want %v", tt.env, c.ReportRefresh, tt.want)
		}
	}
}

func TestVoices(t *testing.T) {
	tests := []struct {
		env  map[string]string
		rate string
		want map[string]Voice
	}{
		{nil, "90%", map[string]Voice{}},
		{map[string]string{"PROTECT_VOICE_RATE": "slow", "PROTECT_VOICES": " cy=Google.cy-GB-Standard-A/cy-GB , pl=Polly.Maja/pl-PL,"}, "slow",
			map[string]Voice{"cy": {"Google.cy-GB-Standard-A", "cy-GB"}, "pl": {"Polly.Maja", "pl-PL"}}},
		{map[string]string{"PROTECT_VOICE_RATE": "200%"}, "200%", map[string]Voice{}},
	}
	for _, tt := range tests {
		c, err := FromLookup(lookup(tt.env))
		if err != nil {
			t.Fatalf("%v: %v", tt.env, err)
		}
		if c.VoiceRate != tt.rate || !maps.Equal(c.Voices, tt.want) || c.Voice != "Polly.Amy" || c.VoiceLanguage != "en-GB" {
			t.Errorf("%v: rate %q voices %v (English %s %s)", tt.env, c.VoiceRate, c.Voices, c.Voice, c.VoiceLanguage)
		}
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PROTECT_DATABASE_URL": "mysql://x"}, "PROTECT_DATABASE_URL"},
		{map[string]string{"PROTECT_REDIS_URL": "localhost:6379"}, "PROTECT_REDIS_URL"},
		{map[string]string{"PROTECT_HTTP_ADDR": "8080"}, "PROTECT_HTTP_ADDR"},
		{map[string]string{"PROTECT_PUBLIC_URL": "protect.example"}, "PROTECT_PUBLIC_URL"},
		{map[string]string{"PROTECT_TIMEZONE": "Mars/Olympus"}, "PROTECT_TIMEZONE"},
		{map[string]string{"TWILIO_ACCOUNT_SID": "AC123"}, "set both"},
		{map[string]string{"TWILIO_ACCOUNT_SID": "XX123", "TWILIO_AUTH_TOKEN": "t"}, "TWILIO_ACCOUNT_SID"},
		{map[string]string{"PROTECT_WORKER_CONCURRENCY": "0"}, "PROTECT_WORKER_CONCURRENCY"},
		{map[string]string{"PROTECT_LOG_LEVEL": "loud"}, "PROTECT_LOG_LEVEL"},
		{map[string]string{"PROTECT_ALLOW_TEST_NUMBERS": "maybe"}, "PROTECT_ALLOW_TEST_NUMBERS"},
		{map[string]string{"PROTECT_SESSION_KEY": "short"}, "PROTECT_SESSION_KEY"},
		{map[string]string{"PROTECT_VOICE_RATE": "15%"}, "PROTECT_VOICE_RATE"},
		{map[string]string{"PROTECT_VOICE_RATE": "slowly"}, "PROTECT_VOICE_RATE"},
		{map[string]string{"PROTECT_VOICES": "welsh=Polly.Gwyneth/cy-GB"}, "PROTECT_VOICES"},
		{map[string]string{"PROTECT_VOICES": "cy=Polly.Gwyneth"}, "PROTECT_VOICES"},
		{map[string]string{"PROTECT_VOICES": "cy=A/cy-GB,cy=B/cy-GB"}, "PROTECT_VOICES"},
		{map[string]string{"PROTECT_TRUSTED_PROXIES": "10.0.0.0/33"}, "PROTECT_TRUSTED_PROXIES"},
		{map[string]string{"PROTECT_TRUSTED_PROXIES": "proxy.internal"}, "PROTECT_TRUSTED_PROXIES"},
		{map[string]string{"PROTECT_SESSION_IDLE": "30"}, "PROTECT_SESSION_IDLE"},
		{map[string]string{"PROTECT_SESSION_IDLE": "13h"}, "PROTECT_SESSION_IDLE"},
		{map[string]string{"PROTECT_REPORT_REFRESH": "30"}, "PROTECT_REPORT_REFRESH"},
		{map[string]string{"PROTECT_REPORT_REFRESH": "500ms"}, "PROTECT_REPORT_REFRESH"},
		{map[string]string{"PROTECT_REPORT_REFRESH": "2h"}, "PROTECT_REPORT_REFRESH"},
	}
	for _, tt := range tests {
		_, err := FromLookup(lookup(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("env %v: error %v, want mention of %s", tt.env, err, tt.want)
		}
	}
}

func TestRealTwilio(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{
		"TWILIO_ACCOUNT_SID": "AC" + strings.Repeat("a", 32), "TWILIO_AUTH_TOKEN": "tok",
		"PROTECT_PUBLIC_URL": "https://protect.example.nhs.uk/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox() || c.AllowTestNumbers || c.PublicURL != "https://protect.example.nhs.uk" {
		t.Fatalf("unexpected: %+v", c)
	}
	if c.WebhookURL("/webhooks/twilio/sms") != "https://protect.example.nhs.uk/webhooks/twilio/sms" {
		t.Fatal(c.WebhookURL("/webhooks/twilio/sms"))
	}
}

// TestREADMEDocumentsEveryVariable keeps the README's configuration table
// and Vars in step.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(b), "| `"+v.Name+"` |") {
			t.Errorf("README.md has no table row for %s", v.Name)
		}
	}
}

// TestScaleOutSettings covers the settings of many-process deployments:
// pool size, PgBouncer, migrations, listeners, drain, and secrets read
// from files.
func TestScaleOutSettings(t *testing.T) {
	dir := t.TempDir()
	tokenFile := dir + "/token"
	if err := os.WriteFile(tokenFile, []byte("s3cret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opsFile := dir + "/ops"
	if err := os.WriteFile(opsFile, []byte("https://hooks.example/from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	real := map[string]string{"TWILIO_ACCOUNT_SID": "AC" + strings.Repeat("a", 32)}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := maps.Clone(base)
		if out == nil {
			out = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	good := []struct {
		name  string
		env   map[string]string
		check func(*Config) bool
	}{
		{"defaults", nil, func(c *Config) bool {
			return c.DBPool == 0 && !c.DBPgBouncer && c.Migrate == "" && c.MigrateTimeout == 10*time.Minute &&
				c.ShutdownGrace == 25*time.Second && c.MigrateDatabaseURL == c.DatabaseURL && c.WorkerAddr == "" && c.MetricsAddr == ""
		}},
		{"pool and pgbouncer", with(nil, "PROTECT_DB_POOL", "6", "PROTECT_DB_PGBOUNCER", "true",
			"PROTECT_DATABASE_URL", "postgres://protect@pgbouncer:6432/protect", "PROTECT_MIGRATE_DATABASE_URL", "postgres://protect@postgres:5432/protect"),
			func(c *Config) bool {
				return c.DBPool == 6 && c.DBPgBouncer && c.MigrateDatabaseURL == "postgres://protect@postgres:5432/protect"
			}},
		{"wait for migrations", with(nil, "PROTECT_MIGRATE", "WAIT", "PROTECT_MIGRATE_TIMEOUT", "90s"),
			func(c *Config) bool { return c.Migrate == "wait" && c.MigrateTimeout == 90*time.Second }},
		{"listeners", with(nil, "PROTECT_WORKER_ADDR", "0.0.0.0:9091", "PROTECT_METRICS_ADDR", ":9090", "PROTECT_SHUTDOWN_GRACE", "1m"),
			func(c *Config) bool {
				return c.WorkerAddr == "0.0.0.0:9091" && c.MetricsAddr == ":9090" && c.ShutdownGrace == time.Minute
			}},
		{"sentinel", with(nil, "PROTECT_REDIS_URL", "redis-sentinel://s1:26379,s2:26379/mymaster/0"),
			func(c *Config) bool { return c.RedisURL == "redis-sentinel://s1:26379,s2:26379/mymaster/0" }},
		{"secret from a file", with(real, "TWILIO_AUTH_TOKEN_FILE", tokenFile),
			func(c *Config) bool { return c.TwilioAuthToken == "s3cret-from-file" }},
		{"sender holds by default", nil, func(c *Config) bool {
			return c.OpsWebhookURL == "" && c.HoldAfterFaults == 20 && c.HoldFaultWindow == time.Minute
		}},
		{"sender holds", with(nil, "PROTECT_OPS_WEBHOOK_URL", "https://hooks.example/T0/B0/x", "PROTECT_HOLD_FAULTS", "50",
			"PROTECT_HOLD_FAULT_WINDOW", "2m"), func(c *Config) bool {
			return c.OpsWebhookURL == "https://hooks.example/T0/B0/x" && c.HoldAfterFaults == 50 && c.HoldFaultWindow == 2*time.Minute
		}},
		{"operations webhook from a file", with(nil, "PROTECT_OPS_WEBHOOK_URL_FILE", opsFile),
			func(c *Config) bool { return c.OpsWebhookURL == "https://hooks.example/from-file" }},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromLookup(lookup(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("unexpected: %+v", c)
			}
		})
	}
	bad := []struct {
		env  map[string]string
		want string
	}{
		{with(nil, "PROTECT_DB_POOL", "0"), "PROTECT_DB_POOL"},
		{with(nil, "PROTECT_DB_PGBOUNCER", "sometimes"), "PROTECT_DB_PGBOUNCER"},
		{with(nil, "PROTECT_MIGRATE", "later"), "PROTECT_MIGRATE"},
		{with(nil, "PROTECT_MIGRATE_TIMEOUT", "forever"), "PROTECT_MIGRATE_TIMEOUT"},
		{with(nil, "PROTECT_SHUTDOWN_GRACE", "-5s"), "PROTECT_SHUTDOWN_GRACE"},
		{with(nil, "PROTECT_WORKER_ADDR", "9091"), "PROTECT_WORKER_ADDR"},
		{with(nil, "PROTECT_MIGRATE_DATABASE_URL", "mysql://x"), "PROTECT_MIGRATE_DATABASE_URL"},
		{with(real, "TWILIO_AUTH_TOKEN", "t", "TWILIO_AUTH_TOKEN_FILE", tokenFile), "set one, not both"},
		{with(real, "TWILIO_AUTH_TOKEN_FILE", dir+"/missing"), "TWILIO_AUTH_TOKEN_FILE"},
		{with(nil, "PROTECT_OPS_WEBHOOK_URL", "hooks.example/x"), "PROTECT_OPS_WEBHOOK_URL"},
		{with(nil, "PROTECT_HOLD_FAULTS", "0"), "PROTECT_HOLD_FAULTS"},
		{with(nil, "PROTECT_HOLD_FAULT_WINDOW", "2h"), "PROTECT_HOLD_FAULT_WINDOW"},
	}
	for _, tt := range bad {
		_, err := FromLookup(lookup(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("env %v: error %v, want mention of %s", tt.env, err, tt.want)
		}
	}
}
