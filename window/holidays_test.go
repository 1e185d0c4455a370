package window

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// easter returns Easter Sunday by the anonymous Gregorian algorithm.
func easter(y int) Date {
	a, b, c := y%19, y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return Date{y, time.Month(month), day}
}

func firstMonday(y int, m time.Month) Date {
	d := Date{y, m, 1}
	for d.Weekday() != time.Monday {
		d = d.AddDays(1)
	}
	return d
}

func lastMonday(y int, m time.Month) Date {
	d := Date{y, m + 1, 1}.AddDays(-1)
	for d.Weekday() != time.Monday {
		d = d.AddDays(-1)
	}
	return d
}

func weekend(d Date) bool { return d.Weekday() == time.Saturday || d.Weekday() == time.Sunday }

// byRule works out a region's bank holidays from the published rules: a
// holiday at a weekend moves to the next weekday that is not already one.
func byRule(region string, y int) (official, weekendDays []Date) {
	e := easter(y)
	var fixed, moving []Date
	fixed = append(fixed, Date{y, 1, 1})
	switch region {
	case Scotland:
		fixed = append(fixed, Date{y, 1, 2}, Date{y, 11, 30})
		moving = append(moving, e.AddDays(-2), firstMonday(y, 5), lastMonday(y, 5), firstMonday(y, 8))
	case NorthernIreland:
		fixed = append(fixed, Date{y, 3, 17}, Date{y, 7, 12})
		fallthrough
	default:
		moving = append(moving, e.AddDays(-2), e.AddDays(1), firstMonday(y, 5), lastMonday(y, 5), lastMonday(y, 8))
	}
	fixed = append(fixed, Date{y, 12, 25}, Date{y, 12, 26})
	official = append(official, moving...)
	for _, d := range fixed {
		if !weekend(d) {
			official = append(official, d)
		}
	}
	for _, d := range fixed {
		if weekend(d) {
			weekendDays = append(weekendDays, d)
			s := d
			for weekend(s) || slices.Contains(official, s) {
				s = s.AddDays(1)
			}
			official = append(official, s)
		}
	}
	slices.SortFunc(official, Date.Compare)
	return official, weekendDays
}

// rulesFrom is the first year checked against the rules: earlier years in
// GOV.UK's list moved holidays for one-off events (2020, 2022, 2023).
const rulesFrom = 2025

// TestBankHolidaysMatchRules checks the shipped list against the rules from
// rulesFrom on: every holiday the rules give is listed, and so is every
// weekend holiday a substitute day stands in for. A listed day the rules do
// not give (a one-off holiday) is logged, not refused.
func TestBankHolidaysMatchRules(t *testing.T) {
	_, weekendDays, err := parseBankHolidays(bankHolidaysJSON)
	if err != nil {
		t.Fatal(err)
	}
	first, last := BankHolidayYears()
	if first > rulesFrom || last < 2028 {
		t.Errorf("years = %d..%d, want at least %d..2028", first, last, rulesFrom)
	}
	for _, region := range Regions() {
		got, err := BankHolidays(region)
		if err != nil {
			t.Fatal(err)
		}
		for y := max(first, rulesFrom); y <= last; y++ {
			want, wantWeekend := byRule(region, y)
			for _, d := range want {
				if !slices.Contains(got, d) {
					t.Errorf("%s: %s is a bank holiday by the rules, not in the list", region, d)
				}
			}
			for _, d := range wantWeekend {
				if !slices.Contains(weekendDays[region], d) {
					t.Errorf("%s: %s is a weekend holiday with a substitute day, not closed", region, d)
				}
			}
			for _, d := range got {
				if d.Year == y && !slices.Contains(want, d) {
					t.Logf("%s: %s is listed but not given by the rules (a one-off holiday?)", region, d)
				}
			}
		}
	}
}

func TestBankHolidays(t *testing.T) {
	tests := []struct {
		region string
		date   Date
		want   bool // in the official list
		closed bool // a window on the region is closed
	}{
		{EnglandAndWales, Date{2026, 12, 25}, true, true},
		{EnglandAndWales, Date{2026, 12, 26}, false, true}, // Saturday Boxing Day
		{EnglandAndWales, Date{2026, 12, 28}, true, true},  // its substitute
		{EnglandAndWales, Date{2026, 8, 31}, true, true},
		{EnglandAndWales, Date{2026, 8, 3}, false, false},
		{Scotland, Date{2026, 8, 3}, true, true},
		{Scotland, Date{2026, 4, 6}, false, false}, // no Easter Monday
		{Scotland, Date{2025, 12, 1}, true, true},  // St Andrew's substitute
		{Scotland, Date{2028, 1, 4}, true, true},
		{NorthernIreland, Date{2025, 7, 14}, true, true},
		{NorthernIreland, Date{2025, 7, 12}, false, true},
		{NorthernIreland, Date{2027, 3, 17}, true, true},
	}
	for _, tt := range tests {
		ds, err := BankHolidays(tt.region)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(ds, tt.date); got != tt.want {
			t.Errorf("%s %s listed = %v, want %v", tt.region, tt.date, got, tt.want)
		}
		w := Window{BankHolidays: tt.region}
		if got := w.IsHoliday(tt.date); got != tt.closed {
			t.Errorf("%s %s closed = %v, want %v", tt.region, tt.date, got, tt.closed)
		}
	}
	if ds, err := BankHolidays("none"); err != nil || ds != nil {
		t.Errorf("none = %v, %v", ds, err)
	}
	if _, err := BankHolidays("wales"); err == nil {
		t.Error("unknown region: no error")
	}
	// Callers may change the slice they get.
	a, _ := BankHolidays(EnglandAndWales)
	a[0] = Date{}
	if b, _ := BankHolidays(EnglandAndWales); b[0] == (Date{}) {
		t.Error("BankHolidays shares its slice")
	}
}

// TestBankHolidayCoverage fails once the shipped lists no longer cover
// this year: windows would then allow calls on bank holidays. Add the new
// year: run scripts/refresh-bank-holidays.sh.
func TestBankHolidayCoverage(t *testing.T) {
	if _, last := BankHolidayYears(); time.Now().Year() > last {
		t.Fatalf("bank-holidays.json ends in %d: run scripts/refresh-bank-holidays.sh for %d", last, time.Now().Year())
	}
}

func TestCoverageWarning(t *testing.T) {
	until := CoveredUntil()
	if until != (Date{2028, time.December, 31}) {
		t.Fatalf("covered until %s", until)
	}
	tests := []struct {
		name string
		w    Window
		last Date
		warn bool
	}{
		{"within the list", Default(), Date{2028, 12, 31}, false},
		{"past the list", Default(), Date{2029, 1, 1}, true},
		{"no bank holidays", Window{BankHolidays: NoBankHolidays}, Date{2035, 1, 1}, false},
		{"region unset", Window{}, Date{2035, 1, 1}, false},
		{"Scotland past the list", Window{BankHolidays: Scotland}, Date{2030, 6, 1}, true},
	}
	for _, tt := range tests {
		got := tt.w.CoverageWarning(tt.last)
		if (got != "") != tt.warn {
			t.Errorf("%s: warning %q, want one: %v", tt.name, got, tt.warn)
		}
		if tt.warn && (!strings.Contains(got, "2028-12-31") || !strings.Contains(got, "refresh-bank-holidays.sh")) {
			t.Errorf("%s: warning %q does not say until when or what to do", tt.name, got)
		}
	}
}

// TestParseGovUKSubstitutes reads GOV.UK's format: a substitute day's
// weekend holiday closes windows too, whatever the apostrophe.
func TestParseGovUKSubstitutes(t *testing.T) {
	const data = `{"england-and-wales": {"division": "england-and-wales", "events": [
		{"title": "New Year\u2019s Day", "date": "2033-01-03", "notes": "Substitute day", "bunting": true},
		{"title": "Boxing Day", "date": "2032-12-27", "notes": "Substitute day", "bunting": true},
		{"title": "Coronation", "date": "2033-05-09", "notes": "", "bunting": true}]},
	"scotland": {"division": "scotland", "events": [{"title": "St Andrew's Day", "date": "2031-12-01", "notes": "Substitute day", "bunting": true}]},
	"northern-ireland": {"division": "northern-ireland", "events": [{"title": "Good Friday", "date": "2033-04-15", "notes": "", "bunting": false}]}}`
	official, weekendDays, err := parseBankHolidays([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := official[EnglandAndWales]; len(got) != 3 || got[0] != (Date{2032, 12, 27}) {
		t.Errorf("official = %v", got)
	}
	want := []Date{{2032, 12, 26}, {2033, 1, 1}}
	if !slices.Equal(weekendDays[EnglandAndWales], want) || !slices.Equal(weekendDays[Scotland], []Date{{2031, 11, 30}}) {
		t.Errorf("weekend days = %v", weekendDays)
	}
	for _, bad := range []string{`{}`, `{"england-and-wales": {"events": [{"date": "2033-02-30"}]}}`, `[`} {
		if _, _, err := parseBankHolidays([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
