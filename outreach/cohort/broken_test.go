package cohort

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/nhsnumber"
)

// validRows returns n valid rows with distinct NHS numbers, from seed.
func validRows(n int, seed uint64) string {
	var b strings.Builder
	r := rand.New(rand.NewPCG(seed, 1))
	seen := map[string]bool{}
	for len(seen) < n {
		nine := fmt.Sprintf("%09d", r.IntN(1_000_000_000))
		c := nhsnumber.CheckDigit(nine)
		if c < 0 || seen[nine] {
			continue
		}
		seen[nine] = true
		fmt.Fprintf(&b, "%s%d,Given,Family,1950-01-01,07911 %06d,,,,,\n", nine, c, len(seen))
	}
	return b.String()
}

// garbage is binary data as it ends a file that was cut short or had
// something appended: every byte value, quotes and line breaks included.
func garbage(n int) string {
	r := rand.New(rand.NewPCG(7, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return string(b)
}

// importRecord is what the imports table holds about one import.
type importRecord struct {
	finished bool
	cohortID *int64
	cohort   string
	accepted int
	errText  string
}

func loadImport(t *testing.T, id int64) importRecord {
	t.Helper()
	var r importRecord
	err := testdb.Store(t).Pool().QueryRow(context.Background(), `SELECT finished_at IS NOT NULL, cohort_id, cohort_name, accepted, error
		FROM imports WHERE id = $1`, id).Scan(&r.finished, &r.cohortID, &r.cohort, &r.accepted, &r.errText)
	if err != nil {
		t.Fatalf("import record %d: %v", id, err)
	}
	return r
}

func countRows(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := testdb.Store(t).Pool().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBrokenFilesImportNothing: a file that cannot be read whole fails with
// a clear error, imports nothing (not even a new cohort, however many rows
// were written before the problem), never panics, and its import record is
// finished with the error.
func TestBrokenFilesImportNothing(t *testing.T) {
	five := validRows(5000, 1)
	row := "5075291708,Good,Row,1950-01-01,07911 111112,,,,,\n"
	tests := []struct {
		name    string
		data    string
		is      error  // the error wraps this, when set
		quoteAt int    // the QuoteError's line, when set
		says    string // the message contains this
	}{
		{"binary garbage after valid rows", header + validRows(20, 2) + garbage(4096), ErrBinary, 0, "not a CSV text file"},
		{"a NUL on the first data line", header + "94347\x0065919,A,B,1950-01-01,,,,,,\n", ErrBinary, 0, "line 2"},
		{"a 200 KB line after 5,000 rows", header + five + strings.Repeat("x", 200<<10) + "\n" + row, ErrLineTooLong, 0, "line 5002"},
		{"a quote closed ten lines later", header + row +
			"4010232137,\"Mary,Jones,1950-01-01,,,,,,\n" + validRows(10, 3) + "9434765919,\"Ada\",Lovelace,1948-07-05,,,,,,\n",
			nil, 3, "lines 3 to 14"},
		{"a quoted value that spans lines", header + row + "4010232137,\"Mary\nAnne\",Jones,1950-01-01,,,,,,\n" + validRows(3, 4),
			nil, 3, "given_name field"},
		{"a quote never closed", header + validRows(5, 5) + "4010232137,Mary,\"Jones,1950-01-01,,,,,,\n" + validRows(5, 6),
			nil, 7, "family_name field"},
		{"no header", "", nil, 0, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testdb.Reset(t)
			// A cohort that exists already keeps its members.
			if _, _, err := run(t, "kept", header+row); err != nil {
				t.Fatal(err)
			}
			for _, cohort := range []string{"new", "kept"} {
				sum, rep, err := run(t, cohort, tt.data)
				if err == nil {
					t.Fatalf("no error; summary %+v", sum)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("error = %v, want %v", err, tt.is)
				}
				var qerr *QuoteError
				if tt.quoteAt != 0 && (!errors.As(err, &qerr) || qerr.Line != tt.quoteAt) {
					t.Errorf("error = %v, want a quote error at line %d", err, tt.quoteAt)
				}
				if !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), "nothing was imported") {
					t.Errorf("error %q does not say %q and that nothing was imported", err, tt.says)
				}
				if sum.Accepted+sum.Updated+sum.Unchanged+sum.NoContactRoute != 0 {
					t.Errorf("summary counts rows as imported: %+v", sum)
				}
				if n := countRows(t, `SELECT count(*) FROM patients`); n != 1 {
					t.Errorf("%d patients stored, want only the 1 imported before", n)
				}
				if n := countRows(t, `SELECT count(*) FROM cohorts`); n != 1 {
					t.Errorf("%d cohorts, want only %q", n, "kept")
				}
				if n := countRows(t, `SELECT count(*) FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id WHERE c.name = 'kept'`); n != 1 {
					t.Errorf("cohort kept has %d members, want 1", n)
				}
				rec := loadImport(t, sum.ImportID)
				if !rec.finished || rec.errText == "" || rec.accepted != 0 || rec.cohort != cohort {
					t.Errorf("import record = %+v, want finished with the error and nothing accepted", rec)
				}
				if cohort == "new" && rec.cohortID != nil {
					t.Errorf("failed import into a new cohort links cohort %d", *rec.cohortID)
				}
				if last := rep[len(rep)-1]; last[2] != "fatal" || !strings.Contains(last[3], "nothing was imported") {
					t.Errorf("report ends with %v, want the fatal error", last)
				}
			}
		})
	}
}

// TestImportRecordLinksCohort: a committed import's record names and links
// its cohort.
func TestImportRecordLinksCohort(t *testing.T) {
	testdb.Reset(t)
	sum, _, err := run(t, "linked", header+validRows(7, 8))
	if err != nil || sum.Accepted != 7 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	rec := loadImport(t, sum.ImportID)
	c, err := testdb.Store(t).CohortByName(context.Background(), "linked")
	if err != nil || rec.cohortID == nil || *rec.cohortID != c.ID || rec.cohort != "linked" || !rec.finished || rec.errText != "" || rec.accepted != 7 {
		t.Fatalf("record %+v, cohort %+v, %v", rec, c, err)
	}
}
