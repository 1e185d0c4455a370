// Command chaos is Protect's fault harness. It starts real processes
// (protect serve, three protect worker processes, a Redis of its own, and
// for one scenario a PostgreSQL cluster of its own), the Twilio sandbox
// on a port of its own, and injects real faults, then counts what the
// simulated patients received and what PostgreSQL holds. It treats the
// binary as a black box, so it can judge any build of bin/protect.
//
//	go run ./bench/chaos -scenario all           # make chaos
//	go run ./bench/chaos -scenario lossy -quick  # a small, fast run
//
// Scenarios (CHAOS.md has the details and the measured counts):
//
//	lossy      Twilio's answers to message creation are lost (dropped
//	           connection or 502) after Twilio acted; status callbacks late
//	kill       kill -9 of a random worker every few seconds through a
//	           two-step campaign
//	pgrestart  PostgreSQL stopped while replies arrive, against the same
//	           run without the stop
//	import     broken cohort files
//	soak       many processes (2 serve, 3 workers, PgBouncer, Redis
//	           with a replica and 3 sentinels) with kill -9 of workers,
//	           a serve and the Redis master; not part of "all" (make soak)
//
// It prints the counts of each scenario and exits 1 when a promise is
// broken, 3 when the harness itself could not run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Params size and shape the scenarios. Full() is what `make chaos` runs;
// Quick() is the version that runs in `go test`.
type Params struct {
	Bin      string // protect binary under test; built when empty
	Root     string // repository root (routing file, building)
	Dir      string // work directory: logs of every process
	AdminURL string // PostgreSQL server for the scenarios that do not stop it

	Workers     int
	Concurrency int
	Seed        uint64

	LossyPatients int
	LossyPace     float64
	Drop          float64 // share of create answers dropped
	BadGateway    float64 // share answered 502
	CallbackDelay time.Duration
	LossyLimit    time.Duration

	KillPatients int
	KillPace     float64
	KillWait     time.Duration // each step's wait
	KillEvery    time.Duration
	KillLimit    time.Duration

	PGPatients int
	PGPace     float64
	ReplyRate  float64
	Outage     time.Duration
	OutageAt   time.Duration // after the first reply
	PGLimit    time.Duration

	ImportRows int

	SoakPatients    int
	SoakPace        float64
	SoakKillEvery   time.Duration
	SoakServeKillAt time.Duration
	SoakFailoverAt  time.Duration
	SoakLimit       time.Duration
}

// Full is the size `make chaos` runs: a few minutes on two cores.
func Full() Params {
	return Params{Workers: 3, Concurrency: 10, Seed: 1,
		LossyPatients: 200, LossyPace: 20, Drop: 0.2, BadGateway: 0.2, CallbackDelay: 5 * time.Second, LossyLimit: 2 * time.Minute,
		KillPatients: 3000, KillPace: 50, KillWait: time.Minute, KillEvery: 4 * time.Second, KillLimit: 6 * time.Minute,
		PGPatients: 2000, PGPace: 100, ReplyRate: 500, Outage: 30 * time.Second, OutageAt: 3 * time.Second, PGLimit: 3 * time.Minute,
		ImportRows:   5000,
		SoakPatients: 20000, SoakPace: 200, SoakKillEvery: 10 * time.Second, SoakServeKillAt: 30 * time.Second, SoakFailoverAt: 60 * time.Second,
		SoakLimit: 15 * time.Minute}
}

// Quick is a small version of lossy, kill and import for `go test`.
func Quick() Params {
	p := Full()
	p.LossyPatients, p.LossyPace, p.CallbackDelay, p.LossyLimit = 40, 20, 2*time.Second, 30*time.Second
	p.KillPatients, p.KillPace, p.KillWait, p.KillEvery, p.KillLimit = 300, 50, time.Minute, 2*time.Second, 150*time.Second
	p.SoakPatients, p.SoakPace, p.SoakKillEvery, p.SoakServeKillAt, p.SoakFailoverAt, p.SoakLimit = 1000, 100, 5*time.Second, 4*time.Second, 8*time.Second, 3*time.Minute
	p.PGPatients, p.PGPace, p.ReplyRate, p.Outage, p.OutageAt, p.PGLimit = 300, 100, 200, 5*time.Second, 2*time.Second, time.Minute
	return p
}

func bindFlags(fs *flag.FlagSet, p *Params) {
	fs.StringVar(&p.Bin, "bin", p.Bin, "protect binary to test (default: build ./cmd/protect)")
	fs.StringVar(&p.Dir, "dir", p.Dir, "work directory for logs (default: a new temporary directory, kept)")
	fs.StringVar(&p.AdminURL, "admin-url", p.AdminURL, "PostgreSQL server for lossy, kill and import (a database is created per run)")
	fs.IntVar(&p.Workers, "workers", p.Workers, "protect worker processes")
	fs.IntVar(&p.Concurrency, "concurrency", p.Concurrency, "PROTECT_WORKER_CONCURRENCY of each worker")
	fs.Uint64Var(&p.Seed, "seed", p.Seed, "seed of the faults")
	fs.IntVar(&p.LossyPatients, "lossy-patients", p.LossyPatients, "lossy: patients")
	fs.Float64Var(&p.LossyPace, "lossy-pace", p.LossyPace, "lossy: campaign pace (texts/s)")
	fs.Float64Var(&p.Drop, "drop", p.Drop, "lossy: share of message creations whose answer is dropped")
	fs.Float64Var(&p.BadGateway, "bad-gateway", p.BadGateway, "lossy: share of message creations answered 502")
	fs.DurationVar(&p.CallbackDelay, "callback-delay", p.CallbackDelay, "lossy: time between a message's status callbacks")
	fs.DurationVar(&p.LossyLimit, "lossy-limit", p.LossyLimit, "lossy: longest wait for every attempt to settle")
	fs.IntVar(&p.KillPatients, "kill-patients", p.KillPatients, "kill: patients")
	fs.Float64Var(&p.KillPace, "kill-pace", p.KillPace, "kill: campaign pace (texts/s)")
	fs.DurationVar(&p.KillWait, "kill-wait", p.KillWait, "kill: wait of each of the two steps")
	fs.DurationVar(&p.KillEvery, "kill-every", p.KillEvery, "kill: time between two kill -9")
	fs.DurationVar(&p.KillLimit, "kill-limit", p.KillLimit, "kill: longest run")
	fs.IntVar(&p.PGPatients, "pg-patients", p.PGPatients, "pgrestart: patients (each sends 5 replies)")
	fs.Float64Var(&p.PGPace, "pg-pace", p.PGPace, "pgrestart: pace of the first texts")
	fs.Float64Var(&p.ReplyRate, "reply-rate", p.ReplyRate, "pgrestart: replies per second")
	fs.DurationVar(&p.Outage, "outage", p.Outage, "pgrestart: how long PostgreSQL is down")
	fs.DurationVar(&p.OutageAt, "outage-at", p.OutageAt, "pgrestart: when it goes down, after the first reply")
	fs.DurationVar(&p.PGLimit, "pg-limit", p.PGLimit, "pgrestart: longest wait for the replies to be applied after the stream")
	fs.IntVar(&p.SoakPatients, "soak-patients", p.SoakPatients, "soak: patients")
	fs.Float64Var(&p.SoakPace, "soak-pace", p.SoakPace, "soak: campaign pace (texts/s)")
	fs.DurationVar(&p.SoakKillEvery, "soak-kill-every", p.SoakKillEvery, "soak: time between two kill -9 of a worker")
	fs.DurationVar(&p.SoakServeKillAt, "soak-serve-kill-at", p.SoakServeKillAt, "soak: when a serve gets kill -9, after the start")
	fs.DurationVar(&p.SoakFailoverAt, "soak-failover-at", p.SoakFailoverAt, "soak: when the Redis master gets kill -9, after the start")
	fs.DurationVar(&p.SoakLimit, "soak-limit", p.SoakLimit, "soak: longest run")
	fs.IntVar(&p.ImportRows, "import-rows", p.ImportRows, "import: valid rows before the long line")
}

// scenarios in the order `all` runs them.
var scenarios = []struct {
	name string
	run  func(ctx context.Context, p Params) (*Report, error)
}{
	{"import", runImport},
	{"lossy", runLossy},
	{"kill", runKill},
	{"pgrestart", runPGRestart},
	{"soak", runSoak},
}

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout))
}

func runMain(args []string, out io.Writer) int {
	scenario, quick := "all", false
	pre := flag.NewFlagSet("chaos", flag.ContinueOnError)
	pre.SetOutput(io.Discard)
	pre.BoolVar(&quick, "quick", false, "")
	pre.StringVar(&scenario, "scenario", scenario, "")
	p := Full()
	bindFlags(pre, &p)
	pre.Parse(args) //nolint:errcheck // parsed again below with errors shown
	if quick {
		p = Quick()
	}
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.BoolVar(&quick, "quick", quick, "the small sizes of `go test`")
	fs.StringVar(&scenario, "scenario", scenario, "import, lossy, kill, pgrestart, all (those four), or soak")
	bindFlags(fs, &p)
	if err := fs.Parse(args); err != nil {
		return 3
	}
	known := scenario == "all"
	for _, s := range scenarios {
		known = known || s.name == scenario
	}
	if !known {
		fmt.Fprintf(out, "chaos: unknown scenario %q (import, lossy, kill, pgrestart, all or soak)\n", scenario)
		return 3
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := prepare(ctx, &p, out); err != nil {
		fmt.Fprintln(out, "chaos:", err)
		return 3
	}
	status := 0
	for _, s := range scenarios {
		if scenario != "all" && scenario != s.name || scenario == "all" && s.name == "soak" {
			continue // soak is long: make soak
		}
		start := time.Now()
		r, err := s.run(ctx, p)
		if err != nil {
			fmt.Fprintf(out, "== %s: harness error after %s: %v\n", s.name, time.Since(start).Round(time.Second), err)
			status = max(status, 3)
			continue
		}
		fmt.Fprintf(out, "%s   (%s)\n", r, time.Since(start).Round(time.Second))
		if len(r.Broken) > 0 {
			status = max(status, 1)
		}
	}
	fmt.Fprintf(out, "logs: %s\n", p.Dir)
	return status
}

// prepare finds the repository, the work directory and the binary.
func prepare(ctx context.Context, p *Params, out io.Writer) error {
	if p.Root == "" {
		root, err := repoRoot()
		if err != nil {
			return err
		}
		p.Root = root
	}
	if p.AdminURL == "" {
		p.AdminURL = os.Getenv("PROTECT_BENCH_DATABASE_URL")
	}
	if p.AdminURL == "" {
		p.AdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if p.Dir == "" {
		d, err := os.MkdirTemp("", "protect-chaos-")
		if err != nil {
			return err
		}
		p.Dir = d
	}
	if p.Bin == "" {
		p.Bin = filepath.Join(p.Dir, "protect")
		fmt.Fprintln(out, "building", p.Bin)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", p.Bin, "./cmd/protect")
		cmd.Dir = p.Root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build: %w\n%s", err, b)
		}
	}
	abs, err := filepath.Abs(p.Bin)
	if err != nil {
		return err
	}
	p.Bin = abs
	return nil
}

// repoRoot is the directory of go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Report is what one scenario measured: named counts, in order, and the
// promises the run broke.
type Report struct {
	Scenario string
	Counts   []Count
	Broken   []string
	Notes    []string
}

// Count is one measured number.
type Count struct {
	Name  string
	Value int
}

func (r *Report) add(name string, v int) { r.Counts = append(r.Counts, Count{name, v}) }

// expect records a broken promise when ok is false.
func (r *Report) expect(ok bool, format string, args ...any) {
	if !ok {
		r.Broken = append(r.Broken, fmt.Sprintf(format, args...))
	}
}

// Get returns the count called name (0 when absent).
func (r *Report) Get(name string) int {
	for _, c := range r.Counts {
		if c.Name == name {
			return c.Value
		}
	}
	return 0
}

func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s\n", r.Scenario)
	for _, c := range r.Counts {
		fmt.Fprintf(&b, "  %-44s %8d\n", c.Name, c.Value)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	if len(r.Broken) == 0 {
		b.WriteString("  PASS: every promise held")
	} else {
		for _, s := range r.Broken {
			fmt.Fprintf(&b, "  BROKEN: %s\n", s)
		}
		fmt.Fprintf(&b, "  FAIL: %d promises broken", len(r.Broken))
	}
	return b.String()
}
