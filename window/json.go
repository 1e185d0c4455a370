package window

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// windowJSON is the friendly form. Pointers tell a missing field, which
// takes the default, from a present one.
type windowJSON struct {
	Days         *[]string `json:"days"`
	Start        *string   `json:"start"`
	End          *string   `json:"end"`
	Timezone     *string   `json:"timezone"`
	Holidays     *[]string `json:"holidays"`
	BankHolidays *string   `json:"bank_holidays"`
}

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// weekOrder is the order days are written in: the working week first.
var weekOrder = [7]time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

func parseDay(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for d := time.Sunday; d <= time.Saturday; d++ {
		if s == dayNames[d] || s == strings.ToLower(d.String()) {
			return d, true
		}
	}
	return 0, false
}

// Parse reads a window in its JSON form:
//
//	{"days": ["mon", "tue", "wed", "thu", "fri", "sat"],
//	 "start": "09:00", "end": "19:00", "timezone": "Europe/London",
//	 "holidays": ["2026-12-24"], "bank_holidays": "england-and-wales"}
//
// A missing or null field takes its value from Default, so {} is the
// default window; "holidays" defaults to none and "bank_holidays": "none"
// turns bank holidays off. Day names may be written in full ("monday").
// Unknown fields are rejected. A problem with a field is a *FieldError
// naming it, such as "start: expected HH:MM, got \"9am\"".
func Parse(data []byte) (Window, error) {
	var in windowJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Window{}, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Window{}, errors.New("window: expected one JSON object, found more after it")
	}
	w := Default()
	if in.Days != nil {
		w.Days = nil
		seen := [7]bool{}
		for i, s := range *in.Days {
			d, ok := parseDay(s)
			if !ok {
				return Window{}, fieldErr(fmt.Sprintf("days[%d]", i), "expected mon, tue, wed, thu, fri, sat or sun, got %q", s)
			}
			seen[d] = true
		}
		for _, d := range weekOrder {
			if seen[d] {
				w.Days = append(w.Days, d)
			}
		}
	}
	var err error
	if in.Start != nil {
		if w.Start, err = ParseClock(*in.Start); err != nil {
			return Window{}, &FieldError{Field: "start", Problem: err.Error()}
		}
	}
	if in.End != nil {
		if w.End, err = ParseClock(*in.End); err != nil {
			return Window{}, &FieldError{Field: "end", Problem: err.Error()}
		}
	}
	if in.Timezone != nil {
		if w.Location, err = loadLocation(*in.Timezone); err != nil {
			return Window{}, err
		}
	}
	if in.Holidays != nil {
		for i, s := range *in.Holidays {
			d, err := ParseDate(s)
			if err != nil {
				return Window{}, &FieldError{Field: fmt.Sprintf("holidays[%d]", i), Problem: err.Error()}
			}
			w.Holidays = append(w.Holidays, d)
		}
		slices.SortFunc(w.Holidays, Date.Compare)
		w.Holidays = slices.Compact(w.Holidays)
	}
	if in.BankHolidays != nil {
		w.BankHolidays = *in.BankHolidays
		if w.BankHolidays == NoBankHolidays {
			w.BankHolidays = ""
		} else if bankHolidaySet[w.BankHolidays] == nil {
			return Window{}, fieldErr("bank_holidays", "expected %s or %s, got %q", strings.Join(Regions(), ", "), NoBankHolidays, w.BankHolidays)
		}
	}
	if err := w.Validate(); err != nil {
		return Window{}, err
	}
	return w, nil
}

func loadLocation(name string) (*time.Location, error) {
	bad := fieldErr("timezone", "expected an IANA time zone such as Europe/London, got %q", name)
	// "" and "Local" load as UTC and the machine's zone: neither is what
	// anyone writing a campaign means.
	if name == "" || name == "Local" {
		return nil, bad
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, bad
	}
	return loc, nil
}

// jsonError turns decoding errors into field errors where it can.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		want := "a string"
		switch te.Field {
		case "days", "holidays":
			want = "a list of strings"
		}
		if strings.Contains(te.Field, ".") {
			// The decoder names a bad list item by its list only.
			te.Field, _, _ = strings.Cut(te.Field, ".")
		}
		return fieldErr(te.Field, "expected %s, got a JSON %s", want, te.Value)
	}
	return fmt.Errorf("window: expected a JSON object: %w", err)
}

// MarshalJSON writes w in the form Parse reads, with every field present
// so the default does not creep back in.
func (w Window) MarshalJSON() ([]byte, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("window: %w", err)
	}
	tz := w.Location.String()
	if tz == "Local" || tz == "" {
		return nil, fmt.Errorf("window: %w", fieldErr("timezone", "expected a named time zone, got %q", tz))
	}
	var seen [7]bool
	for _, d := range w.Days {
		seen[d] = true
	}
	days := []string{}
	for _, d := range weekOrder {
		if seen[d] {
			days = append(days, dayNames[d])
		}
	}
	hs := slices.Clone(w.Holidays)
	slices.SortFunc(hs, Date.Compare)
	hs = slices.Compact(hs)
	holidays := make([]string, len(hs))
	for i, d := range hs {
		holidays[i] = d.String()
	}
	start, end, bank := w.Start.String(), w.End.String(), w.BankHolidays
	if bank == "" {
		bank = NoBankHolidays
	}
	return json.Marshal(windowJSON{
		Days: &days, Start: &start, End: &end, Timezone: &tz,
		Holidays: &holidays, BankHolidays: &bank,
	})
}

// UnmarshalJSON reads w as Parse does.
func (w *Window) UnmarshalJSON(data []byte) error {
	v, err := Parse(data)
	if err != nil {
		return err
	}
	*w = v
	return nil
}
