package window

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var utc = time.UTC

// local parses "2006-01-02 15:04:05" as London wall-clock time; use it only
// away from clock changes.
func local(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation(time.DateTime, s, londonLocation())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// inUTC parses "2006-01-02 15:04:05" as UTC, for instants near clock changes.
func inUTC(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation(time.DateTime, s, utc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func everyDay(start, end string) Window {
	w := Default()
	w.Days = []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	w.Start, _ = ParseClock(start)
	w.End, _ = ParseClock(end)
	w.BankHolidays = ""
	return w
}

func TestOpen(t *testing.T) {
	def := Default()
	withHoliday := Default()
	withHoliday.Holidays = []Date{{2026, 6, 3}}
	scot := Default()
	scot.BankHolidays = Scotland
	tests := []struct {
		name string
		w    Window
		at   string // London wall clock
		want bool
	}{
		{"weekday midday", def, "2026-06-01 12:00:00", true},
		{"saturday", def, "2026-06-06 12:00:00", true},
		{"sunday", def, "2026-06-07 12:00:00", false},
		{"before start", def, "2026-06-01 08:59:59", false},
		{"exactly start", def, "2026-06-01 09:00:00", true},
		{"just before end", def, "2026-06-01 18:59:59", true},
		{"exactly end", def, "2026-06-01 19:00:00", false},
		{"after end", def, "2026-06-01 22:00:00", false},
		{"midnight", def, "2026-06-02 00:00:00", false},
		{"bank holiday", def, "2026-08-31 12:00:00", false},
		{"christmas", def, "2026-12-25 12:00:00", false},
		{"saturday boxing day", def, "2026-12-26 12:00:00", false},
		{"boxing day substitute", def, "2026-12-28 12:00:00", false},
		{"after christmas", def, "2026-12-29 12:00:00", true},
		{"own holiday", withHoliday, "2026-06-03 12:00:00", false},
		{"day after own holiday", withHoliday, "2026-06-04 12:00:00", true},
		{"scottish summer holiday", scot, "2026-08-03 12:00:00", false},
		{"english summer holiday in scotland", scot, "2026-08-31 12:00:00", true},
		{"no location", Window{Days: def.Days, Start: 0, End: 1439}, "2026-06-01 12:00:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := local(t, tt.at)
			if got := tt.w.Open(at); got != tt.want {
				t.Errorf("Open(%s) = %v, want %v", tt.at, got, tt.want)
			}
			// The answer does not depend on the location t is given in.
			if got := tt.w.Open(at.In(time.FixedZone("X", -5*3600))); got != tt.want {
				t.Errorf("Open(%s in -05:00) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

func TestNextOpenAndCloseOf(t *testing.T) {
	def := Default()
	tests := []struct {
		name      string
		w         Window
		at        string // London wall clock
		next      string
		nextClose string
	}{
		{"open now", def, "2026-06-01 12:34:56", "2026-06-01 12:34:56", "2026-06-01 19:00:00"},
		{"before start", def, "2026-06-01 07:00:00", "2026-06-01 09:00:00", "2026-06-01 19:00:00"},
		{"exactly start", def, "2026-06-01 09:00:00", "2026-06-01 09:00:00", "2026-06-01 19:00:00"},
		{"exactly end", def, "2026-06-01 19:00:00", "2026-06-02 09:00:00", "2026-06-02 19:00:00"},
		{"after end", def, "2026-06-01 23:59:59", "2026-06-02 09:00:00", "2026-06-02 19:00:00"},
		{"saturday evening", def, "2026-06-06 19:00:00", "2026-06-08 09:00:00", "2026-06-08 19:00:00"},
		{"sunday", def, "2026-06-07 10:00:00", "2026-06-08 09:00:00", "2026-06-08 19:00:00"},
		{"bank holiday weekend", def, "2026-08-29 19:30:00", "2026-09-01 09:00:00", "2026-09-01 19:00:00"},
		{"christmas", def, "2026-12-24 19:00:00", "2026-12-29 09:00:00", "2026-12-29 19:00:00"},
		{"new year 2028", def, "2027-12-31 19:00:00", "2028-01-04 09:00:00", "2028-01-04 19:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, next, nextClose := local(t, tt.at), local(t, tt.next), local(t, tt.nextClose)
			got := tt.w.NextOpen(at)
			if !got.Equal(next) {
				t.Fatalf("NextOpen(%s) = %s, want %s", tt.at, got, next)
			}
			if got.Location() != at.Location() {
				t.Errorf("NextOpen changed the location to %s", got.Location())
			}
			if c := tt.w.CloseOf(got); !c.Equal(nextClose) {
				t.Errorf("CloseOf(%s) = %s, want %s", got, c, nextClose)
			}
			if !tt.w.Open(at) {
				if c := tt.w.CloseOf(at); !c.Equal(at) {
					t.Errorf("CloseOf(closed %s) = %s, want it unchanged", at, c)
				}
			}
		})
	}
}

// TestDST covers the last Sundays of March and October 2026 in London:
// at 01:00 UTC on 29 March the clocks jump from 01:00 GMT to 02:00 BST, and
// at 01:00 UTC on 25 October they fall back from 02:00 BST to 01:00 GMT.
func TestDST(t *testing.T) {
	tests := []struct {
		name      string
		w         Window
		at        string // UTC
		next      string // UTC
		nextClose string // UTC
	}{
		// Spring: wall clock 01:00-02:00 does not exist.
		{"spring day window", everyDay("09:00", "19:00"), "2026-03-29 00:00:00", "2026-03-29 08:00:00", "2026-03-29 18:00:00"},
		{"spring day window before", everyDay("09:00", "19:00"), "2026-03-28 19:00:00", "2026-03-29 08:00:00", "2026-03-29 18:00:00"},
		{"spring window starts in gap", everyDay("01:30", "03:00"), "2026-03-28 23:00:00", "2026-03-29 01:00:00", "2026-03-29 02:00:00"},
		{"spring window ends in gap", everyDay("00:30", "01:30"), "2026-03-28 23:00:00", "2026-03-29 00:30:00", "2026-03-29 01:00:00"},
		{"spring window inside gap", everyDay("01:15", "01:45"), "2026-03-28 23:00:00", "2026-03-30 00:15:00", "2026-03-30 00:45:00"},
		{"spring window across gap", everyDay("00:30", "03:00"), "2026-03-29 00:45:00", "2026-03-29 00:45:00", "2026-03-29 02:00:00"},
		// Autumn: wall clock 01:00-02:00 happens twice.
		{"autumn day window", everyDay("09:00", "19:00"), "2026-10-24 20:00:00", "2026-10-25 09:00:00", "2026-10-25 19:00:00"},
		{"autumn day window before change", everyDay("09:00", "19:00"), "2026-10-24 07:00:00", "2026-10-24 08:00:00", "2026-10-24 18:00:00"},
		{"autumn repeated hour", everyDay("01:00", "02:00"), "2026-10-24 22:00:00", "2026-10-25 00:00:00", "2026-10-25 02:00:00"},
		{"autumn half hour, first", everyDay("01:30", "02:00"), "2026-10-24 22:00:00", "2026-10-25 00:30:00", "2026-10-25 01:00:00"},
		{"autumn half hour, second", everyDay("01:30", "02:00"), "2026-10-25 01:00:00", "2026-10-25 01:30:00", "2026-10-25 02:00:00"},
		{"autumn after both", everyDay("01:30", "02:00"), "2026-10-25 02:00:00", "2026-10-26 01:30:00", "2026-10-26 02:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, next, nextClose := inUTC(t, tt.at), inUTC(t, tt.next), inUTC(t, tt.nextClose)
			got := tt.w.NextOpen(at)
			if !got.Equal(next) {
				t.Fatalf("NextOpen(%s) = %s, want %s", at, got.In(londonLocation()), next.In(londonLocation()))
			}
			if c := tt.w.CloseOf(got); !c.Equal(nextClose) {
				t.Errorf("CloseOf(%s) = %s, want %s", got, c.In(londonLocation()), nextClose.In(londonLocation()))
			}
			// Every minute of the opening is open, and the minute before it
			// and at its close are not.
			for m := got; m.Before(nextClose); m = m.Add(time.Minute) {
				if !tt.w.Open(m) {
					t.Fatalf("closed at %s inside the opening", m.In(londonLocation()))
				}
			}
			if !got.Equal(at) && tt.w.Open(got.Add(-time.Nanosecond)) {
				t.Errorf("open just before NextOpen %s", got)
			}
			if tt.w.Open(nextClose) {
				t.Errorf("open at close %s", nextClose)
			}
		})
	}
}

func TestNextOpenNever(t *testing.T) {
	w := everyDay("09:00", "10:00")
	w.Days = []time.Weekday{time.Sunday}
	for d := (Date{2026, 1, 1}); d.Year < 2031; d = d.AddDays(1) {
		if d.Weekday() == time.Sunday {
			w.Holidays = append(w.Holidays, d)
		}
	}
	if got := w.NextOpen(local(t, "2026-01-01 00:00:00")); !got.IsZero() {
		t.Errorf("NextOpen = %s, want zero", got)
	}
	if got := (Window{}).NextOpen(time.Now()); !got.IsZero() {
		t.Errorf("zero window NextOpen = %s, want zero", got)
	}
}

func TestParse(t *testing.T) {
	w, err := Parse([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if !sameWindow(w, Default()) {
		t.Errorf("Parse({}) = %+v, want the default", w)
	}
	w, err = Parse([]byte(`{"days":["Friday","mon","mon"],"start":"8:30","end":"20:00",
		"timezone":"Europe/Belfast","holidays":["2026-12-24","2026-01-02","2026-12-24"],
		"bank_holidays":"northern-ireland"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Window{
		Days:  []time.Weekday{time.Monday, time.Friday},
		Start: 8*60 + 30, End: 20 * 60,
		Holidays:     []Date{{2026, 1, 2}, {2026, 12, 24}},
		BankHolidays: NorthernIreland,
	}
	want.Location, _ = time.LoadLocation("Europe/Belfast")
	if !sameWindow(w, want) {
		t.Errorf("got %+v\nwant %+v", w, want)
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"days":["mon","fri"],"start":"08:30","end":"20:00","timezone":"Europe/Belfast","holidays":["2026-01-02","2026-12-24"],"bank_holidays":"northern-ireland"}`
	if string(b) != wantJSON {
		t.Errorf("Marshal = %s\nwant %s", b, wantJSON)
	}
	// Turning bank holidays off survives a round trip.
	w, err = Parse([]byte(`{"bank_holidays":"none","holidays":[]}`))
	if err != nil || w.BankHolidays != "" {
		t.Fatalf("none: %+v %v", w, err)
	}
	b, _ = json.Marshal(w)
	if w2, _ := Parse(b); w2.BankHolidays != "" {
		t.Errorf("none came back as %q from %s", w2.BankHolidays, b)
	}
	// A Window inside another struct decodes through UnmarshalJSON.
	var c struct{ Window Window }
	if err := json.Unmarshal([]byte(`{"Window":{"start":"10:00"}}`), &c); err != nil || c.Window.Start != 600 || c.Window.End != 19*60 {
		t.Errorf("embedded: %+v %v", c.Window, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in    string
		field string // "" for an error that is not a *FieldError
		msg   string
	}{
		{`{"start":"9am"}`, "start", `start: expected HH:MM, got "9am"`},
		{`{"start":"+9:00"}`, "start", `start: expected HH:MM, got "+9:00"`},
		{`{"end":"24:30"}`, "end", `end: expected HH:MM between 00:00 and 24:00, got "24:30"`},
		{`{"start":"24:00"}`, "start", `start: expected a time between 00:00 and 23:59`},
		{`{"start":"19:00","end":"09:00"}`, "end", `end: expected a time after start 19:00 (overnight windows are not supported), got 09:00`},
		{`{"start":"09:00","end":"09:00"}`, "end", `end: expected a time after start 09:00`},
		{`{"days":["mon","funday"]}`, "days[1]", `days[1]: expected mon, tue, wed, thu, fri, sat or sun, got "funday"`},
		{`{"days":[]}`, "days", `days: expected at least one day`},
		{`{"days":"mon"}`, "days", `days: expected a list of strings, got a JSON string`},
		{`{"days":[1]}`, "days", `days: expected a list of strings, got a JSON number`},
		{`{"start":9}`, "start", `start: expected a string, got a JSON number`},
		{`{"timezone":"Mars/Olympus"}`, "timezone", `timezone: expected an IANA time zone such as Europe/London, got "Mars/Olympus"`},
		{`{"timezone":"Local"}`, "timezone", `timezone: expected an IANA time zone`},
		{`{"timezone":""}`, "timezone", `timezone: expected an IANA time zone`},
		{`{"holidays":["2026-02-30"]}`, "holidays[0]", `holidays[0]: expected a real YYYY-MM-DD date, got "2026-02-30"`},
		{`{"holidays":["2026-2-3"]}`, "holidays[0]", `holidays[0]: expected YYYY-MM-DD, got "2026-2-3"`},
		{`{"bank_holidays":"wales"}`, "bank_holidays", `bank_holidays: expected england-and-wales, scotland, northern-ireland or none, got "wales"`},
		{`{"colour":"red"}`, "", `unknown field "colour"`},
		{`{} {}`, "", `expected one JSON object`},
		{`[1]`, "", `expected a JSON object`},
		{``, "", `expected a JSON object`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil {
			t.Errorf("Parse(%s): no error", tt.in)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Parse(%s) = %q, want it to contain %q", tt.in, err, tt.msg)
		}
		var fe *FieldError
		switch {
		case tt.field == "" && errors.As(err, &fe):
			t.Errorf("Parse(%s): unexpected field error %v", tt.in, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("Parse(%s) = %v, want a field error on %s", tt.in, err, tt.field)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Default()
	tests := []struct {
		name  string
		edit  func(w *Window)
		field string
	}{
		{"default", func(w *Window) {}, ""},
		{"no days", func(w *Window) { w.Days = nil }, "days"},
		{"bad day", func(w *Window) { w.Days = []time.Weekday{9} }, "days[0]"},
		{"bad start", func(w *Window) { w.Start = -1 }, "start"},
		{"bad end", func(w *Window) { w.End = 1441 }, "end"},
		{"overnight", func(w *Window) { w.Start, w.End = 22*60, 6*60 }, "end"},
		{"no location", func(w *Window) { w.Location = nil }, "timezone"},
		{"bad holiday", func(w *Window) { w.Holidays = []Date{{2026, 2, 30}} }, "holidays[0]"},
		{"bad region", func(w *Window) { w.BankHolidays = "wales" }, "bank_holidays"},
	}
	for _, tt := range tests {
		w := ok
		tt.edit(&w)
		err := w.Validate()
		var fe *FieldError
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
		} else if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: got %v, want a field error on %s", tt.name, err, tt.field)
		}
		if tt.field != "" {
			if _, err := json.Marshal(w); err == nil {
				t.Errorf("%s: Marshal of an invalid window succeeded", tt.name)
			}
		}
	}
}

// sameWindow compares windows by value, time zones by name.
func sameWindow(a, b Window) bool {
	ab, err1 := json.Marshal(a)
	bb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ab) == string(bb) &&
		a.Location.String() == b.Location.String() &&
		len(a.Days) == len(b.Days) && len(a.Holidays) == len(b.Holidays)
}

func TestEndOfDayWindowIsAlwaysOpen(t *testing.T) {
	w, err := Parse([]byte(`{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"00:00","end":"24:00","timezone":"Europe/London"}`))
	if err != nil {
		t.Fatal(err)
	}
	loc := w.Location
	for _, ts := range []time.Time{
		time.Date(2026, 11, 27, 23, 59, 30, 0, loc),
		time.Date(2026, 11, 28, 0, 0, 0, 0, loc),
		time.Date(2026, 3, 29, 3, 0, 0, 0, loc),
		time.Date(2026, 10, 25, 1, 30, 0, 0, loc),
	} {
		if !w.Open(ts) || !w.NextOpen(ts).Equal(ts) {
			t.Errorf("closed at %v", ts)
		}
	}
	b, err := json.Marshal(w)
	if err != nil || !strings.Contains(string(b), `"end":"24:00"`) {
		t.Fatalf("round trip: %s %v", b, err)
	}
	if _, err := ParseClock("24:01"); err == nil {
		t.Fatal("24:01 accepted")
	}
}
