package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/protectnow/protect/internal/clip"
)

// brokenFile is a cohort file that must be refused whole.
type brokenFile struct {
	name  string
	write func(w io.Writer, p Params) error
}

var brokenFiles = []brokenFile{
	{"binary-garbage", func(w io.Writer, p Params) error {
		// Valid rows, then what a truncated or mis-encoded extract ends
		// with: bytes that are neither text nor CSV.
		bw := bufio.NewWriter(w)
		bw.WriteString(cohortHeader) //nolint:errcheck
		for _, pt := range makePatients(0, 1000) {
			writeRow(bw, pt)
		}
		rnd := rand.New(rand.NewPCG(p.Seed, 3))
		for range 4096 {
			bw.WriteByte(byte(rnd.IntN(256))) //nolint:errcheck
		}
		return bw.Flush()
	}},
	{"long-line", func(w io.Writer, p Params) error {
		// Valid rows, then one line of 200 KB, then more valid rows.
		bw := bufio.NewWriter(w)
		bw.WriteString(cohortHeader) //nolint:errcheck
		ps := makePatients(0, p.ImportRows+10)
		for _, pt := range ps[:p.ImportRows] {
			writeRow(bw, pt)
		}
		fmt.Fprintf(bw, "%s,%s,Chaos,1950-01-01,07911 999999,\n", "9434765919", strings.Repeat("A", 200<<10))
		for _, pt := range ps[p.ImportRows:] {
			writeRow(bw, pt)
		}
		return bw.Flush()
	}},
	{"unterminated-quote", func(w io.Writer, p Params) error {
		// A quote that never closes swallows every row after it.
		bw := bufio.NewWriter(w)
		bw.WriteString(cohortHeader) //nolint:errcheck
		ps := makePatients(0, 31)
		for _, pt := range ps[:20] {
			writeRow(bw, pt)
		}
		fmt.Fprintf(bw, "%s,\"%s,Chaos,1950-01-01,%s,\n", ps[20].NHS, ps[20].Given, ps[20].Mobile)
		for _, pt := range ps[21:] {
			writeRow(bw, pt)
		}
		return bw.Flush()
	}},
}

// runImport imports each broken file into a fresh database with `protect
// cohort import`. Promise: a clear error, a non-zero exit that is not a
// panic, nothing imported, and the import record finished.
func runImport(ctx context.Context, p Params) (*Report, error) {
	r := &Report{Scenario: "import: broken cohort files"}
	for _, f := range brokenFiles {
		if err := importOne(ctx, p, f, r); err != nil {
			return r, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return r, nil
}

func importOne(ctx context.Context, p Params, f brokenFile, r *Report) error {
	e, err := newEnv(ctx, p, "import-"+f.name)
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.freshDB(ctx); err != nil {
		return err
	}
	path := filepath.Join(e.dir, f.name+".csv")
	if err := writeFile(path, func(w io.Writer) error { return f.write(w, p) }); err != nil {
		return err
	}
	_, stderr, err := e.cliSplit(ctx, 2*time.Minute, "cohort", "import", "--cohort", f.name, path)
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		return err
	}
	panicked := strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ")
	msg := firstLine(stderr)
	patients, err := e.count(ctx, `SELECT count(*) FROM patients`)
	if err != nil {
		return err
	}
	members, err := e.count(ctx, `SELECT count(*) FROM cohort_members`)
	if err != nil {
		return err
	}
	unfinished, err := e.count(ctx, `SELECT count(*) FROM imports WHERE finished_at IS NULL`)
	if err != nil {
		return err
	}
	r.add(f.name+": exit status", code)
	r.add(f.name+": panicked (1 = yes)", b2i(panicked))
	r.add(f.name+": patients imported", patients)
	r.add(f.name+": cohort members", members)
	r.add(f.name+": import records left unfinished", unfinished)
	if err := os.WriteFile(filepath.Join(e.dir, "import-stderr.txt"), []byte(stderr), 0o644); err != nil {
		return err
	}
	r.expect(code != 0, "%s: the import succeeded (exit 0)", f.name)
	r.expect(!panicked, "%s: the import panicked (exit %d): %s", f.name, code, msg)
	r.expect(panicked || code == 0 || strings.TrimSpace(stderr) != "", "%s: failed without a message", f.name)
	r.expect(patients == 0 && members == 0, "%s: %d patients and %d cohort members were imported from a broken file", f.name, patients, members)
	r.expect(unfinished == 0, "%s: %d import records left unfinished", f.name, unfinished)
	if !panicked && code != 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: %s", f.name, msg))
	}
	return nil
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "time=") {
			return clip.Text(l, 200)
		}
	}
	return clip.Text(strings.TrimSpace(s), 200)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
