package window

import (
	"encoding/json"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		`{}`,
		`{"days":["mon","tue","wed","thu","fri","sat"],"start":"09:00","end":"19:00","timezone":"Europe/London","holidays":["2026-12-24"],"bank_holidays":"england-and-wales"}`,
		`{"days":["sun"],"start":"01:30","end":"02:00","timezone":"Europe/London","bank_holidays":"none"}`,
		`{"days":["sun","sat"],"start":"00:00","end":"23:59","timezone":"Australia/Lord_Howe"}`,
		`{"start":"23:00","end":"23:59","timezone":"America/Santiago","bank_holidays":"scotland"}`,
		`{"start":"00:15","end":"00:45","timezone":"America/Havana","bank_holidays":"northern-ireland"}`,
		`{"timezone":"Pacific/Apia","holidays":["2011-12-30"]}`,
		`{"start":"9am"}`,
		`{"days":[]}`,
		`{"timezone":"UTC","days":["Monday"]}`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), int64(1_780_000_000+i*86_400*40))
	}
	f.Fuzz(func(t *testing.T, data []byte, sec int64) {
		w, err := Parse(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		b, err := json.Marshal(w)
		if err != nil {
			t.Fatalf("Marshal of a parsed window: %v", err)
		}
		w2, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Marshal(w)) = %v for %s", err, b)
		}
		b2, _ := json.Marshal(w2)
		if string(b) != string(b2) || !sameWindow(w, w2) {
			t.Fatalf("round trip changed the window:\n%s\n%s", b, b2)
		}
		// Any instant from 1970 to 2170.
		const span = 200 * 366 * 86_400
		sec %= span
		if sec < 0 {
			sec += span
		}
		at := time.Unix(sec, sec%1_000_000_007)
		next := w.NextOpen(at)
		if next.IsZero() {
			return // every allowed day a holiday for years: possible, if silly
		}
		if next.Before(at) || !w.Open(next) {
			t.Fatalf("NextOpen(%s) = %s: before it or closed", at, next.In(w.Location))
		}
		if !next.Equal(at) && w.Open(next.Add(-time.Nanosecond)) {
			t.Fatalf("NextOpen(%s) = %s, but open a moment before", at, next.In(w.Location))
		}
		end := w.CloseOf(next)
		if !end.After(next) || w.Open(end) || !w.Open(end.Add(-time.Nanosecond)) {
			t.Fatalf("CloseOf(%s) = %s is not the end of the opening", next.In(w.Location), end.In(w.Location))
		}
	})
}
