package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/outreach/cohort"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/store"
)

func cmdCohort(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		return usageError{"usage: protect cohort import [--cohort NAME] [--json] [--report PATH] FILE.csv"}
	}
	fs := newFlagSet("cohort import", stderr)
	name := fs.String("cohort", "default", "cohort the patients join (created if new)")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	report := fs.String("report", "", "where to write the report (default: beside FILE)")
	actor := fs.String("actor", "", "who is importing, for the audit log (default: $USER)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"give exactly one CSV file"}
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	logger := app.NewLogger(stderr, cfg)
	st, err := store.OpenWith(ctx, cfg.DatabaseURL, store.PoolOptions{MaxConns: cfg.DBPool, PgBouncer: cfg.DBPgBouncer})
	if err != nil {
		return err
	}
	defer st.Close()
	// Like the other commands: apply pending migrations unless
	// PROTECT_MIGRATE=wait leaves them to `protect migrate`.
	if err := app.EnsureSchema(ctx, cfg, st, logger, app.MigrateApply); err != nil {
		return err
	}
	who := *actor
	if who == "" {
		who = "cli:" + os.Getenv("USER")
	}
	opts := cohort.Options{Cohort: *name, Actor: who, ReportPath: *report,
		Phones: phone.Parser{AllowTestNumbers: cfg.AllowTestNumbers}, Logger: logger, Progress: stderr}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		opts.ProgressBar = true
	}
	sum, err := cohort.ImportFile(ctx, st, pos[0], opts)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(sum)
	}
	fmt.Fprintf(stdout, "Imported %s into cohort %q in %.1fs\n", sum.File, sum.Cohort, sum.Seconds)
	fmt.Fprintf(stdout, "  rows read         %9d\n", sum.RowsRead)
	fmt.Fprintf(stdout, "  accepted (new)    %9d\n", sum.Accepted)
	fmt.Fprintf(stdout, "  updated           %9d\n", sum.Updated)
	fmt.Fprintf(stdout, "  unchanged         %9d\n", sum.Unchanged)
	fmt.Fprintf(stdout, "  no contact route  %9d  (imported for follow-up by a person)\n", sum.NoContactRoute)
	fmt.Fprintf(stdout, "  rejected          %9d  (%d duplicates)\n", sum.Rejected, sum.Duplicates)
	fmt.Fprintf(stdout, "  warnings          %9d\n", sum.Warnings)
	if len(sum.IgnoredColumns) > 0 {
		fmt.Fprintf(stdout, "  ignored columns   %v\n", sum.IgnoredColumns)
	}
	fmt.Fprintf(stdout, "Report: %s\n", sum.ReportPath)
	return nil
}
