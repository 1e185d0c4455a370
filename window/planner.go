package window

import (
	"fmt"
	"math"
	"time"
)

// Planner hands out due times for a run of items (messages, calls) at a
// steady pace inside a window's openings. Each opening starts with an item
// at its first instant, spaces the rest 1/pace seconds apart, and when the
// next item would fall at or after the opening's end it moves to the start
// of the next opening. Due times never fall outside the window and never
// go backwards. A Planner is not safe for concurrent use.
type Planner struct {
	w        Window
	interval float64 // nanoseconds between items
	start    time.Time
	end      time.Time
	k        int64 // items handed out in the current opening
	done     bool
}

// maxPace keeps the gap between items at one nanosecond or more, so due
// times strictly increase.
const maxPace = 1e9

func checkPace(pace float64) error {
	if !(pace > 0) || pace > maxPace || math.IsInf(pace, 0) {
		return fmt.Errorf("window: pace must be more than 0 and at most %g items per second, got %g", float64(maxPace), pace)
	}
	return nil
}

// NewPlanner returns a Planner whose first item is due at the first
// opening of w at or after from, pace items per second.
func NewPlanner(w Window, from time.Time, pace float64) (*Planner, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("window: %w", err)
	}
	if err := checkPace(pace); err != nil {
		return nil, err
	}
	p := &Planner{w: w, interval: 1e9 / pace}
	p.roll(from)
	return p, nil
}

// roll moves to the first opening at or after t.
func (p *Planner) roll(t time.Time) {
	s := p.w.NextOpen(t)
	if s.IsZero() {
		p.done = true
		return
	}
	p.start, p.end, p.k = s, p.w.CloseOf(s), 0
}

// Next returns the due time of the next item. It costs O(1) apart from
// moving to the next opening, which happens once per opening. It returns
// the zero Time if the window never opens again (see Window.NextOpen).
func (p *Planner) Next() time.Time {
	for !p.done {
		// Offsets come from the item count, not a running sum, so rounding
		// does not drift over a long opening.
		due := p.start.Add(time.Duration(float64(p.k) * p.interval))
		if due.Before(p.end) {
			p.k++
			return due
		}
		p.roll(p.end)
	}
	return time.Time{}
}

// slots returns how many items fit in an opening of length d, counted the
// way Next counts them.
func slots(d time.Duration, interval float64) int {
	if d <= 0 {
		return 0
	}
	n := int64(math.Ceil(float64(d) / interval))
	for n > 0 && time.Duration(float64(n-1)*interval) >= d {
		n--
	}
	for time.Duration(float64(n)*interval) < d {
		n++
	}
	return int(n)
}

// Capacity returns how many items a Planner started at from with this pace
// would hand out before to. It is 0 for an invalid pace or window.
func (w Window) Capacity(from, to time.Time, pace float64) int {
	if checkPace(pace) != nil || w.Validate() != nil {
		return 0
	}
	interval := 1e9 / pace
	n := 0
	for t := from; t.Before(to); {
		s := w.NextOpen(t)
		if s.IsZero() || !s.Before(to) {
			break
		}
		e := w.CloseOf(s)
		end := e
		if end.After(to) {
			end = to
		}
		n += slots(end.Sub(s), interval)
		t = e
	}
	return n
}
