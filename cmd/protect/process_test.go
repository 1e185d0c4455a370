package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/internal/logbuf"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/store"
)

// childArgs, in a child's environment, holds the protect command line the
// test binary runs instead of its tests (TestMain).
const childArgs = "PROTECT_TEST_CHILD_ARGS"

// startChild runs `protect ARGS` as a real process (this test binary
// again) with env added to the test's environment. The process is killed
// if it is still running when the test ends.
func startChild(t *testing.T, args string, env ...string) (*exec.Cmd, *logbuf.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childArgs+"="+args), env...)
	logs := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill() //nolint:errcheck
			cmd.Wait()         //nolint:errcheck
		}
	})
	return cmd, logs
}

// tempFiles returns a function that writes a file of the test's own
// temporary directory and returns its path.
func tempFiles(t *testing.T) func(name, text string) string {
	dir := t.TempDir()
	return func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// freeAddr returns a local address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// probe GETs url and returns the status code (0 when nothing answers)
// and the body.
func probe(url string) (int, string) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually waits up to d for cond, and fails the test with what
// (and the child's log) otherwise.
func eventually(t *testing.T, d time.Duration, what string, logs *logbuf.Buffer, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("after %s: %s\n--- worker log ---\n%s", d, what, logs.String())
}

// A worker is a process an orchestrator can watch and stop safely: its
// listener (PROTECT_WORKER_ADDR) answers while it waits for `protect
// migrate`, it becomes ready once migrations are applied, and SIGTERM
// stops it taking tasks at once (not ready) but lets the text in flight
// finish: the patient's text is recorded as sent, once, and the process
// exits 0.
func TestWorkerProcess(t *testing.T) {
	cliEnv(t)
	ctx := context.Background()

	// Twilio, holding the first message request until the test lets it go.
	arrived, release := make(chan struct{}, 8), make(chan struct{})
	var creates atomic.Int32
	twilio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/Messages.json") {
			http.NotFound(w, r)
			return
		}
		creates.Add(1)
		arrived <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"sid":"SM00000000000000000000000000000001","status":"queued"}`) //nolint:errcheck
	}))
	defer twilio.Close()
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()

	dbURL := testdb.Empty(t, "worker")
	addr := freeAddr(t)
	base := "http://" + addr
	worker, logs := startChild(t, "worker",
		"PROTECT_DATABASE_URL="+dbURL, "PROTECT_MIGRATE=wait", "PROTECT_WORKER_ADDR="+addr,
		"PROTECT_SANDBOX=1", "PROTECT_TWILIO_API_URL="+twilio.URL, "PROTECT_SHUTDOWN_GRACE=20s",
		"PROTECT_LOG_LEVEL=info", "PROTECT_DB_POOL=4")

	// Waiting for migrations: alive, not ready, and saying why.
	eventually(t, 60*time.Second, "no /healthz while waiting for migrations", logs, func() bool {
		code, _ := probe(base + "/healthz")
		return code == http.StatusOK
	})
	if code, body := probe(base + "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "unavailable") {
		t.Fatalf("/readyz before migrations: %d %s", code, body)
	}
	eventually(t, 30*time.Second, "no 'waiting for migrations' log", logs, func() bool {
		return strings.Contains(logs.String(), "waiting for migrations")
	})

	// `protect migrate` runs (here, in the test): the worker goes on.
	t.Setenv("PROTECT_DATABASE_URL", dbURL)
	t.Setenv("PROTECT_SANDBOX", "1")
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Migrate(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "not ready after migrations", logs, func() bool {
		code, _ := probe(base + "/readyz")
		return code == http.StatusOK
	})
	if !strings.Contains(logs.String(), "schema ready") {
		t.Fatalf("no 'schema ready' log:\n%s", logs.String())
	}
	if code, body := probe(base + "/metrics"); code != http.StatusOK || !strings.Contains(body, "protect_build_info") {
		t.Fatalf("/metrics: %d, build info missing", code)
	}

	// A one-patient campaign, open all day, so its text is due now.
	write := tempFiles(t)
	csv := write("cohort.csv", "nhs_number,given_name,family_name,date_of_birth,mobile,landline\n"+
		"9434765919,Ann,Test,1950-01-01,07911 123456,\n")
	window := write("window.json", `{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"00:00","end":"24:00","timezone":"Europe/London","bank_holidays":"none"}`)
	policy := write("policy.json", `{"steps":[{"channel":"sms","wait":"1h"}],"conversation_timeout":"1h"}`)
	var out, errOut bytes.Buffer
	if err := cmdCohort(ctx, []string{"import", "--cohort", "drain", csv}, &out, &errOut); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut.String())
	}
	for _, args := range [][]string{
		{"create", "--name", "drain", "--cohort", "drain", "--sender", "+441603000111", "--window", window, "--policy", policy},
		{"start", "drain"},
	} {
		if err := cmdCampaign(ctx, args, &out, &errOut); err != nil {
			t.Fatalf("campaign %s: %v\n%s", args[0], err, errOut.String())
		}
	}

	// The text is in flight at Twilio when the orchestrator stops the pod.
	select {
	case <-arrived:
	case <-time.After(90 * time.Second):
		t.Fatalf("the worker never sent the text\n%s", logs.String())
	}
	if err := worker.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "still ready while draining", logs, func() bool {
		code, body := probe(base + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"queue":"unavailable"`)
	})
	if !strings.Contains(logs.String(), "workers draining") {
		t.Fatalf("no 'workers draining' log:\n%s", logs.String())
	}
	time.Sleep(time.Second)
	releaseOnce()

	done := make(chan error, 1)
	go func() { done <- worker.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) || err != nil {
			t.Fatalf("worker exit: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("worker still running 30 s after SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "workers stopped") {
		t.Fatalf("no 'workers stopped' log:\n%s", logs.String())
	}

	// Nothing lost, nothing twice: the text Twilio accepted is recorded.
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var state, sid string
	if err := st.Pool().QueryRow(ctx, `SELECT state, coalesce(provider_sid, '') FROM attempts`).Scan(&state, &sid); err != nil {
		t.Fatal(err)
	}
	if state != "sent" || sid != "SM00000000000000000000000000000001" || creates.Load() != 1 {
		t.Fatalf("after the drain: attempt %s with SID %q, %d message requests", state, sid, creates.Load())
	}
}

// With PROTECT_METRICS_ADDR, a serve process's /metrics leaves its public
// listener (which Twilio and browsers reach) for an address of its own.
func TestServeProcessMetricsApart(t *testing.T) {
	cliEnv(t)
	public, metrics := freeAddr(t), freeAddr(t)
	serve, logs := startChild(t, "serve",
		"PROTECT_HTTP_ADDR="+public, "PROTECT_METRICS_ADDR="+metrics, "PROTECT_SANDBOX=1",
		"PROTECT_TWILIO_API_URL=http://127.0.0.1:9", "PROTECT_SPOOL_DIR="+t.TempDir(), "PROTECT_LOG_LEVEL=info")
	eventually(t, 60*time.Second, "serve not ready", logs, func() bool {
		code, _ := probe("http://" + public + "/readyz")
		return code == http.StatusOK
	})
	if code, _ := probe("http://" + public + "/metrics"); code != http.StatusNotFound {
		t.Fatalf("public /metrics answered %d, want 404", code)
	}
	if code, body := probe("http://" + metrics + "/metrics"); code != http.StatusOK || !strings.Contains(body, "protect_build_info") {
		t.Fatalf("metrics listener: %d", code)
	}
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve exit after SIGTERM: %v\n%s", err, logs.String())
	}
}
