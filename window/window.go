// Package window decides when patients may be contacted: calling windows in
// local wall-clock time (days of the week, a start and end time, a time
// zone, holidays) and a Planner that spreads a campaign's contacts at a
// steady pace through the openings of a window.
//
// A window is closed on its holidays and bank holidays, outside its days,
// and outside [Start, End) of local wall-clock time. On the days the clocks
// change, an opening is whatever real time has its wall clock inside
// [Start, End): on the last Sunday of March in Europe/London there is no
// 01:30, and on the last Sunday of October 01:30 happens twice.
package window

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	// Embed the time zone database so Europe/London loads on a machine or
	// container without one; Go uses the system's copy when there is one.
	_ "time/tzdata"
)

// Window is a calling window. Build one with Default or Parse, or fill it
// in and call Validate.
type Window struct {
	// Days are the days of the week on which contact is allowed.
	Days []time.Weekday
	// Start and End bound the opening each day in local wall-clock time,
	// End exclusive. End must be after Start: overnight windows are not
	// supported.
	Start, End Clock
	// Location is the time zone of the wall clock.
	Location *time.Location
	// Holidays are extra civil dates on which there is no contact.
	Holidays []Date
	// BankHolidays is the region whose bank holidays are closed too
	// (EnglandAndWales, Scotland, NorthernIreland), or "" for none.
	BankHolidays string
}

// maxSearchDays bounds how far NextOpen looks ahead, so that a window that
// never opens (every allowed day a holiday) ends the search.
const maxSearchDays = 3 * 366

var (
	londonOnce sync.Once
	london     *time.Location
)

func londonLocation() *time.Location {
	londonOnce.Do(func() {
		var err error
		if london, err = time.LoadLocation("Europe/London"); err != nil {
			// time/tzdata is embedded, so this cannot happen.
			panic(fmt.Sprintf("window: load Europe/London: %v", err))
		}
	})
	return london
}

// Default returns the usual outreach window: Monday to Saturday, 09:00 to
// 19:00 Europe/London, closed on England and Wales bank holidays.
func Default() Window {
	return Window{
		Days:         []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday},
		Start:        9 * 60,
		End:          19 * 60,
		Location:     londonLocation(),
		BankHolidays: EnglandAndWales,
	}
}

// FieldError says which field of a window is wrong and what was expected.
// Its message reads like "start: expected HH:MM, got \"9am\"".
type FieldError struct {
	// Field is the JSON name of the field, with an index for list items,
	// such as "holidays[2]".
	Field string
	// Problem says what was expected and what was found.
	Problem string
}

// Error returns "field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Validate reports the first problem with w as a *FieldError, or nil.
func (w Window) Validate() error {
	if len(w.Days) == 0 {
		return fieldErr("days", "expected at least one day")
	}
	for i, d := range w.Days {
		if d < time.Sunday || d > time.Saturday {
			return fieldErr(fmt.Sprintf("days[%d]", i), "expected a weekday, got %d", int(d))
		}
	}
	if !w.Start.Valid() {
		return fieldErr("start", "expected a time between 00:00 and 23:59, got %d minutes", int(w.Start))
	}
	if !w.End.Valid() && w.End != EndOfDay {
		return fieldErr("end", "expected a time between 00:01 and 24:00, got %d minutes", int(w.End))
	}
	if w.End <= w.Start {
		return fieldErr("end", "expected a time after start %s (overnight windows are not supported), got %s", w.Start, w.End)
	}
	if w.Location == nil {
		return fieldErr("timezone", "expected a time zone, got none")
	}
	for i, d := range w.Holidays {
		if !d.Valid() {
			return fieldErr(fmt.Sprintf("holidays[%d]", i), "expected a real date, got %04d-%02d-%02d", d.Year, int(d.Month), d.Day)
		}
	}
	if w.BankHolidays != "" && bankHolidaySet[w.BankHolidays] == nil {
		return fieldErr("bank_holidays", "expected %s or %s, got %q", strings.Join(Regions(), ", "), NoBankHolidays, w.BankHolidays)
	}
	return nil
}

// DayOpen reports whether contact is allowed at some time on date d: its
// weekday is one of Days and it is not a holiday or bank holiday.
func (w Window) DayOpen(d Date) bool {
	return slices.Contains(w.Days, d.Weekday()) && !w.IsHoliday(d)
}

// IsHoliday reports whether d is one of the window's holidays or bank
// holidays.
func (w Window) IsHoliday(d Date) bool {
	return isBankHoliday(w.BankHolidays, d) || slices.Contains(w.Holidays, d)
}

// Open reports whether contact is allowed at t. A window without a
// Location is never open.
func (w Window) Open(t time.Time) bool {
	if w.Location == nil {
		return false
	}
	lt := t.In(w.Location)
	m := Clock(lt.Hour()*60 + lt.Minute())
	return m >= w.Start && m < w.End && w.DayOpen(DateOf(lt))
}

// wallOf returns the wall-clock reading of t in its location as a UTC time,
// and the zone offset that turns it back into t.
func wallOf(lt time.Time) (wall time.Time, offset time.Duration) {
	_, off := lt.Zone()
	offset = time.Duration(off) * time.Second
	return lt.UTC().Add(offset), offset
}

func at(d Date, c Clock) time.Time {
	return time.Date(d.Year, d.Month, d.Day, int(c)/60, int(c)%60, 0, 0, time.UTC)
}

// nextOpenWall returns the first wall-clock reading at or after wall that is
// inside the window, ignoring time zone changes.
func (w Window) nextOpenWall(wall time.Time) (time.Time, bool) {
	d := DateOf(wall)
	m := Clock(wall.Hour()*60 + wall.Minute())
	for i := 0; i <= maxSearchDays; i++ {
		if w.DayOpen(d) {
			switch {
			case i > 0 || m < w.Start:
				return at(d, w.Start), true
			case m < w.End:
				return wall, true
			}
		}
		d = d.AddDays(1)
	}
	return time.Time{}, false
}

// maxSegments bounds the walk over time zone changes; real zones change at
// most a few times in the search horizon.
const maxSegments = 64

// NextOpen returns t if the window is open at t, and otherwise the first
// instant after t at which it opens, in t's location. It returns the zero
// Time if the window does not open within about three years (an invalid
// window, or every allowed day a holiday).
//
// Between two clock changes the wall clock moves with real time, so the
// search works one zone period at a time: it finds the next open wall-clock
// reading, and if that reading falls after the next clock change it starts
// again from the change.
func (w Window) NextOpen(t time.Time) time.Time {
	if w.Location == nil || w.End <= w.Start {
		return time.Time{}
	}
	for range maxSegments {
		if w.Open(t) {
			return t
		}
		lt := t.In(w.Location)
		wall, off := wallOf(lt)
		_, change := lt.ZoneBounds()
		next, ok := w.nextOpenWall(wall)
		if !ok {
			return time.Time{}
		}
		cand := next.Add(-off)
		if change.IsZero() || cand.Before(change) {
			return cand.In(t.Location())
		}
		t = change.In(t.Location())
	}
	return time.Time{}
}

// CloseOf returns the end of the opening that contains t: the first
// instant at or after t at which the window is closed. If the window is
// closed at t it returns t. Every instant in [t, CloseOf(t)) is open.
func (w Window) CloseOf(t time.Time) time.Time {
	for range maxSegments {
		if !w.Open(t) {
			return t
		}
		lt := t.In(w.Location)
		wall, off := wallOf(lt)
		_, change := lt.ZoneBounds()
		cand := at(DateOf(wall), w.End).Add(-off)
		if change.IsZero() || cand.Before(change) {
			return cand.In(t.Location())
		}
		// The clocks change inside the opening: carry on from the change,
		// where the wall clock may have jumped out of the window.
		t = change.In(t.Location())
	}
	return t
}
