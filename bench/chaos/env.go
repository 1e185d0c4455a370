package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/protectnow/protect/bench/internal/benchdb"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/sandbox"
)

// Sender is the number the campaigns text from; Twilio's stand-in accepts
// it.
const sender = "+447700900999"

// env is the world of one run: a directory, a Redis of its own, a fresh
// database, the Twilio sandbox, and the protect processes under test.
type env struct {
	p     Params
	name  string
	dir   string
	procs *procs

	redisURL string
	adminURL string // the PostgreSQL server the database lives on
	dbName   string
	dbURL    string
	db       *pgxpool.Pool // the harness's own reads
	// clientDBURL, when set, is where protect processes reach the
	// database (PgBouncer); migrations still go to dbURL.
	clientDBURL string
	// extraEnv is added to every protect process's environment.
	extraEnv []string

	sb         *sandbox.Server
	sandboxURL string
	// twilioURL is where the workers send API requests: the sandbox, or a
	// lossy proxy in front of it.
	twilioURL string

	httpAddr  string
	publicURL string
	serve     *proc
	workers   []*proc
	restarts  int
}

// newEnv makes the run's directory under p.Dir and starts its Redis.
func newEnv(ctx context.Context, p Params, name string) (*env, error) {
	dir := filepath.Join(p.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	e := &env{p: p, name: name, dir: dir, procs: &procs{dir: dir}, adminURL: p.AdminURL}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	r, err := e.procs.start("redis", nil, "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir)
	if err != nil {
		e.close()
		return nil, err
	}
	if err := waitTCP(ctx, addr, r, 10*time.Second); err != nil {
		e.close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	e.redisURL = "redis://" + addr + "/0"
	return e, nil
}

// close stops every process, the sandbox, and drops the database.
func (e *env) close() {
	e.procs.stopAll()
	if e.sb != nil {
		e.sb.Close()
	}
	if e.db != nil {
		e.db.Close()
	}
	if e.dbName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		benchdb.DropOn(ctx, e.adminURL, e.dbName)
		cancel()
	}
}

// freshDB makes the run's database and migrates it with the binary under
// test.
func (e *env) freshDB(ctx context.Context) error {
	e.dbName = "chaos_" + strings.ReplaceAll(e.name, "-", "_") + fmt.Sprintf("_%d", os.Getpid())
	u, err := benchdb.FreshOn(ctx, e.adminURL, e.dbName)
	if err != nil {
		return err
	}
	e.dbURL = u
	if e.db, err = pgxpool.New(ctx, withPool(u, 2)); err != nil {
		return err
	}
	if out, errOut, err := e.cliSplit(ctx, time.Minute, "migrate"); err != nil {
		return fmt.Errorf("migrate: %w\n%s%s", err, out, errOut)
	}
	return nil
}

// withPool limits the PostgreSQL connections of a process: the shared
// server has 100 for every helper at once.
func withPool(u string, n int) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return fmt.Sprintf("%s%spool_max_conns=%d", u, sep, n)
}

// childEnv is the environment of a protect process: the sandbox's
// credentials, this run's database, Redis and addresses. The sandbox's
// credentials are given as real ones (PROTECT_SANDBOX is not set: the
// configuration refuses it with credentials), so the routing file, which
// real credentials require, is set too.
func (e *env) childEnv(pool int, twilioURL string) []string {
	db := e.dbURL
	if e.clientDBURL != "" {
		db = e.clientDBURL
	}
	return append([]string{
		"PROTECT_DATABASE_URL=" + withPool(db, pool),
		"PROTECT_MIGRATE_DATABASE_URL=" + e.dbURL,
		"PROTECT_REDIS_URL=" + e.redisURL,
		"PROTECT_HTTP_ADDR=" + e.httpAddr,
		"PROTECT_PUBLIC_URL=" + e.publicURL,
		"PROTECT_TWILIO_API_URL=" + twilioURL,
		"TWILIO_ACCOUNT_SID=" + config.SandboxAccountSID,
		"TWILIO_AUTH_TOKEN=" + config.SandboxAuthToken,
		"PROTECT_ROUTING_FILE=" + filepath.Join(e.p.Root, "escalation", "default_routing.yaml"),
		"PROTECT_ALLOW_TEST_NUMBERS=true",
		"PROTECT_WORKER_CONCURRENCY=" + fmt.Sprint(e.p.Concurrency),
		"PROTECT_SESSION_KEY=chaos-harness-session-key-0123456789abcdef",
		"PROTECT_LOG_LEVEL=info",
		// serve's inbound spool in the run's directory, not wherever the
		// harness was started.
		"PROTECT_SPOOL_DIR=" + filepath.Join(e.dir, "spool"),
	}, e.extraEnv...)
}

// cliSplit runs a protect command to the end and returns its standard
// output and error apart. An exit status other than 0 is an
// *exec.ExitError.
func (e *env) cliSplit(ctx context.Context, limit time.Duration, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.p.Bin, args...)
	cmd.Env = append(os.Environ(), e.childEnv(2, e.sandboxURL)...)
	cmd.Dir = e.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var o, eb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &eb
	err = cmd.Run()
	return o.String(), eb.String(), err
}

// startSandbox starts the Twilio sandbox on a port of its own; its
// simulated patients text the gateway's public inbound URL.
func (e *env) startSandbox(callbackDelay time.Duration) error {
	lf, err := os.Create(filepath.Join(e.dir, "sandbox.log"))
	if err != nil {
		return err
	}
	if e.httpAddr == "" {
		if e.httpAddr, err = freeAddr(); err != nil {
			return err
		}
		e.publicURL = "http://" + e.httpAddr
	}
	e.sb, err = sandbox.New(sandbox.Config{AccountSID: config.SandboxAccountSID, AuthToken: config.SandboxAuthToken,
		InboundSMSURL: e.publicURL + "/webhooks/twilio/sms", CallbackDelay: callbackDelay, Workers: 16,
		Logger: slog.New(slog.NewTextHandler(lf, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	if e.sandboxURL, err = e.sb.Start("127.0.0.1:0"); err != nil {
		return err
	}
	if e.twilioURL == "" {
		e.twilioURL = e.sandboxURL
	}
	return nil
}

// startServe starts `protect serve` and waits until it answers.
func (e *env) startServe(ctx context.Context, pool int) error {
	var err error
	e.serve, err = e.procs.start("serve", e.childEnv(pool, e.sandboxURL), e.p.Bin, "serve")
	if err != nil {
		return err
	}
	return waitHTTP(ctx, e.publicURL+"/healthz", e.serve, 60*time.Second)
}

// startWorkers starts n `protect worker` processes; they reach Twilio
// through e.twilioURL.
func (e *env) startWorkers(n, pool int) error {
	for i := range n {
		w, err := e.procs.start(fmt.Sprintf("worker%d", i+1), e.childEnv(pool, e.twilioURL), e.p.Bin, "worker")
		if err != nil {
			return err
		}
		e.workers = append(e.workers, w)
	}
	return nil
}

// restartWorker kills worker i with SIGKILL and starts a new one in its
// place.
func (e *env) restartWorker(i, pool int) error {
	e.workers[i].kill()
	e.restarts++
	w, err := e.procs.start(fmt.Sprintf("worker%d", i+1), e.childEnv(pool, e.twilioURL), e.p.Bin, "worker")
	if err != nil {
		return err
	}
	e.workers[i] = w
	return nil
}

// campaignSpec is what a scenario's campaign looks like.
type campaignSpec struct {
	name     string
	patients []patient
	policy   string // JSON
	pace     float64
}

// alwaysOpen is a sending window open at every hour.
var alwaysOpen = string(benchdb.AlwaysOpen)

// startCampaign imports the cohort, creates the campaign and starts it,
// all through the binary's CLI as an operator would.
func (e *env) startCampaign(ctx context.Context, c campaignSpec) error {
	csvPath := filepath.Join(e.dir, c.name+".csv")
	if err := writeFile(csvPath, func(w io.Writer) error { return writeCohort(w, c.patients) }); err != nil {
		return err
	}
	policy, window := filepath.Join(e.dir, c.name+"-policy.json"), filepath.Join(e.dir, "window.json")
	if err := os.WriteFile(policy, []byte(c.policy), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(window, []byte(alwaysOpen), 0o644); err != nil {
		return err
	}
	steps := [][]string{
		{"cohort", "import", "--cohort", c.name, "--report", filepath.Join(e.dir, c.name+"-report.csv"), csvPath},
		{"campaign", "create", "--name", c.name, "--cohort", c.name, "--sender", sender, "--pace", fmt.Sprint(c.pace),
			"--window", window, "--policy", policy, "--programme", "Chaos Protect", "--team-phone", "01603 000000"},
		{"campaign", "start", c.name},
	}
	for _, args := range steps {
		if out, errOut, err := e.cliSplit(ctx, 2*time.Minute, args...); err != nil {
			return fmt.Errorf("protect %s: %w\n%s%s", strings.Join(args[:2], " "), err, out, errOut)
		}
	}
	return nil
}

// texts returns, for each number, the texts the gateway sent it (by REST
// or in a TwiML answer), in the order the sandbox received them.
func (e *env) texts() map[string][]sandbox.Message {
	out := map[string][]sandbox.Message{}
	for _, m := range e.sb.Messages() {
		out[m.To] = append(out[m.To], m)
	}
	return out
}

// count runs a counting query on the run's database.
func (e *env) count(ctx context.Context, sql string, args ...any) (int, error) {
	var n int
	if err := e.db.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", sql, err)
	}
	return n, nil
}

// unsettled counts the attempts still to be sent or being sent.
func (e *env) unsettled(ctx context.Context) (int, error) {
	return e.count(ctx, `SELECT count(*) FROM attempts WHERE state IN ('planned', 'queued', 'sending', 'retry')`)
}

// outcomes maps each patient's NHS number to their journey's state and
// outcome ("done/fine").
func (e *env) outcomes(ctx context.Context) (map[string]string, error) {
	rows, err := e.db.Query(ctx, `SELECT p.nhs_number, cp.state || '/' || coalesce(cp.outcome, '')
		FROM campaign_patients cp JOIN patients p ON p.id = cp.patient_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var nhs, o string
		if err := rows.Scan(&nhs, &o); err != nil {
			return nil, err
		}
		out[nhs] = o
	}
	return out, rows.Err()
}

// attemptStates counts attempts by state.
func (e *env) attemptStates(ctx context.Context) (map[string]int, error) {
	rows, err := e.db.Query(ctx, `SELECT state, count(*) FROM attempts GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = fill(f)
	return errors.Join(err, f.Close())
}

// explain describes a patient's journey and attempts as PostgreSQL holds
// them and the texts the sandbox delivered, for a report's notes: when a
// promise breaks, the note says where the patient stopped.
func (e *env) explain(ctx context.Context, p patient, texts []sandbox.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "patient %s:", p.NHS)
	var state, outcome string
	var step int
	var wait *time.Time
	err := e.db.QueryRow(ctx, `SELECT cp.state, coalesce(cp.outcome, ''), cp.step, cp.wait_until
		FROM campaign_patients cp JOIN patients pt ON pt.id = cp.patient_id WHERE pt.nhs_number = $1`, p.NHS).
		Scan(&state, &outcome, &step, &wait)
	if err != nil {
		return fmt.Sprintf("%s journey: %v", b.String(), err)
	}
	fmt.Fprintf(&b, " journey %s/%s step %d wait_until %s;", state, outcome, step, stamp(wait))
	rows, err := e.db.Query(ctx, `SELECT a.id, a.step, a.state, a.tries, a.first_claimed_at, a.sent_at,
			coalesce(a.provider_sid, ''), coalesce(a.error_message, '')
		FROM attempts a JOIN patients pt ON pt.id = a.patient_id WHERE pt.nhs_number = $1 ORDER BY a.step`, p.NHS)
	if err != nil {
		return fmt.Sprintf("%s attempts: %v", b.String(), err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var st, tries int
		var as, sid, msg string
		var claimed, sent *time.Time
		if err := rows.Scan(&id, &st, &as, &tries, &claimed, &sent, &sid, &msg); err != nil {
			return fmt.Sprintf("%s attempts: %v", b.String(), err)
		}
		fmt.Fprintf(&b, " attempt %d step %d %s tries %d first claimed %s sent %s sid %q %q;", id, st, as, tries, stamp(claimed), stamp(sent), sid, msg)
	}
	for _, m := range texts {
		fmt.Fprintf(&b, " text %s %s at %s %q;", m.SID, m.Status, m.Created.Format("15:04:05.000"), clipBody(m.Body))
	}
	return b.String()
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("15:04:05.000")
}

func clipBody(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}
