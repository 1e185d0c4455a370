package window

import (
	"slices"
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

func TestBankHolidaysMatchRules(t *testing.T) {
	_, weekendDays, err := parseBankHolidays(bankHolidaysText)
	if err != nil {
		t.Fatal(err)
	}
	first, last := BankHolidayYears()
	if first != 2025 || last != 2028 {
		t.Errorf("years = %d..%d, want 2025..2028", first, last)
	}
	for _, region := range Regions() {
		var want, wantWeekend []Date
		for y := first; y <= last; y++ {
			o, w := byRule(region, y)
			want, wantWeekend = append(want, o...), append(wantWeekend, w...)
		}
		got, err := BankHolidays(region)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", region, got, want)
		}
		if !slices.Equal(weekendDays[region], wantWeekend) {
			t.Errorf("%s weekend days:\n got %v\nwant %v", region, weekendDays[region], wantWeekend)
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
// year's dates to bankholidays.txt.
func TestBankHolidayCoverage(t *testing.T) {
	if _, last := BankHolidayYears(); time.Now().Year() > last {
		t.Fatalf("bankholidays.txt ends in %d: add the bank holidays for %d", last, time.Now().Year())
	}
}
