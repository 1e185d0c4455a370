package window

import (
	"math"
	"testing"
	"time"
)

func TestPlanner(t *testing.T) {
	tests := []struct {
		name string
		w    Window
		from string // UTC
		pace float64
		want []string // UTC
	}{
		{"rolls over a bank holiday weekend", Default(), "2026-08-29 17:58:00", 1.0 / 30,
			[]string{"2026-08-29 17:58:00", "2026-08-29 17:58:30", "2026-08-29 17:59:00", "2026-08-29 17:59:30", "2026-09-01 08:00:00", "2026-09-01 08:00:30"}},
		{"starts at the next opening", Default(), "2026-06-07 10:00:00", 2,
			[]string{"2026-06-08 08:00:00", "2026-06-08 08:00:00.5", "2026-06-08 08:00:01"}},
		{"one per opening when the pace is slow", Default(), "2026-12-23 12:00:00", 1.0 / 86400,
			[]string{"2026-12-23 12:00:00", "2026-12-24 09:00:00", "2026-12-29 09:00:00", "2026-12-30 09:00:00"}},
		{"an opening not a multiple of the gap", everyDay("09:00", "09:01"), "2026-06-01 00:00:00", 1.0 / 25,
			[]string{"2026-06-01 08:00:00", "2026-06-01 08:00:25", "2026-06-01 08:00:50", "2026-06-02 08:00:00"}},
		{"split opening when the clocks go back", everyDay("01:30", "02:00"), "2026-10-24 12:00:00", 1.0 / 600,
			[]string{"2026-10-25 00:30:00", "2026-10-25 00:40:00", "2026-10-25 00:50:00", "2026-10-25 01:30:00", "2026-10-25 01:40:00", "2026-10-25 01:50:00", "2026-10-26 01:30:00"}},
		{"short opening when the clocks go forward", everyDay("00:30", "01:30"), "2026-03-28 12:00:00", 1.0 / 900,
			// Monday's 00:30 BST is 23:30 UTC on the Sunday.
			[]string{"2026-03-29 00:30:00", "2026-03-29 00:45:00", "2026-03-29 23:30:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlanner(tt.w, inUTC(t, tt.from), tt.pace)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.want {
				want, err := time.Parse("2006-01-02 15:04:05.999999999", s)
				if err != nil {
					t.Fatal(err)
				}
				if got := p.Next(); !got.Equal(want) {
					t.Fatalf("item %d due %s, want %s", i, got, want)
				}
			}
		})
	}
}

func TestPlannerInvariants(t *testing.T) {
	w := Default()
	w.Holidays = []Date{{2026, 10, 27}}
	from := time.Date(2026, 10, 20, 13, 7, 3, 0, time.UTC)
	to := from.Add(9 * 24 * time.Hour)
	for _, pace := range []float64{0.37, 1, 3, 7.5} {
		p, err := NewPlanner(w, from, pace)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		var prev time.Time
		perDay := map[Date]int{}
		for due := p.Next(); due.Before(to); due = p.Next() {
			if !w.Open(due) {
				t.Fatalf("pace %g: item %d due %s outside the window", pace, n, due)
			}
			if !due.After(prev) {
				t.Fatalf("pace %g: item %d due %s not after %s", pace, n, due, prev)
			}
			prev = due
			perDay[DateOf(due.In(w.Location))]++
			n++
		}
		if c := w.Capacity(from, to, pace); c != n {
			t.Errorf("pace %g: Capacity = %d, Planner handed out %d", pace, c, n)
		}
		// A full day (10 hours, 26 October is in GMT after the change) holds
		// ceil(36000*pace) items.
		if got, want := perDay[Date{2026, 10, 26}], int(math.Ceil(36000*pace)); got != want {
			t.Errorf("pace %g: %d items on a full day, want %d", pace, got, want)
		}
		if perDay[Date{2026, 10, 27}] != 0 || perDay[Date{2026, 10, 25}] != 0 {
			t.Errorf("pace %g: items on a holiday or Sunday: %v", pace, perDay)
		}
	}
}

func TestPlannerErrors(t *testing.T) {
	for _, pace := range []float64{0, -1, math.NaN(), math.Inf(1), 2e9} {
		if _, err := NewPlanner(Default(), time.Now(), pace); err == nil {
			t.Errorf("pace %g: no error", pace)
		}
		if c := Default().Capacity(time.Now(), time.Now().Add(time.Hour), pace); c != 0 {
			t.Errorf("pace %g: Capacity %d", pace, c)
		}
	}
	if _, err := NewPlanner(Window{}, time.Now(), 1); err == nil {
		t.Error("invalid window: no error")
	}
}

func TestCapacity(t *testing.T) {
	w := Default()
	mon := time.Date(2026, 6, 1, 0, 0, 0, 0, w.Location)
	tests := []struct {
		from, to time.Time
		pace     float64
		want     int
	}{
		{mon, mon.Add(24 * time.Hour), 1, 36000},
		{mon, mon.Add(7 * 24 * time.Hour), 1, 6 * 36000},
		{mon.Add(18 * time.Hour), mon.Add(20 * time.Hour), 1, 3600},
		{mon.Add(9 * time.Hour), mon.Add(9*time.Hour + 10*time.Second), 0.25, 3}, // 0, 4 and 8 s
		{mon, mon, 1, 0},
		{mon.Add(time.Hour), mon, 1, 0},
	}
	for _, tt := range tests {
		if got := w.Capacity(tt.from, tt.to, tt.pace); got != tt.want {
			t.Errorf("Capacity(%s, %s, %g) = %d, want %d", tt.from, tt.to, tt.pace, got, tt.want)
		}
	}
}

func TestPlannerMillion(t *testing.T) {
	p, err := NewPlanner(Default(), time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC), 5)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var last time.Time
	for range 1_000_000 {
		last = p.Next()
	}
	took := time.Since(start)
	t.Logf("1,000,000 items in %s, the last due %s", took, last)
	// 180,000 a day from Monday 21 to Thursday 24 December, then the
	// Christmas holidays, 180,000 on Tuesday 29 and the rest on Wednesday 30.
	if want := time.Date(2026, 12, 30, 9, 0, 0, 0, time.UTC).Add(99_999 * 200 * time.Millisecond); !last.Equal(want) {
		t.Errorf("last item due %s, want %s", last, want)
	}
	if took > 5*time.Second {
		t.Errorf("1,000,000 items took %s", took)
	}
}

func BenchmarkPlannerNext(b *testing.B) {
	p, err := NewPlanner(Default(), time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), 5)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p.Next()
	}
}

func BenchmarkPlannerMillion(b *testing.B) {
	for b.Loop() {
		p, _ := NewPlanner(Default(), time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), 10)
		for range 1_000_000 {
			p.Next()
		}
	}
}

func BenchmarkNextOpen(b *testing.B) {
	w := Default()
	t := time.Date(2026, 12, 24, 19, 0, 0, 0, time.UTC)
	for b.Loop() {
		w.NextOpen(t)
	}
}
