// Command importbench measures `protect cohort import` on a generated
// cohort: wall time and peak memory (maximum resident set size) of the
// protect process, on a fresh database.
//
//	go run ./bench/importbench -rows 1000000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/protectnow/protect/bench/internal/benchdb"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "patients in the generated extract")
	bin := flag.String("bin", "bin/protect", "protect binary")
	runs := flag.Int("runs", 1, "imports of the same file (the second shows a re-import)")
	flag.Parse()
	if err := run(*rows, *bin, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "importbench:", err)
		os.Exit(1)
	}
}

func run(rows int, bin string, runs int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "importbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cohort.csv")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := benchdb.WriteCohort(f, rows, 42, false); err != nil {
		return err
	}
	f.Close()
	fi, _ := os.Stat(path)
	dbURL, err := benchdb.Fresh(ctx, "protect_bench_import")
	if err != nil {
		return err
	}
	defer benchdb.Drop(ctx, "protect_bench_import")
	env := append(os.Environ(), "PROTECT_DATABASE_URL="+dbURL, "PROTECT_LOG_LEVEL=warn")
	mig := exec.Command(bin, "migrate")
	mig.Env = env
	if out, err := mig.CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %v: %s", err, out)
	}
	fmt.Printf("extract: %d rows, %.1f MB\n", rows, float64(fi.Size())/1e6)
	for i := 1; i <= runs; i++ {
		cmd := exec.Command(bin, "cohort", "import", "--json", "--cohort", "bench", path)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("import: %v: %s", err, errb.String())
		}
		wall := time.Since(start)
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		var sum map[string]any
		json.Unmarshal(out.Bytes(), &sum) //nolint:errcheck
		fmt.Printf("run %d: %.1f s wall, %.0f rows/s, peak RSS %.0f MB, user %.1f s, sys %.1f s\n", i, wall.Seconds(),
			float64(rows)/wall.Seconds(), float64(ru.Maxrss)/1024, time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds())
		fmt.Printf("  accepted=%v updated=%v unchanged=%v no_contact_route=%v rejected=%v duplicates=%v\n",
			sum["accepted"], sum["updated"], sum["unchanged"], sum["no_contact_route"], sum["rejected"], sum["duplicates"])
	}
	return nil
}
