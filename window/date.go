package window

import (
	"fmt"
	"strconv"
	"time"
)

// Date is a civil date with no time of day and no time zone, such as a
// bank holiday. The zero Date is not a valid date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the civil date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses an ISO 8601 calendar date, "2006-01-02".
func ParseDate(s string) (Date, error) {
	// time.Parse accepts single-digit fields in some layouts; insist on the
	// exact shape so that every accepted string prints back unchanged.
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("expected YYYY-MM-DD, got %q", s)
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("expected a real YYYY-MM-DD date, got %q", s)
	}
	return DateOf(t), nil
}

// String formats d as "2006-01-02".
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// Valid reports whether d names a real day between years 1 and 9999.
func (d Date) Valid() bool {
	if d.Year < 1 || d.Year > 9999 {
		return false
	}
	return DateOf(d.In(time.UTC)) == d
}

// In returns midnight at the start of d in loc (or the first instant of d
// where midnight does not exist there).
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return d.In(time.UTC).Weekday()
}

// AddDays returns d moved by n days.
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 0, 0, 0, 0, time.UTC))
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmpInt(d.Year, e.Year)
	case d.Month != e.Month:
		return cmpInt(int(d.Month), int(e.Month))
	default:
		return cmpInt(d.Day, e.Day)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// MarshalText encodes d as "2006-01-02".
func (d Date) MarshalText() ([]byte, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("window: invalid date %d-%d-%d", d.Year, int(d.Month), d.Day)
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes "2006-01-02".
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Clock is a wall-clock time of day in minutes since midnight, 0 (00:00)
// to 1439 (23:59), or EndOfDay (24:00) as the end of a window.
type Clock int

// EndOfDay is "24:00": a window that ends at midnight.
const EndOfDay Clock = 24 * 60

// ParseClock parses a 24-hour "HH:MM" time of day; "9:30" is accepted too.
func ParseClock(s string) (Clock, error) {
	bad := fmt.Errorf("expected HH:MM, got %q", s)
	i := len(s) - 3
	if i < 1 || i > 2 || s[i] != ':' {
		return 0, bad
	}
	h, err1 := atoiDigits(s[:i])
	m, err2 := atoiDigits(s[i+1:])
	if err1 != nil || err2 != nil {
		return 0, bad
	}
	if h == 24 && m == 0 {
		return EndOfDay, nil
	}
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("expected HH:MM between 00:00 and 24:00, got %q", s)
	}
	return Clock(h*60 + m), nil
}

// atoiDigits accepts only ASCII digits: strconv.Atoi would take "+9".
func atoiDigits(s string) (int, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.Atoi(s)
}

// Valid reports whether c is between 00:00 and 23:59.
func (c Clock) Valid() bool { return c >= 0 && c < 24*60 }

// String formats c as "HH:MM".
func (c Clock) String() string {
	if c == EndOfDay {
		return "24:00"
	}
	if !c.Valid() {
		return fmt.Sprintf("Clock(%d)", int(c))
	}
	return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60)
}

// MarshalText encodes c as "HH:MM".
func (c Clock) MarshalText() ([]byte, error) {
	if !c.Valid() && c != EndOfDay {
		return nil, fmt.Errorf("window: invalid clock %d", int(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText decodes "HH:MM".
func (c *Clock) UnmarshalText(b []byte) error {
	v, err := ParseClock(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
