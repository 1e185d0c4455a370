package outreach

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/window"
)

// Forecast defaults, used when earlier campaigns contacted too few
// patients to measure.
const (
	// DefaultAnswerRate is the share of attempts assumed answered.
	DefaultAnswerRate = 0.6
	// DefaultNeedRate is the share of answering patients assumed to report
	// a need, all routed to the routing's default team.
	DefaultNeedRate = 0.1
	// minHistory is how many contacted patients earlier campaigns must
	// have for their rates to be used.
	minHistory = 100
)

// ForecastRates are the rates a forecast assumes.
type ForecastRates struct {
	// AnswerRate is the share of attempts that are answered.
	AnswerRate float64 `json:"answer_rate"`
	// NeedRates are escalations per answering patient, by team.
	NeedRates map[string]float64 `json:"need_rates"`
	// FromHistory says the rates were measured on earlier campaigns
	// (Campaigns of them, Contacted patients) rather than assumed.
	FromHistory bool `json:"from_history"`
	Campaigns   int  `json:"campaigns"`
	Contacted   int  `json:"contacted"`
}

// ForecastInput is what a forecast is made from.
type ForecastInput struct {
	// Patients are those the campaign will try to reach (not opted out,
	// with a number).
	Patients int
	Window   window.Window
	Pace     float64
	Policy   Policy
	// From is when the campaign would start.
	From  time.Time
	Rates ForecastRates
	// UnreachableTeam takes the escalation of each patient not reached
	// after every step.
	UnreachableTeam string
	// Capacity is how many new escalations each team can take an hour
	// (the routing file's capacity_per_hour); a team left out has none set.
	Capacity map[string]int
	// FinishBy, when set, is when the lead wants every journey ended.
	FinishBy time.Time
}

// ForecastHour is one hour of the forecast.
type ForecastHour struct {
	Start       time.Time          `json:"start"`
	Contacts    float64            `json:"contacts"`
	Escalations map[string]float64 `json:"escalations"`
}

// ForecastDay is one day of the forecast: contacts by channel.
type ForecastDay struct {
	Date     string             `json:"date"`
	Contacts float64            `json:"contacts"`
	Channels map[string]float64 `json:"channels"`
}

// TeamLoad is the escalations a team is forecast to receive.
type TeamLoad struct {
	Team  string  `json:"team"`
	Total float64 `json:"total"`
	// Peak is the most in one hour, in the hour starting PeakAt.
	Peak   float64   `json:"peak_per_hour"`
	PeakAt time.Time `json:"peak_at"`
	// Capacity is the team's capacity_per_hour, 0 when not set.
	Capacity int `json:"capacity_per_hour"`
	// HoursOver counts the hours over capacity.
	HoursOver int `json:"hours_over_capacity"`
}

// Forecast is what a campaign is expected to do.
type Forecast struct {
	Patients int `json:"patients"`
	// FirstContacts is when the first and last first attempts are due.
	FirstContact     time.Time `json:"first_contact"`
	LastFirstContact time.Time `json:"last_first_contact"`
	// Ends is when the last journeys end: the last step's wait after the
	// last attempt.
	Ends        time.Time      `json:"ends"`
	Attempts    float64        `json:"attempts"`
	Days        []ForecastDay  `json:"days"`
	Hours       []ForecastHour `json:"hours"`
	Teams       []TeamLoad     `json:"teams"`
	Rates       ForecastRates  `json:"rates"`
	Assumptions []string       `json:"assumptions"`
	Warnings    []string       `json:"warnings"`
}

// BuildForecast plans the campaign's first attempts exactly as Start would
// (window.Planner at the pace), then follows each patient through the
// policy's steps: a share AnswerRate of each step's attempts is answered,
// the rest get the next step when the step's wait has run (at the window's
// next opening), and those left after the last step's wait are
// unreachable. Answers bring escalations in the hour of the attempt, at
// each team's need rate; unreachable patients bring one each to
// UnreachableTeam when their journey ends.
func BuildForecast(in ForecastInput) (Forecast, error) {
	f := Forecast{Patients: in.Patients, Rates: in.Rates}
	if len(in.Policy.Steps) == 0 {
		return f, fmt.Errorf("forecast: the policy has no steps")
	}
	planner, err := window.NewPlanner(in.Window, in.From, in.Pace)
	if err != nil {
		return f, fmt.Errorf("forecast: %w", err)
	}
	loc := in.Window.Location
	hours := map[time.Time]*ForecastHour{}
	days := map[string]*ForecastDay{}
	hour := func(t time.Time) *ForecastHour {
		k := t.Truncate(time.Hour)
		h := hours[k]
		if h == nil {
			h = &ForecastHour{Start: k.In(loc), Escalations: map[string]float64{}}
			hours[k] = h
		}
		return h
	}
	a := in.Rates.AnswerRate
	teams := slices.Sorted(maps.Keys(in.Rates.NeedRates))
	for i := 0; i < in.Patients; i++ {
		t := planner.Next()
		if t.IsZero() {
			return f, fmt.Errorf("forecast: the window never opens after %s", in.From.In(loc).Format(time.DateOnly))
		}
		if i == 0 {
			f.FirstContact = t
		}
		f.LastFirstContact = t
		weight := 1.0
		for k, step := range in.Policy.Steps {
			h := hour(t)
			h.Contacts += weight
			f.Attempts += weight
			dk := t.In(loc).Format(time.DateOnly)
			d := days[dk]
			if d == nil {
				d = &ForecastDay{Date: dk, Channels: map[string]float64{}}
				days[dk] = d
			}
			d.Contacts += weight
			d.Channels[step.Channel] += weight
			for _, team := range teams {
				h.Escalations[team] += weight * a * in.Rates.NeedRates[team]
			}
			weight *= 1 - a
			due := t.Add(time.Duration(step.Wait))
			if k == len(in.Policy.Steps)-1 {
				if due.After(f.Ends) {
					f.Ends = due
				}
				if in.UnreachableTeam != "" && weight > 0 {
					hour(due).Escalations[in.UnreachableTeam] += weight
				}
				break
			}
			if t = in.Window.NextOpen(due); t.IsZero() {
				return f, fmt.Errorf("forecast: the window never opens after %s", due.In(loc).Format(time.DateOnly))
			}
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(hours), time.Time.Compare) {
		f.Hours = append(f.Hours, *hours[k])
	}
	for _, k := range slices.Sorted(maps.Keys(days)) {
		f.Days = append(f.Days, *days[k])
	}
	f.Teams = teamLoads(f.Hours, in.Capacity)
	f.Assumptions = assumptions(in)
	for _, t := range f.Teams {
		if t.Capacity > 0 && t.HoursOver > 0 {
			f.Warnings = append(f.Warnings, fmt.Sprintf("%s would get up to %.1f escalations in an hour (from %s), more than its capacity of %d an hour, in %d hour(s).",
				t.Team, t.Peak, t.PeakAt.In(loc).Format("Mon 2 Jan 15:04"), t.Capacity, t.HoursOver))
		}
	}
	if !in.FinishBy.IsZero() && f.Ends.After(in.FinishBy) {
		f.Warnings = append(f.Warnings, fmt.Sprintf("The campaign cannot finish by %s: its last journeys end %s.",
			in.FinishBy.In(loc).Format("Mon 2 Jan 2006 15:04"), f.Ends.In(loc).Format("Mon 2 Jan 2006 15:04")))
	}
	return f, nil
}

// teamLoads sums each team's escalations and finds its peak hour. A
// team's expected count in an hour is over capacity when it exceeds it
// (compared after rounding to a tenth, as shown).
func teamLoads(hours []ForecastHour, capacity map[string]int) []TeamLoad {
	by := map[string]*TeamLoad{}
	for _, h := range hours {
		for team, n := range h.Escalations {
			t := by[team]
			if t == nil {
				t = &TeamLoad{Team: team, Capacity: capacity[team]}
				by[team] = t
			}
			t.Total += n
			if n > t.Peak {
				t.Peak, t.PeakAt = n, h.Start
			}
			if t.Capacity > 0 && math.Round(n*10)/10 > float64(t.Capacity) {
				t.HoursOver++
			}
		}
	}
	out := make([]TeamLoad, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Team < out[j].Team })
	return out
}

func assumptions(in ForecastInput) []string {
	var out []string
	if in.Rates.FromHistory {
		out = append(out, fmt.Sprintf("Rates measured on %d earlier campaign(s), %d patients contacted.", in.Rates.Campaigns, in.Rates.Contacted))
	} else {
		out = append(out, fmt.Sprintf("Earlier campaigns contacted fewer than %d patients, so stated defaults are used: %.0f%% of attempts answered, %.0f%% of those who answer report a need.",
			minHistory, DefaultAnswerRate*100, DefaultNeedRate*100))
	}
	out = append(out,
		fmt.Sprintf("%.0f%% of each step's attempts are answered; the rest get the next step after the step's wait, at the window's next opening.", in.Rates.AnswerRate*100),
		"Needs reach their team in the hour of the attempt that was answered.",
		"Patients not reached after every step each bring one escalation (unreachable) when their last wait runs out.")
	return out
}

// RatesFromHistory turns earlier campaigns' figures into forecast rates,
// or the stated defaults (DefaultNeedRate to defaultTeam) when they
// contacted fewer than minHistory patients.
func RatesFromHistory(h store.ForecastHistory, defaultTeam string) ForecastRates {
	if h.Contacted < minHistory || h.Answered == 0 {
		return ForecastRates{AnswerRate: DefaultAnswerRate, NeedRates: map[string]float64{defaultTeam: DefaultNeedRate},
			Campaigns: h.Campaigns, Contacted: h.Contacted}
	}
	r := ForecastRates{AnswerRate: float64(h.Answered) / float64(h.Contacted), NeedRates: map[string]float64{},
		FromHistory: true, Campaigns: h.Campaigns, Contacted: h.Contacted}
	for team, n := range h.Escalations {
		r.NeedRates[team] = float64(n) / float64(h.Answered)
	}
	return r
}

// ForecastRouting is what a forecast needs from the routing file.
type ForecastRouting struct {
	DefaultTeam     string
	UnreachableTeam string
	Capacity        map[string]int
}

// ForecastCampaign forecasts a stored campaign as if started at from:
// its cohort's contactable patients, its window, pace and policy, and the
// rates of every other campaign that has started.
func (e *Engine) ForecastCampaign(ctx context.Context, c store.Campaign, from, finishBy time.Time, rt ForecastRouting) (Forecast, error) {
	w, err := window.Parse(c.Window)
	if err != nil {
		return Forecast{}, fmt.Errorf("campaign %q window: %w", c.Name, err)
	}
	pol, err := ParsePolicy(c.Policy, true)
	if err != nil {
		return Forecast{}, fmt.Errorf("campaign %q: %w", c.Name, err)
	}
	_, contactable, err := e.store.ContactablePatients(ctx, c.CohortID)
	if err != nil {
		return Forecast{}, err
	}
	h, err := e.store.ForecastHistory(ctx, c.ID)
	if err != nil {
		return Forecast{}, err
	}
	return BuildForecast(ForecastInput{Patients: contactable, Window: w, Pace: c.Pace, Policy: pol, From: from,
		Rates: RatesFromHistory(h, rt.DefaultTeam), UnreachableTeam: rt.UnreachableTeam, Capacity: rt.Capacity,
		FinishBy: finishBy})
}
