package cohort

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/phone"
)

// FuzzValidate feeds arbitrary rows to the validator: it must never panic,
// and an accepted row must hold a valid identity.
func FuzzValidate(f *testing.F) {
	f.Add("9434765919,Ada,Lovelace,1948-07-05,07911 123456,01603 123456,D82001,Norwich,en,sms")
	f.Add("4010232137,\"O'Brien, Mary\",X,05/07/1950,,,,,,")
	f.Add(",,,,,,,,,")
	f.Add("9434765919,\x00,\xff,29/02/2000,+44,0,,,,")
	cols, err := parseHeader(strings.Split(strings.TrimSpace(header), ","))
	if err != nil {
		f.Fatal(err)
	}
	v := &rowValidator{cols: cols, phones: phone.Parser{AllowTestNumbers: true}, today: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, line string) {
		r := csv.NewReader(strings.NewReader(line))
		r.FieldsPerRecord = -1
		rec, err := r.Read()
		if err != nil {
			return
		}
		p, probs, ok := v.validate(rec, 2)
		if !ok {
			rejected := false
			for _, pr := range probs {
				rejected = rejected || pr.Severity == Rejected
			}
			if !rejected {
				t.Fatalf("row refused without a rejection reason: %q", line)
			}
			return
		}
		if len(p.NHSNumber) != 10 || p.GivenName == "" || p.FamilyName == "" || p.DateOfBirth.IsZero() {
			t.Fatalf("accepted an invalid identity: %+v", p)
		}
		if (p.Mobile == "") != (p.MobileKind == "") || (p.Landline == "") != (p.LandlineKind == "") {
			t.Fatalf("number without kind: %+v", p)
		}
	})
}

// FuzzParseHeader checks header parsing never panics and never accepts a
// header without the required columns.
func FuzzParseHeader(f *testing.F) {
	f.Add(strings.TrimSpace(header))
	f.Add("\ufeffNHS Number,given-name")
	f.Fuzz(func(t *testing.T, line string) {
		c, err := parseHeader(strings.Split(line, ","))
		if err != nil {
			return
		}
		for _, k := range RequiredColumns {
			if _, ok := c.idx[k]; !ok {
				t.Fatalf("accepted header %q without %s", line, k)
			}
		}
	})
}

// FuzzImport feeds arbitrary files to the whole importer against the test
// database: it must never panic; a failed import leaves no patient, cohort
// or member behind and finishes its record with the error; a committed one
// accounts for every row it read.
func FuzzImport(f *testing.F) {
	f.Add([]byte(header + "9434765919,Ada,Lovelace,1948-07-05,07911 123456,01603 123456,D82001,Norwich,en,sms\n"))
	f.Add([]byte(header + "9434765919,Ada,Lovelace,1948-07-05,,,,,,\n\x00\xff\"\x01,\n\"x\"y\n"))
	f.Add([]byte(header + "4010232137,\"Mary,Jones,1950-01-01,,,,,,\n9434765919,\"Ada\",Lovelace,1948-07-05,,,,,,\n"))
	f.Add([]byte(header + "\"a\"b,c\n5075291708,Good,Row,1950-01-01,07911 111112,,,,,\n"))
	f.Add([]byte("\ufeffNHS Number,Given Name\n1,2\n"))
	f.Add([]byte{})
	ctx := context.Background()
	st := testdb.Store(f)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		var before [3]int
		count := func(into *[3]int) {
			err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM cohorts),
				(SELECT count(*) FROM cohort_members)`).Scan(&into[0], &into[1], &into[2])
			if err != nil {
				t.Fatal(err)
			}
		}
		count(&before)
		name := fmt.Sprintf("fuzz-%d-%d", os.Getpid(), n.Add(1))
		sum, err := Import(ctx, st, bytes.NewReader(data), "fuzz.csv", int64(len(data)), io.Discard,
			Options{Cohort: name, Today: today, BatchSize: 2, Phones: phone.Parser{AllowTestNumbers: true}})
		var finished bool
		var errText string
		if qerr := st.Pool().QueryRow(ctx, `SELECT finished_at IS NOT NULL, error FROM imports WHERE id = $1`, sum.ImportID).
			Scan(&finished, &errText); qerr != nil {
			t.Fatalf("import record %d: %v (import error %v)", sum.ImportID, qerr, err)
		}
		if !finished || (err != nil) != (errText != "") {
			t.Fatalf("record finished=%v error=%q; import error %v", finished, errText, err)
		}
		if err != nil {
			var after [3]int
			count(&after)
			if after != before {
				t.Fatalf("failed import (%v) changed patients, cohorts, members from %v to %v", err, before, after)
			}
			return
		}
		if got := sum.Accepted + sum.Updated + sum.Unchanged + sum.NoContactRoute + sum.Rejected; got != sum.RowsRead {
			t.Fatalf("counts do not partition the %d rows read: %+v", sum.RowsRead, sum)
		}
	})
}
