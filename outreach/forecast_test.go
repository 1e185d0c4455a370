package outreach

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/window"
)

// TestForecastHandComputed checks the forecast against a case worked out
// by hand, hour by hour.
//
// 800 patients, pace 0.05/s (one every 20 s: 180 an hour), a window of
// Monday to Friday 09:00–11:00 Europe/London with England and Wales bank
// holidays, from Friday 28 August 2026 08:00. Monday 31 August is the
// summer bank holiday. Policy: text, wait 48h; text, wait 24h. Half of
// each step's attempts are answered, and 20% of those who answer need the
// clinical team (0.1 escalations per attempt).
//
// First texts: Fri 28 09h 180, 10h 180 (360 in the opening); nothing on
// Sat, Sun or the bank holiday; Tue 1 Sep 09h 180, 10h 180; Wed 2 Sep 09h
// the last 80 (09:00:00 to 09:26:20).
// Second texts go to half of each, 48h later at the next opening: Friday's
// fall on Sunday and wait for Tuesday 09:00 (Monday is the bank holiday),
// so all 180 land in Tue 09h; Tuesday's go on Thu 3 Sep 09h 90, 10h 90;
// Wednesday's on Fri 4 Sep 09h 40.
// Contacts: Fri28 09h 180, 10h 180; Tue 09h 360, 10h 180; Wed 09h 80; Thu
// 09h 90, 10h 90; Fri4 09h 40 — 1,200 attempts.
// Clinical escalations are a tenth of each hour's contacts: peak 36 in
// Tue 09h, over a capacity of 20 there only.
// A quarter of patients are never reached and go to the support team 24h
// after their second text: Friday's (second text Tue 09:00:00) on Wed 09h
// 90; Tuesday's on Fri4 09h 45 and 10h 45; Wednesday's on Sat 5 Sep 09h 20.
// The last journey ends Sat 5 Sep 09:26:20, after a finish-by of Fri 4 Sep.
func TestForecastHandComputed(t *testing.T) {
	w, err := window.Parse([]byte(`{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "11:00",
		"timezone": "Europe/London", "bank_holidays": "england-and-wales"}`))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := ParsePolicy([]byte(`{"steps": [{"channel": "sms", "wait": "48h"}, {"channel": "sms", "wait": "24h"}],
		"conversation_timeout": "24h"}`), false)
	if err != nil {
		t.Fatal(err)
	}
	loc := w.Location
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	f, err := BuildForecast(ForecastInput{Patients: 800, Window: w, Pace: 0.05, Policy: pol, From: at("2026-08-28 08:00:00"),
		Rates:           ForecastRates{AnswerRate: 0.5, NeedRates: map[string]float64{"clinical": 0.2}},
		UnreachableTeam: "support", Capacity: map[string]int{"clinical": 20, "support": 50},
		FinishBy: at("2026-09-04 23:59:59")})
	if err != nil {
		t.Fatal(err)
	}
	type hour struct {
		contacts, clinical, support float64
	}
	want := map[string]hour{
		"2026-08-28 09:00:00": {180, 18, 0},
		"2026-08-28 10:00:00": {180, 18, 0},
		"2026-09-01 09:00:00": {360, 36, 0},
		"2026-09-01 10:00:00": {180, 18, 0},
		"2026-09-02 09:00:00": {80, 8, 90},
		"2026-09-03 09:00:00": {90, 9, 0},
		"2026-09-03 10:00:00": {90, 9, 0},
		"2026-09-04 09:00:00": {40, 4, 45},
		"2026-09-04 10:00:00": {0, 0, 45},
		"2026-09-05 09:00:00": {0, 0, 20},
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if len(f.Hours) != len(want) {
		t.Errorf("got %d hours, want %d", len(f.Hours), len(want))
	}
	for _, h := range f.Hours {
		k := h.Start.In(loc).Format("2006-01-02 15:04:05")
		wh, ok := want[k]
		if !ok {
			t.Errorf("unexpected hour %s: %+v", k, h)
			continue
		}
		if !near(h.Contacts, wh.contacts) || !near(h.Escalations["clinical"], wh.clinical) || !near(h.Escalations["support"], wh.support) {
			t.Errorf("hour %s: contacts %v clinical %v support %v, want %+v", k, h.Contacts, h.Escalations["clinical"], h.Escalations["support"], wh)
		}
	}
	wantDays := map[string]float64{"2026-08-28": 360, "2026-09-01": 540, "2026-09-02": 80, "2026-09-03": 180, "2026-09-04": 40}
	if len(f.Days) != len(wantDays) {
		t.Errorf("days %+v, want %v", f.Days, wantDays)
	}
	for _, d := range f.Days {
		if !near(d.Contacts, wantDays[d.Date]) || !near(d.Channels[SMS], wantDays[d.Date]) {
			t.Errorf("day %s: %v contacts, want %v", d.Date, d.Contacts, wantDays[d.Date])
		}
	}
	if !near(f.Attempts, 1200) {
		t.Errorf("attempts %v, want 1200", f.Attempts)
	}
	if !f.FirstContact.Equal(at("2026-08-28 09:00:00")) || !f.LastFirstContact.Equal(at("2026-09-02 09:26:20")) {
		t.Errorf("first contacts %s to %s", f.FirstContact, f.LastFirstContact)
	}
	if !f.Ends.Equal(at("2026-09-05 09:26:20")) {
		t.Errorf("ends %s, want Sat 5 Sep 09:26:20", f.Ends.In(loc))
	}
	teams := map[string]TeamLoad{}
	for _, tl := range f.Teams {
		teams[tl.Team] = tl
	}
	if c := teams["clinical"]; !near(c.Peak, 36) || !c.PeakAt.Equal(at("2026-09-01 09:00:00")) || c.HoursOver != 1 || !near(c.Total, 120) {
		t.Errorf("clinical load %+v", c)
	}
	if s := teams["support"]; !near(s.Peak, 90) || s.HoursOver != 1 || !near(s.Total, 200) {
		t.Errorf("support load %+v", s)
	}
	all := strings.Join(f.Warnings, "\n")
	for _, w := range []string{"clinical would get up to 36.0 escalations in an hour (from Tue 1 Sep 09:00), more than its capacity of 20",
		"support would get up to 90.0", "cannot finish by Fri 4 Sep 2026 23:59: its last journeys end Sat 5 Sep 2026 09:26"} {
		if !strings.Contains(all, w) {
			t.Errorf("warnings %q lack %q", all, w)
		}
	}
}

func TestRatesFromHistory(t *testing.T) {
	tests := []struct {
		name   string
		h      store.ForecastHistory
		answer float64
		needs  map[string]float64
		hist   bool
	}{
		{"no history: defaults", store.ForecastHistory{}, DefaultAnswerRate, map[string]float64{"dflt": DefaultNeedRate}, false},
		{"too few contacted", store.ForecastHistory{Contacted: 99, Answered: 50}, DefaultAnswerRate, map[string]float64{"dflt": DefaultNeedRate}, false},
		{"measured", store.ForecastHistory{Campaigns: 2, Contacted: 1000, Answered: 400, Escalations: map[string]int{"a": 40, "b": 10}},
			0.4, map[string]float64{"a": 0.1, "b": 0.025}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := RatesFromHistory(tt.h, "dflt")
			if r.AnswerRate != tt.answer || r.FromHistory != tt.hist || len(r.NeedRates) != len(tt.needs) {
				t.Fatalf("rates %+v", r)
			}
			for k, v := range tt.needs {
				if math.Abs(r.NeedRates[k]-v) > 1e-12 {
					t.Errorf("need rate %s %v, want %v", k, r.NeedRates[k], v)
				}
			}
		})
	}
}
