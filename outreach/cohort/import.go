package cohort

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/store"
)

// Options tune an import.
type Options struct {
	// Cohort names the cohort the patients join; created if new.
	Cohort string
	// Actor is who ran the import, for the audit log.
	Actor string
	// Phones parses phone numbers (whether test numbers are allowed).
	Phones phone.Parser
	// ReportPath is where the report goes; default: beside the file, named
	// after it.
	ReportPath string
	// BatchSize is how many rows are written per transaction.
	BatchSize int
	// Progress receives progress output; nil for none.
	Progress io.Writer
	// ProgressBar draws a bar (for a terminal) instead of plain lines.
	ProgressBar bool
	// Today is the date births must be before; zero means today.
	Today time.Time
	// Logger logs counts, never patient data.
	Logger *slog.Logger
}

// Summary is what an import did. Every row read is counted exactly once in
// Accepted, Updated, Unchanged, NoContactRoute or Rejected.
type Summary struct {
	ImportID       int64    `json:"import_id"`
	Cohort         string   `json:"cohort"`
	File           string   `json:"file"`
	RowsRead       int      `json:"rows_read"`
	Accepted       int      `json:"accepted"`
	Updated        int      `json:"updated"`
	Unchanged      int      `json:"unchanged"`
	NoContactRoute int      `json:"no_contact_route"`
	Rejected       int      `json:"rejected"`
	Duplicates     int      `json:"duplicates"`
	Warnings       int      `json:"warnings"`
	ReportPath     string   `json:"report_path"`
	IgnoredColumns []string `json:"ignored_columns,omitempty"`
	Seconds        float64  `json:"seconds"`
}

// maxLine bounds one physical line, so a file without newlines cannot make
// the reader hold it all in memory.
const maxLine = 64 << 10

// ImportFile imports a CSV extract from a file, writing the report beside it
// unless opts.ReportPath says otherwise.
func ImportFile(ctx context.Context, st *store.Store, path string, opts Options) (Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Summary{}, fmt.Errorf("open extract: %w", err)
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		if fi.IsDir() {
			return Summary{}, fmt.Errorf("open extract: %s is a directory", path)
		}
		size = fi.Size()
	}
	if opts.ReportPath == "" {
		opts.ReportPath = DefaultReportPath(path, time.Now())
	}
	rf, err := os.OpenFile(opts.ReportPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return Summary{}, fmt.Errorf("create report: %w", err)
	}
	sum, err := Import(ctx, st, f, filepath.Base(path), size, rf, opts)
	if cerr := rf.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("write report: %w", cerr)
	}
	return sum, err
}

// DefaultReportPath names the report after the extract:
// cohort.csv → cohort.report-20261127T103000.csv.
func DefaultReportPath(path string, now time.Time) string {
	ext := filepath.Ext(path)
	return path[:len(path)-len(ext)] + ".report-" + now.UTC().Format("20060102T150405") + ".csv"
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// lineLimiter fails a read once a line grows beyond maxLine bytes, or at a
// control byte such as NUL, which no text export holds (a binary file, or
// garbage appended to a good one).
type lineLimiter struct {
	r    io.Reader
	run  int
	line int
}

// ErrLineTooLong means the file has a line longer than any real row.
var ErrLineTooLong = errors.New("line too long")

// ErrBinary means the file holds binary data, not CSV text.
var ErrBinary = errors.New("binary data")

func (l *lineLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		switch p[i] {
		case '\n':
			l.run = 0
			l.line++
			continue
		case '\t', '\r', 0x1a: // 0x1a: the end-of-file mark of old DOS tools
		default:
			if p[i] < 0x20 || p[i] == 0x7f {
				return i, fmt.Errorf("%w: line %d holds the control byte 0x%02x: this is not a CSV text file (export the extract as CSV)",
					ErrBinary, l.line+1, p[i])
			}
		}
		l.run++
		if l.run > maxLine {
			return i, fmt.Errorf("%w: line %d is over %d KiB", ErrLineTooLong, l.line+1, maxLine>>10)
		}
	}
	return n, err
}

// QuoteError means a quoted field runs on past the end of its line. Rows
// after it would be read as part of that field (until some other quote
// happens to close it), so the whole file is refused.
type QuoteError struct {
	Line    int    // the line where the quote opened
	EndLine int    // the line where reading the field stopped
	Column  string // the column the quote opened in
}

func (e *QuoteError) Error() string {
	return fmt.Sprintf("line %d: a quote opened in the %s field is not closed on that line, so lines %d to %d would be read as one value; "+
		"close the quote (a quote inside a value is written twice: \"\") and import the file again", e.Line, e.Column, e.Line, e.EndLine)
}

type batch struct {
	rows []store.PatientRow
}

// Import reads an extract from r and writes patients to the store, problems
// to report (CSV: line, field, severity, reason). size is the extract's size
// in bytes, for progress (0 if unknown). Bad rows are reported and skipped;
// a file that cannot be read as a whole (unreadable, binary, a line too
// long, a quote left open, a database error) returns an error and imports
// nothing at all: everything is written in one transaction committed at the
// end. Either way the import's record is finished, with its error.
func Import(ctx context.Context, st *store.Store, r io.Reader, name string, size int64, report io.Writer, opts Options) (Summary, error) {
	start := time.Now()
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.Cohort == "" {
		opts.Cohort = "default"
	}
	if opts.Actor == "" {
		opts.Actor = "cli"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	today := opts.Today
	if today.IsZero() {
		today = time.Now()
	}
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	sum := Summary{Cohort: opts.Cohort, File: name, ReportPath: opts.ReportPath}

	run, err := st.StartImport(ctx, opts.Cohort, name, opts.Actor)
	if err != nil {
		return sum, err
	}
	sum.ImportID = run.ID

	rw := csv.NewWriter(report)
	rw.Write([]string{"line", "field", "severity", "reason"}) //nolint:errcheck // checked at Flush

	counter := &countingReader{r: r}
	cr := csv.NewReader(bufio.NewReaderSize(&lineLimiter{r: counter}, 256<<10))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true

	var counts store.ImportCounts
	var writeErr, readErr error
	cols, err := readHeader(cr)
	if err != nil {
		readErr = err
	} else {
		sum.IgnoredColumns = cols.ignored
		prog := newProgress(opts.Progress, opts.ProgressBar, size, counter)
		counts, writeErr, readErr = pipe(ctx, run, cr, cols, opts, today, rw, &sum, prog)
		prog.stop()
	}

	err = errors.Join(writeErr, readErr)
	if err != nil {
		// The report says why nothing was imported, beside the row problems.
		line := ""
		var qerr *QuoteError
		if errors.As(err, &qerr) {
			line = strconv.Itoa(qerr.Line)
		}
		rw.Write([]string{line, "", "fatal", err.Error() + "; nothing was imported"}) //nolint:errcheck // checked at Flush
		counts = store.ImportCounts{}
	}
	rw.Flush()
	if repErr := rw.Error(); repErr != nil {
		err = errors.Join(err, fmt.Errorf("write report: %w", repErr))
	}

	sum.Accepted, sum.Updated, sum.Unchanged, sum.NoContactRoute = counts.Accepted, counts.Updated, counts.Unchanged, counts.NoContactRoute
	fin := store.ImportSummary{RowsRead: sum.RowsRead, Counts: counts, Rejected: sum.Rejected,
		Duplicates: sum.Duplicates, Warnings: sum.Warnings, ReportPath: sum.ReportPath}
	if err != nil {
		fin.Error = err.Error()
	}
	if ferr := run.Finish(context.WithoutCancel(ctx), fin); ferr != nil {
		err = errors.Join(err, ferr)
		sum.Accepted, sum.Updated, sum.Unchanged, sum.NoContactRoute = 0, 0, 0, 0
	}
	sum.Seconds = time.Since(start).Seconds()
	if err == nil {
		err = st.Audit(context.WithoutCancel(ctx), store.AuditEntry{
			Actor: opts.Actor, Action: "cohort.import", SubjectType: "import", SubjectID: strconv.FormatInt(run.ID, 10),
			Details: map[string]any{"cohort": opts.Cohort, "file": name, "rows": sum.RowsRead, "accepted": sum.Accepted,
				"updated": sum.Updated, "unchanged": sum.Unchanged, "no_contact_route": sum.NoContactRoute, "rejected": sum.Rejected},
		})
	} else {
		err = fmt.Errorf("import %s: nothing was imported: %w", name, err)
	}
	opts.Logger.Info("cohort import finished", "import", run.ID, "cohort", opts.Cohort, "rows", sum.RowsRead,
		"accepted", sum.Accepted, "updated", sum.Updated, "unchanged", sum.Unchanged,
		"no_contact_route", sum.NoContactRoute, "rejected", sum.Rejected, "seconds", sum.Seconds, "error", err)
	return sum, err
}

// readHeader reads and checks the header line.
func readHeader(cr *csv.Reader) (*columns, error) {
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &HeaderError{Empty: true}
	}
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	return parseHeader(header)
}

// pipe validates rows while it writes the previous batches to PostgreSQL:
// two batches in flight keep both cores busy.
func pipe(ctx context.Context, run *store.ImportRun, cr *csv.Reader, cols *columns, opts Options, today time.Time,
	rw *csv.Writer, sum *Summary, prog *progress) (counts store.ImportCounts, writeErr, readErr error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 2)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(batches)
		readErr = readRows(ctx, cr, cols, opts, today, rw, sum, prog, batches)
	}()
	for b := range batches {
		if writeErr != nil {
			continue // drain so the reader can finish
		}
		c, err := run.WriteBatch(ctx, b.rows)
		if err != nil {
			writeErr = err
			cancel()
			continue
		}
		counts.Add(c)
	}
	<-readDone
	if writeErr != nil && errors.Is(readErr, context.Canceled) {
		readErr = nil // the reader stopped because the writer failed
	}
	return counts, writeErr, readErr
}

// readRows validates every record, reports problems and sends batches of
// valid rows. The first valid row with an NHS number wins; later ones are
// duplicates.
func readRows(ctx context.Context, cr *csv.Reader, cols *columns, opts Options, today time.Time,
	rw *csv.Writer, sum *Summary, prog *progress, out chan<- batch) error {
	v := &rowValidator{cols: cols, phones: opts.Phones, today: today}
	seen := make(map[uint64]int32, 1<<16)
	rows := make([]store.PatientRow, 0, opts.BatchSize)
	var repRec [4]string
	writeProblem := func(p Problem) {
		repRec[0], repRec[1], repRec[2], repRec[3] = strconv.Itoa(p.Line), p.Field, string(p.Severity), p.Reason
		rw.Write(repRec[:]) //nolint:errcheck // checked at Flush
		if p.Severity == Warning {
			sum.Warnings++
		}
	}
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		select {
		case out <- batch{rows: rows}:
		case <-ctx.Done():
			return ctx.Err()
		}
		rows = make([]store.PatientRow, 0, opts.BatchSize)
		return nil
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var perr *csv.ParseError
			if !errors.As(err, &perr) {
				return fmt.Errorf("read extract: %w", err)
			}
			if errors.Is(perr.Err, csv.ErrQuote) && perr.Line > perr.StartLine {
				return &QuoteError{Line: perr.StartLine + newlines(rec), EndLine: perr.Line, Column: fieldName(cols, len(rec))}
			}
			sum.RowsRead++
			sum.Rejected++
			writeProblem(Problem{Line: perr.StartLine, Severity: Rejected, Reason: "malformed CSV: " + perr.Err.Error()})
			continue
		}
		line, _ := cr.FieldPos(0)
		// A quoted field closed on a later line has swallowed the lines
		// between: whatever it holds, those rows were not read as rows.
		for i, f := range rec {
			if strings.ContainsAny(f, "\r\n") {
				open, _ := cr.FieldPos(i)
				return &QuoteError{Line: open, EndLine: line + newlines(rec), Column: fieldName(cols, i)}
			}
		}
		sum.RowsRead++
		prog.row()
		p, probs, ok := v.validate(rec, line)
		if ok {
			key, _ := strconv.ParseUint(p.NHSNumber, 10, 64)
			if first, dup := seen[key]; dup {
				ok = false
				sum.Duplicates++
				probs = []Problem{{line, ColNHSNumber, Rejected, fmt.Sprintf("duplicate of line %d: the first row was imported", first)}}
			} else {
				seen[key] = int32(line)
			}
		}
		for _, pr := range probs {
			writeProblem(pr)
		}
		if !ok {
			sum.Rejected++
			continue
		}
		rows = append(rows, p)
		if len(rows) == opts.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// newlines counts the line breaks inside the fields of a record.
func newlines(rec []string) int {
	n := 0
	for _, f := range rec {
		n += strings.Count(f, "\n")
	}
	return n
}
