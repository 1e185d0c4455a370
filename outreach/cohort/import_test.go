package cohort

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/store"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

var today = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func run(t *testing.T, cohort, data string) (Summary, [][]string, error) {
	t.Helper()
	var rep bytes.Buffer
	sum, err := Import(context.Background(), testdb.Store(t), strings.NewReader(data), "test.csv", int64(len(data)), &rep,
		Options{Cohort: cohort, Today: today, BatchSize: 3, Phones: phone.Parser{AllowTestNumbers: true}})
	recs, rerr := csv.NewReader(&rep).ReadAll()
	if rerr != nil && err == nil {
		t.Fatalf("report is not CSV: %v", rerr)
	}
	if len(recs) > 0 {
		recs = recs[1:]
	}
	return sum, recs, err
}

type patient struct {
	given, family, dob, mobile, mobileKind, landline, landlineKind, practice, locality, language, channel string
}

func loadPatient(t *testing.T, nhs string) (patient, bool) {
	t.Helper()
	var p patient
	var dob time.Time
	var mobile, mk, landline, lk *string
	err := testdb.Store(t).Pool().QueryRow(context.Background(), `SELECT given_name, family_name, date_of_birth, mobile, mobile_kind,
		landline, landline_kind, gp_practice_code, locality, language, preferred_channel FROM patients WHERE nhs_number = $1`, nhs).
		Scan(&p.given, &p.family, &dob, &mobile, &mk, &landline, &lk, &p.practice, &p.locality, &p.language, &p.channel)
	if err != nil {
		return p, false
	}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	p.dob = dob.Format("2006-01-02")
	p.mobile, p.mobileKind, p.landline, p.landlineKind = deref(mobile), deref(mk), deref(landline), deref(lk)
	return p, true
}

const header = "nhs_number,given_name,family_name,date_of_birth,mobile,landline,gp_practice_code,locality,language,preferred_channel\n"

func TestImportRules(t *testing.T) {
	testdb.Reset(t)
	data := "\ufeff" + strings.ReplaceAll(header, "\n", "\r\n") +
		"943 476 5919,Ada,Lovelace,1948-07-05,07911 123456,01603 123456,d82001,Norwich,English,SMS\r\n" + // line 2: accepted
		"4010232137,\"O'Brien, Mary\",\"Smith \"\"Jr\"\"\",05/07/1950,,020 7946 0000,,,,\r\n" + // 3: quotes, landline only
		"9434765918,Bad,Check,1950-01-01,07911 123457,,,,,\r\n" + // 4: check digit
		"1860913903,,NoGiven,1950-01-01,07911 123458,,,,,\r\n" + // 5: missing given name
		"9960308243,Future,Born,2030-01-01,07911 123459,,,,,\r\n" + // 6: future birth
		"6281948211,Feb,Thirty,30/02/1950,07911 123460,,,,,\r\n" + // 7: not a real date
		"9434765919,Dup,Licate,1948-07-05,07911 123456,,,,,\r\n" + // 8: duplicate of line 2
		"9935181901,No,Route,1940-03-03,0800 123456,+1 202 555 0101,,,,\r\n" + // 9: no contact route
		"9378657974,Land,InMobile,1939-12-31,01603 765432,,Z9,Broadland,klingon,pigeon\r\n" + // 10: warnings
		"short,row\r\n" + // 11: wrong width
		"5432319489,Test,Number,1960-06-06,07700 900123,,,,cy,voice\r\n" // 12: test number, Welsh
	sum, report, err := run(t, "rules", data)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{RowsRead: 11, Accepted: 4, Updated: 0, Unchanged: 0, NoContactRoute: 1, Rejected: 6, Duplicates: 1}
	if sum.RowsRead != want.RowsRead || sum.Accepted != want.Accepted || sum.NoContactRoute != want.NoContactRoute ||
		sum.Rejected != want.Rejected || sum.Duplicates != want.Duplicates || sum.Updated != 0 || sum.Unchanged != 0 {
		t.Fatalf("summary = %+v\nreport = %v", sum, report)
	}
	if got := sum.Accepted + sum.Updated + sum.Unchanged + sum.NoContactRoute + sum.Rejected; got != sum.RowsRead {
		t.Fatalf("counts do not partition the rows: %d != %d", got, sum.RowsRead)
	}

	wantReport := []struct {
		line, field, severity, reasonPart string
	}{
		{"4", "nhs_number", "rejected", "Modulus 11"},
		{"5", "given_name", "rejected", "required"},
		{"6", "date_of_birth", "rejected", "future"},
		{"7", "date_of_birth", "rejected", "not a real date"},
		{"8", "nhs_number", "rejected", "duplicate of line 2"},
		{"9", "mobile", "warning", "freephone"},
		{"9", "landline", "warning", "not a UK number"},
		{"9", "", "warning", "no usable phone number"},
		{"10", "mobile", "warning", "holds a landline"},
		{"10", "gp_practice_code", "warning", "ODS"},
		{"10", "language", "warning", "klingon"},
		{"10", "preferred_channel", "warning", "pigeon"},
		{"11", "", "rejected", "2 fields"},
	}
	for _, w := range wantReport {
		found := false
		for _, r := range report {
			if r[0] == w.line && r[1] == w.field && r[2] == w.severity && strings.Contains(r[3], w.reasonPart) {
				found = true
			}
		}
		if !found {
			t.Errorf("report lacks line %s %s %s %q:\n%v", w.line, w.field, w.severity, w.reasonPart, report)
		}
	}
	for _, r := range report {
		for _, f := range r {
			if strings.Contains(f, "Lovelace") || strings.Contains(f, "9434765919") || strings.Contains(f, "7911") {
				t.Errorf("report carries personal data: %v", r)
			}
		}
	}

	tests := []struct {
		nhs  string
		want patient
	}{
		{"9434765919", patient{"Ada", "Lovelace", "1948-07-05", "+447911123456", "mobile", "+441603123456", "landline", "D82001", "Norwich", "en", "sms"}},
		{"4010232137", patient{"O'Brien, Mary", `Smith "Jr"`, "1950-07-05", "", "", "+442079460000", "landline", "", "", "en", ""}},
		{"9935181901", patient{"No", "Route", "1940-03-03", "", "", "", "", "", "", "en", ""}},
		{"9378657974", patient{"Land", "InMobile", "1939-12-31", "+441603765432", "landline", "", "", "", "Broadland", "en", ""}},
		{"5432319489", patient{"Test", "Number", "1960-06-06", "+447700900123", "mobile", "", "", "", "", "cy", "voice"}},
	}
	for _, tt := range tests {
		got, ok := loadPatient(t, tt.nhs)
		if !ok || got != tt.want {
			t.Errorf("patient %s = %+v (found %v), want %+v", tt.nhs, got, ok, tt.want)
		}
	}
	for _, nhs := range []string{"9434765918", "1860913903", "9960308243", "6281948211"} {
		if _, ok := loadPatient(t, nhs); ok {
			t.Errorf("rejected patient %s was stored", nhs)
		}
	}
	c, err := testdb.Store(t).CohortByName(context.Background(), "rules")
	if err != nil || c.Members != 5 {
		t.Fatalf("cohort members = %d, %v; want 5", c.Members, err)
	}

	// The same file again changes nothing.
	again, _, err := run(t, "rules", data)
	if err != nil {
		t.Fatal(err)
	}
	if again.Accepted != 0 || again.Updated != 0 || again.Unchanged != 4 || again.NoContactRoute != 1 || again.Rejected != 6 {
		t.Fatalf("second import = %+v, want 4 unchanged", again)
	}

	// Re-importing with new contact details updates, never duplicates.
	upd := header + "9434765919,Ada,Lovelace,1948-07-05,07911 123999,,D82001,Norwich,en,sms\n"
	third, _, err := run(t, "rules", upd)
	if err != nil {
		t.Fatal(err)
	}
	if third.Updated != 1 || third.Accepted != 0 {
		t.Fatalf("update import = %+v", third)
	}
	got, _ := loadPatient(t, "9434765919")
	if got.mobile != "+447911123999" || got.landline != "" {
		t.Fatalf("contact details not updated: %+v", got)
	}
	var n int
	testdb.Store(t).Pool().QueryRow(context.Background(), `SELECT count(*) FROM patients WHERE nhs_number = '9434765919'`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d patients with one NHS number", n)
	}
	entries, err := testdb.Store(t).AuditLog(context.Background(), store.AuditQuery{Action: "cohort.import"})
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit entries = %d, %v", len(entries), err)
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		missing []string
		dup     []string
		empty   bool
	}{
		{"empty file", "", nil, nil, true},
		{"missing columns", "nhs_number,given_name,mobile\n", []string{"family_name", "date_of_birth", "landline"}, nil, false},
		{"duplicate column", "NHS Number,nhs_number,given_name,family_name,date_of_birth,mobile,landline\n", nil, []string{"nhs_number"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, "headers", tt.data)
			var herr *HeaderError
			if !errors.As(err, &herr) {
				t.Fatalf("error = %v, want HeaderError", err)
			}
			if herr.Empty != tt.empty || strings.Join(herr.Missing, ",") != strings.Join(tt.missing, ",") || strings.Join(herr.Duplicate, ",") != strings.Join(tt.dup, ",") {
				t.Fatalf("got %+v", herr)
			}
			if tt.missing != nil && !strings.Contains(err.Error(), "family_name, date_of_birth, landline") {
				t.Fatalf("message does not list missing columns: %v", err)
			}
		})
	}
}

func TestColumnsInAnyOrderAndCase(t *testing.T) {
	data := "Landline,MOBILE,Date Of Birth,family-name,Given_Name, nhs_number ,extra\n" +
		",07911 222333,1955-05-05,Order,Any,2527601898,ignored\n"
	sum, rep, err := run(t, "order", data)
	if err != nil || sum.Accepted != 1 {
		t.Fatalf("summary %+v, report %v, err %v", sum, rep, err)
	}
	if len(sum.IgnoredColumns) != 1 || sum.IgnoredColumns[0] != "extra" {
		t.Fatalf("ignored columns = %v", sum.IgnoredColumns)
	}
	p, _ := loadPatient(t, "2527601898")
	if p.given != "Any" || p.mobile != "+447911222333" {
		t.Fatalf("patient = %+v", p)
	}
}

func TestMalformedRowsDoNotStopTheFile(t *testing.T) {
	data := header +
		"5559797111,A\"b,C,1950-01-01,07911 111111,,,,,\n" + // bare quote
		"5075291708,Good,Row,1950-01-01,07911 111112,,,,,\n" +
		"3423667125,\"Bad,\"Quote,1950-01-01,,,,,,\n" +
		"7684268465,Also,Good,1950-01-01,07911 111113,,,,,\n" +
		"5632122336," + strings.Repeat("x", 300) + ",Long,1950-01-01,,,,,,\n"
	sum, rep, err := run(t, "malformed", data)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted < 2 || sum.Rejected < 3 || sum.Accepted+sum.Rejected+sum.Updated+sum.Unchanged+sum.NoContactRoute != sum.RowsRead {
		t.Fatalf("summary %+v report %v", sum, rep)
	}
	if rep[0][0] != "2" || !strings.Contains(rep[0][3], "malformed CSV") {
		t.Fatalf("first problem = %v", rep[0])
	}
}

func TestLineTooLongFailsTheFile(t *testing.T) {
	data := header + strings.Repeat("x", maxLine+10)
	_, _, err := run(t, "long", data)
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("error = %v", err)
	}
}

func TestImportFileWritesReportBesideIt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "extract.csv")
	os.WriteFile(path, []byte(header+"9434765918,Bad,Check,1950-01-01,,,,,,\n"), 0o600)
	sum, err := ImportFile(context.Background(), testdb.Store(t), path, Options{Cohort: "file", Today: today})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(sum.ReportPath) != dir || !strings.HasPrefix(filepath.Base(sum.ReportPath), "extract.report-") {
		t.Fatalf("report path %s", sum.ReportPath)
	}
	b, _ := os.ReadFile(sum.ReportPath)
	if !strings.Contains(string(b), "Modulus 11") {
		t.Fatalf("report: %s", b)
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{"1948-07-05", "1948-07-05", nil},
		{"05/07/1948", "1948-07-05", nil},
		{"5/7/1948", "1948-07-05", nil},
		{"05-07-1948", "1948-07-05", nil},
		{"05.07.1948", "1948-07-05", nil},
		{"29/02/2000", "2000-02-29", nil},
		{"29/02/1900", "", errDateReal},
		{"31/04/1950", "", errDateReal},
		{"13/13/1950", "", errDateReal},
		{"1950/07/05", "", errDateFormat},
		{"5 July 1948", "", errDateFormat},
		{"", "", errDateEmpty},
		{"2026-11-27", "", errDateFuture},
		{"1890-01-01", "", errDateTooOld},
		{"07/05/48", "", errDateFormat},
	}
	for _, tt := range tests {
		got, err := parseDate(tt.in, today)
		if !errors.Is(err, tt.err) || (err == nil && got.Format("2006-01-02") != tt.want) {
			t.Errorf("parseDate(%q) = %v, %v; want %s, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
