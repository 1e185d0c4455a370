package console

// Campaign pages for programme leads and admins: the list of campaigns,
// each campaign's funnel, escalations, activity chart and what happens
// next, its controls (start, pause, resume, cancel, each behind a page
// that says what will happen), a form to create one, the capacity
// forecast, worklists of people to follow up by hand, and aggregate
// reports. Figures come from the stored campaign report (store/reports.go),
// refreshed in the background, so a view never scans a campaign's rows.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/window"
)

// DefaultReportMaxAge is how old the campaign figures a page shows may be
// before the page computes them itself.
const DefaultReportMaxAge = time.Minute

// isLead reports whether a role may see and steer campaigns.
func isLead(role string) bool { return role == store.RoleProgrammeLead || role == store.RoleAdmin }

func (c *Console) registerCampaigns(a *gin.RouterGroup) {
	g := a.Group("/campaigns", c.leadsOnly)
	g.GET("", c.campaignList)
	g.GET("/new", c.campaignNew)
	g.POST("", c.campaignCreate)
	g.GET("/:id", c.campaignPage)
	g.GET("/:id/live", c.campaignLive)
	g.GET("/:id/confirm/:action", c.campaignConfirm)
	g.POST("/:id/action/:action", c.campaignAction)
	g.GET("/:id/worklists/:kind", c.worklistPage)
	g.GET("/:id/worklists/:kind/download", c.worklistDownload)
	g.GET("/:id/report.csv", c.reportDownload("funnel", "report", c.fillReportCSV))
	g.GET("/:id/daily.csv", c.reportDownload("daily", "daily", c.fillDailyCSV))
}

// leadsOnly refuses every campaign page and download to roles other than
// programme lead and admin, and audits the refusal.
func (c *Console) leadsOnly(ctx *gin.Context) {
	a := actorOf(ctx)
	if !isLead(a.Role) {
		c.svc.Audit(ctx.Request.Context(), a, "campaign.refused", "console", 0, map[string]any{"path": ctx.Request.URL.Path})
		c.render(ctx, http.StatusForbidden, "error", page{Title: "Not allowed", Error: "Campaigns are for programme leads."})
		ctx.Abort()
		return
	}
	ctx.Next()
}

// report is a campaign's stored report, or a fresh one when it is older
// than the console's bound.
func (c *Console) report(ctx context.Context, id int64) (store.CampaignReport, error) {
	return c.store.FreshCampaignReport(ctx, id, c.reportAge, c.svc.Now(), c.loc)
}

// campaignRow is one campaign on the list with its bank holiday coverage
// warning (outreach.CoverageWarning), if any.
type campaignRow struct {
	store.CampaignSummary
	Warning string
}

type campaignListData struct {
	Campaigns []campaignRow
}

// campaignList lists every campaign with its state, cohort size, progress
// and outcomes, and warns about those that may run past the last year of
// known bank holidays.
func (c *Console) campaignList(ctx *gin.Context) {
	cs, err := c.store.CampaignSummaries(ctx.Request.Context())
	if err != nil {
		c.fail(ctx, err)
		return
	}
	now := c.svc.Now()
	rows := make([]campaignRow, len(cs))
	for i, s := range cs {
		// A campaign started since the workers last counted, or whose
		// figures they have not refreshed in time, is counted now rather
		// than shown without progress.
		active := s.State == store.CampaignRunning || s.State == store.CampaignPaused
		if s.State != store.CampaignDraft && (s.ReportAt == nil || active && now.Sub(*s.ReportAt) > c.reportAge) {
			r, err := c.report(ctx.Request.Context(), s.ID)
			if err != nil {
				c.fail(ctx, err)
				return
			}
			s.Funnel, s.ReportAt = &r.Funnel, &r.ComputedAt
		}
		rows[i] = campaignRow{CampaignSummary: s, Warning: outreach.CoverageWarning(s.Campaign, now)}
	}
	c.svc.Audit(ctx.Request.Context(), actorOf(ctx), "campaigns.view", "campaign", 0, nil)
	c.render(ctx, http.StatusOK, "campaign_list", page{Title: "Campaigns", Data: campaignListData{Campaigns: rows}})
}

// campaignActions are the controls a campaign in each state offers.
var campaignActions = map[string][]string{
	store.CampaignDraft:   {"start", "cancel"},
	store.CampaignRunning: {"pause", "cancel"},
	store.CampaignPaused:  {"resume", "cancel"},
}

type campaignData struct {
	C        store.Campaign
	R        store.CampaignReport
	Chart    template.HTML
	Actions  []string
	Forecast *outreach.Forecast
	// ForecastError says why there is no forecast.
	ForecastError string
	FinishBy      string
	Window        string
	Policy        string
	NextHour      string
	NextDay       string
	// Coverage is the bank holiday coverage warning, if any.
	Coverage string
	// Worklists offers the worklists: programme leads only.
	Worklists bool
	// Live: the campaign is running or paused, so its figures change and
	// the page fetches them again every EveryMS milliseconds
	// (static/campaign.js); the workers recount them every RefreshMS.
	Live               bool
	EveryMS, RefreshMS int64
	// Every says in words how often the figures are recounted.
	Every string
	// ComputedAt (RFC 3339), AsOf and Ago say when the figures were
	// counted; RenderedAt (RFC 3339) is the server's clock, from which
	// campaign.js learns how far the browser's is off.
	ComputedAt, AsOf, Ago, RenderedAt string
}

// liveStates are the states in which a campaign's figures change by
// themselves, so its open page keeps fetching them.
func liveState(state string) bool {
	return state == store.CampaignRunning || state == store.CampaignPaused
}

// pollEvery is how often an open campaign page fetches the figures: twice
// per refresh of the workers, so they show at most about half a refresh
// after they were counted, between one second and fifteen.
func pollEvery(refresh time.Duration) time.Duration {
	return min(max(refresh/2, time.Second), 15*time.Second)
}

// campaignView is what the campaign page and its live updates show.
func (c *Console) campaignView(ctx *gin.Context, camp store.Campaign) (campaignData, error) {
	r, err := c.report(ctx.Request.Context(), camp.ID)
	if err != nil {
		return campaignData{}, err
	}
	return c.viewOf(ctx, camp, r, c.svc.Now()), nil
}

// viewOf is the campaign page's data for camp with its report r at now.
func (c *Console) viewOf(ctx *gin.Context, camp store.Campaign, r store.CampaignReport, now time.Time) campaignData {
	d := campaignData{C: camp, R: r, Actions: campaignActions[camp.State], FinishBy: ctx.Query("finish_by"),
		Chart: activityChart(r.Hours, now, c.loc), NextHour: attemptsPhrase(r.NextHour), NextDay: attemptsPhrase(r.NextDay),
		Coverage: outreach.CoverageWarning(camp, now), Worklists: actorOf(ctx).Role == store.RoleProgrammeLead,
		Live: liveState(camp.State), EveryMS: pollEvery(c.reportRefresh).Milliseconds(), RefreshMS: c.reportRefresh.Milliseconds(),
		Every: seconds(c.reportRefresh), ComputedAt: r.ComputedAt.UTC().Format(jsTime),
		AsOf: r.ComputedAt.In(c.loc).Format("Mon 2 Jan 15:04:05"), Ago: figuresAgo(r.ComputedAt, now),
		RenderedAt: now.UTC().Format(jsTime)}
	if w, err := window.Parse(camp.Window); err == nil {
		d.Window = describeWindow(w)
	}
	d.Policy = describePolicy(camp.Policy)
	return d
}

// jsTime is RFC 3339 to the millisecond, which every browser's Date.parse
// reads.
const jsTime = "2006-01-02T15:04:05.000Z07:00"

// figuresAgo says how old figures counted at t are at now, to the second
// under a minute ("12 seconds ago"); static/campaign.js says the same.
func figuresAgo(t, now time.Time) string {
	switch d := now.Sub(t); {
	case d < 2*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d seconds ago", int(d/time.Second))
	}
	return ago(t, now)
}

// seconds writes an interval in words: "30 seconds", "1 second", "2 minutes".
func seconds(d time.Duration) string {
	switch {
	case d == time.Second:
		return "second"
	case d < time.Minute:
		return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + " seconds"
	}
	return spell(d)
}

func (c *Console) loadCampaign(ctx *gin.Context) (store.Campaign, bool) {
	id, err := idParam(ctx)
	if err == nil {
		var camp store.Campaign
		if camp, err = c.store.Campaign(ctx.Request.Context(), id); err == nil {
			return camp, true
		}
	}
	c.fail(ctx, err)
	return store.Campaign{}, false
}

func (c *Console) campaignPage(ctx *gin.Context) {
	camp, ok := c.loadCampaign(ctx)
	if !ok {
		return
	}
	d, err := c.campaignView(ctx, camp)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	if camp.State == store.CampaignDraft {
		d.Forecast, d.ForecastError = c.forecast(ctx.Request.Context(), camp, d.FinishBy)
	}
	c.svc.Audit(ctx.Request.Context(), actorOf(ctx), "campaign.view", "campaign", camp.ID, nil)
	c.render(ctx, http.StatusOK, "campaign_show", page{Title: camp.Name, Data: d})
}

// campaignLive is what static/campaign.js fetches while a campaign page
// is open: the page's figures as the page renders them, its state and
// controls, and when the figures were counted, so the funnel changes
// without a reload; or, when the page says (since, state) it already
// shows the latest, only that nothing changed. It reads the stored report like the page (no scan per
// fetch) and, being the figures of a page already opened and audited,
// is not audited itself: a lead watching for an hour would fill the log.
// It names no patient.
func (c *Console) campaignLive(ctx *gin.Context) {
	id, err := idParam(ctx)
	var camp store.Campaign
	if err == nil {
		camp, err = c.store.Campaign(ctx.Request.Context(), id)
	}
	var r store.CampaignReport
	if err == nil {
		r, err = c.report(ctx.Request.Context(), camp.ID)
	}
	if errors.Is(err, store.ErrNotFound) {
		ctx.JSON(http.StatusNotFound, gin.H{"error": "not found"})
		return
	}
	if err != nil {
		c.logger.Error("campaign live figures failed", "error", err)
		ctx.JSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
		return
	}
	// The page already shows these figures in this state (it says which
	// it has): say so rather than build, render and send them again.
	now := c.svc.Now()
	if at := r.ComputedAt.UTC().Format(jsTime); ctx.Query("since") == at && ctx.Query("state") == camp.State {
		ctx.JSON(http.StatusOK, gin.H{"unchanged": true, "state": camp.State, "live": liveState(camp.State), "computed_at": at,
			"now": now.UTC().Format(jsTime)})
		return
	}
	d := c.viewOf(ctx, camp, r, now)
	t := c.pages["campaign_show"]
	var figures, controls, age bytes.Buffer
	for _, part := range []struct {
		name string
		buf  *bytes.Buffer
	}{{"figures", &figures}, {"controls", &controls}, {"age", &age}} {
		if err := t.ExecuteTemplate(part.buf, part.name, d); err != nil {
			c.logger.Error("campaign live template failed", "part", part.name, "error", err)
			ctx.JSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
			return
		}
	}
	f := d.R.Funnel
	ctx.JSON(http.StatusOK, gin.H{"html": figures.String(), "controls": controls.String(), "age": age.String(),
		"state": camp.State, "live": d.Live, "computed_at": d.ComputedAt, "now": d.RenderedAt,
		"counts": map[string]string{"unreachable": thousands(f.Unreachable), "no_route": thousands(f.NoRoute)}})
}

// forecast forecasts a draft campaign as if started now; finishBy is a
// date (YYYY-MM-DD) by whose end the lead wants it finished, or "".
func (c *Console) forecast(ctx context.Context, camp store.Campaign, finishBy string) (*outreach.Forecast, string) {
	var by time.Time
	if finishBy != "" {
		d, err := window.ParseDate(finishBy)
		if err != nil {
			return nil, "Finish by: " + err.Error()
		}
		by = d.AddDays(1).In(c.loc).Add(-time.Second)
	}
	f, err := c.engine.ForecastCampaign(ctx, camp, c.svc.Now(), by, forecastRouting(c.svc.Routing()))
	if err != nil {
		c.logger.Warn("campaign forecast failed", "campaign", camp.ID, "error", err)
		return nil, err.Error()
	}
	return &f, ""
}

// forecastRouting is what a forecast needs from the routing file: where
// needs go by default, where unreachable patients go, and capacities.
func forecastRouting(r *escalation.Routing) outreach.ForecastRouting {
	return outreach.ForecastRouting{DefaultTeam: r.DefaultTeam,
		UnreachableTeam: r.UnreachableTeam(), Capacity: r.Capacities()}
}

// channelWords names a channel's attempts.
var channelWords = map[string][2]string{"sms": {"text", "texts"}, "voice": {"call", "calls"}}

// attemptsPhrase writes counts by channel as "1,204 texts and 30 calls".
func attemptsPhrase(m map[string]int) string {
	var parts []string
	for _, ch := range []string{"sms", "voice"} {
		if n := m[ch]; n > 0 {
			w := channelWords[ch][1]
			if n == 1 {
				w = channelWords[ch][0]
			}
			parts = append(parts, thousands(n)+" "+w)
		}
	}
	if len(parts) == 0 {
		return "no messages or calls"
	}
	return strings.Join(parts, " and ")
}

// thousands writes n with thousands separators: 1,204.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func describeWindow(w window.Window) string {
	days := make([]string, len(w.Days))
	for i, d := range w.Days {
		days[i] = d.String()[:3]
	}
	s := fmt.Sprintf("%s, %s–%s %s", strings.Join(days, " "), w.Start, w.End, w.Location)
	if w.BankHolidays != "" {
		s += ", closed on " + w.BankHolidays + " bank holidays"
	}
	if len(w.Holidays) > 0 {
		s += fmt.Sprintf(" and %d other holiday(s)", len(w.Holidays))
	}
	return s
}

func describePolicy(b []byte) string {
	pol, err := outreach.ParsePolicy(b, true)
	if err != nil {
		return "unreadable policy"
	}
	var steps []string
	for _, s := range pol.Steps {
		steps = append(steps, fmt.Sprintf("a %s, then wait %s", channelWords[s.Channel][0], spell(time.Duration(s.Wait))))
	}
	return strings.Join(steps, "; ")
}

type confirmData struct {
	C      store.Campaign
	Action string
	// Says is what will happen, sentence by sentence.
	Says     []string
	Forecast *outreach.Forecast
	// Coverage is the bank holiday coverage warning, shown before a start
	// or a resume.
	Coverage string
	Danger   bool
}

func (c *Console) campaignConfirm(ctx *gin.Context) {
	camp, ok := c.loadCampaign(ctx)
	if !ok {
		return
	}
	action := ctx.Param("action")
	if !slices.Contains(campaignActions[camp.State], action) {
		c.render(ctx, http.StatusConflict, "error", page{Title: "Not now",
			Error: fmt.Sprintf("Campaign %q is %s: it cannot %s.", camp.Name, camp.State, action)})
		return
	}
	rctx, now := ctx.Request.Context(), c.svc.Now()
	d := confirmData{C: camp, Action: action}
	if action == "start" || action == "resume" {
		d.Coverage = outreach.CoverageWarning(camp, now)
	}
	switch action {
	case "start":
		f, ferr := c.forecast(rctx, camp, "")
		d.Forecast = f
		if f != nil {
			d.Says = append(d.Says, fmt.Sprintf("%s patients of cohort %q will be planned now; the first messages go %s.",
				thousands(f.Patients), camp.CohortName, f.FirstContact.In(c.loc).Format("Mon 2 Jan 15:04")))
			d.Says = append(d.Says, fmt.Sprintf("At %g a second the last first messages go %s, and the last journeys end about %s.",
				camp.Pace, f.LastFirstContact.In(c.loc).Format("Mon 2 Jan 15:04"), f.Ends.In(c.loc).Format("Mon 2 Jan 15:04")))
		} else {
			d.Says = append(d.Says, "The cohort will be planned now; there is no forecast: "+ferr)
		}
	case "pause":
		next, err := c.store.PlannedBefore(rctx, camp.ID, now.Add(time.Hour))
		if err != nil {
			c.fail(ctx, err)
			return
		}
		d.Says = append(d.Says, capitalise(attemptsPhrase(next))+" planned in the next hour will not go until you resume.",
			"Nothing more is sent from the moment you confirm; replies from people already contacted are still handled.")
	case "resume":
		next, err := c.store.PlannedBefore(rctx, camp.ID, now.Add(time.Hour))
		if err != nil {
			c.fail(ctx, err)
			return
		}
		d.Says = append(d.Says, capitalise(attemptsPhrase(next))+fmt.Sprintf(" due by the end of the next hour (including any held back while paused) will start going, at %g a second, inside the calling window.", camp.Pace))
	case "cancel":
		d.Danger = true
		next, err := c.store.PlannedBefore(rctx, camp.ID, now.Add(time.Hour))
		if err != nil {
			c.fail(ctx, err)
			return
		}
		pending, err := c.store.PendingAttempts(rctx, camp.ID)
		if err != nil {
			c.fail(ctx, err)
			return
		}
		d.Says = append(d.Says, capitalise(attemptsPhrase(next))+" planned in the next hour will not go.",
			fmt.Sprintf("In all, %s not yet sent will be cancelled. Patients without an outcome get none from this campaign: follow them up by hand.", attemptsPhrase(pending)),
			"This cannot be undone: a cancelled campaign cannot be resumed.")
	}
	c.render(ctx, http.StatusOK, "campaign_confirm", page{Title: "Confirm: " + action + " " + camp.Name, Data: d})
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (c *Console) campaignAction(ctx *gin.Context) {
	camp, ok := c.loadCampaign(ctx)
	if !ok {
		return
	}
	rctx, who := ctx.Request.Context(), actorOf(ctx).Name
	var err error
	action := ctx.Param("action")
	switch action {
	case "start":
		_, err = c.engine.Start(rctx, camp.ID, who)
	case "pause":
		err = c.engine.Pause(rctx, camp.ID, who)
	case "resume":
		err = c.engine.Resume(rctx, camp.ID, who)
	case "cancel":
		err = c.engine.Cancel(rctx, camp.ID, who)
	default:
		err = fmt.Errorf("action %q: %w", action, store.ErrNotFound)
	}
	if errors.Is(err, store.ErrStateConflict) {
		c.render(ctx, http.StatusConflict, "error", page{Title: "Already changed",
			Error: fmt.Sprintf("Campaign %q is no longer in a state that allows this. Go back and reload it.", camp.Name)})
		return
	}
	if err != nil {
		c.fail(ctx, err)
		return
	}
	// The figures change with the state: recompute them now when that is
	// cheap rather than show the old ones until the next refresh. A large
	// campaign's, or one a worker is computing just now (its report
	// predates the change), the refresh loop computes at its next pass.
	if err := c.store.RefreshChangedCampaignReport(rctx, camp.ID, c.svc.Now(), c.loc); err != nil {
		c.logger.Error("campaign report refresh failed", "campaign", camp.ID, "error", err)
	}
	ctx.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/campaigns/%d?done=%s", camp.ID, pastTense[action]))
}

var pastTense = map[string]string{"start": "started", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}

// campaignForm is the create form's values and problems by field.
type campaignForm struct {
	Name, Cohort, Questionnaire, Sender, VoiceSender, Programme, TeamPhone string
	Days                                                                   []string
	Start, End, Timezone, Holidays, BankHolidays, Pace, Policy             string
	// IdentityCheck is how calls confirm who answered: dob, year or off.
	IdentityCheck string
	Cohorts       []store.Cohort
	Errors        map[string][]string
	// Other lists problems that belong to no one field.
	Other []string
}

var weekDays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

func (f campaignForm) HasDay(d string) bool { return slices.Contains(f.Days, d) }

// AllDays are the day choices of the form.
func (f campaignForm) AllDays() []string { return weekDays }

// Problems counts the form's problems.
func (f campaignForm) Problems() int {
	n := len(f.Other)
	for _, e := range f.Errors {
		n += len(e)
	}
	return n
}

// formFields are the create form's fields in page order, with the
// names the error summary gives them.
var formFields = []struct{ key, label string }{
	{"name", "Name"}, {"cohort", "Cohort"}, {"sender", "Sender"}, {"voice_sender", "Number calls come from"},
	{"days", "Days open"}, {"start", "From"}, {"end", "Until"}, {"timezone", "Time zone"}, {"holidays", "Other days off"},
	{"bank_holidays", "Bank holidays"}, {"pace", "Pace"}, {"identity_check", "Identity check on calls"},
	{"policy", "Attempt policy"}, {"questionnaire", "Questionnaire"},
}

// identityChoice is one answer to "how do calls confirm who answered?".
type identityChoice struct{ Value, Label string }

// identityChoices are the identity check settings, the default first.
var identityChoices = []identityChoice{
	{outreach.IdentityDOB, "Day and month of birth (the default)"},
	{outreach.IdentityYear, "Year of birth"},
	{outreach.IdentityOff, "No check (health questions to whoever answers)"},
}

// IdentityChoices are the form's identity check choices.
func (f campaignForm) IdentityChoices() []identityChoice { return identityChoices }

// identityCheckWords says a campaign's identity check setting in words.
func identityCheckWords(setting string) string {
	switch setting {
	case outreach.IdentityDOB, "":
		return "calls check the day and month of birth before any health question"
	case outreach.IdentityYear:
		return "calls check the year of birth before any health question"
	case outreach.IdentityOff:
		return "calls make no identity check"
	}
	return "calls check who answered (" + setting + ")"
}

// formProblem is one line of the form's error summary, linking to its
// field's box.
type formProblem struct{ Box, Label, Text string }

// Summary lists every problem of the form in page order, for the summary
// above it (each also shows next to its field).
func (f campaignForm) Summary() []formProblem {
	var out []formProblem
	for _, ff := range formFields {
		for _, p := range f.Errors[ff.key] {
			out = append(out, formProblem{Box: "f-" + ff.key, Label: ff.label, Text: p})
		}
	}
	return out
}

// Regions are the bank holiday choices.
func (f campaignForm) Regions() []string { return append(window.Regions(), window.NoBankHolidays) }

func (c *Console) defaultForm(ctx context.Context) (campaignForm, error) {
	pol, _ := json.MarshalIndent(outreach.DefaultPolicy(true), "", "  ")
	f := campaignForm{Days: weekDays[:6], Start: "09:00", End: "19:00", Timezone: "Europe/London", IdentityCheck: outreach.IdentityDOB,
		BankHolidays: window.EnglandAndWales, Pace: "5", Policy: string(pol), Programme: "NHS Protect"}
	var err error
	f.Cohorts, err = c.store.Cohorts(ctx)
	return f, err
}

func (c *Console) campaignNew(ctx *gin.Context) {
	f, err := c.defaultForm(ctx.Request.Context())
	if err != nil {
		c.fail(ctx, err)
		return
	}
	c.render(ctx, http.StatusOK, "campaign_new", page{Title: "New campaign", Data: f})
}

// windowJSON builds the window's JSON form from the form's fields.
func (f campaignForm) windowJSON(only string) []byte {
	m := map[string]any{}
	add := func(k string, v any) {
		if only == "" || only == k || (only == "end" && k == "start") {
			m[k] = v
		}
	}
	days := f.Days
	if days == nil {
		days = []string{} // no day ticked: a window never open, not the default days
	}
	add("days", days)
	add("start", f.Start)
	add("end", f.End)
	add("timezone", f.Timezone)
	hs := strings.FieldsFunc(f.Holidays, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' })
	if hs == nil {
		hs = []string{}
	}
	add("holidays", hs)
	add("bank_holidays", f.BankHolidays)
	b, _ := json.Marshal(m)
	return b
}

// windowProblems checks each field of the window on its own, so that
// every wrong field is named at once (window.Parse stops at the first).
func (f campaignForm) windowProblems() map[string][]string {
	out := map[string][]string{}
	for _, field := range []string{"days", "start", "end", "timezone", "holidays", "bank_holidays"} {
		g := f
		if field == "end" && len(out["start"]) > 0 {
			// End is checked with start; a wrong start must not hide
			// what is wrong with end.
			g.Start = "00:00"
		}
		if _, err := window.Parse(g.windowJSON(field)); err != nil {
			var fe *window.FieldError
			if errors.As(err, &fe) {
				k := fe.Field
				if i := strings.IndexByte(k, '['); i > 0 {
					k = k[:i]
				}
				if k == field || (field == "end" && k == "start") {
					if k == field {
						out[field] = append(out[field], fe.Problem)
					}
					continue
				}
			}
			out[field] = append(out[field], err.Error())
		}
	}
	return out
}

// specFields maps the prefix of a spec problem to its form field.
var specFields = []struct{ prefix, field string }{
	{"name:", "name"}, {"sender:", "sender"}, {"voice_sender:", "voice_sender"}, {"pace:", "pace"},
	{"policy", "policy"}, {"cohort:", "cohort"}, {"questionnaire:", "questionnaire"}, {"window:", "window"},
	{"identity_check:", "identity_check"},
}

func (c *Console) campaignCreate(ctx *gin.Context) {
	f, err := c.defaultForm(ctx.Request.Context())
	if err != nil {
		c.fail(ctx, err)
		return
	}
	pf := ctx.PostForm
	f.Name, f.Cohort, f.Questionnaire = strings.TrimSpace(pf("name")), pf("cohort"), pf("questionnaire")
	f.Sender, f.VoiceSender = strings.TrimSpace(pf("sender")), strings.TrimSpace(pf("voice_sender"))
	f.Programme, f.TeamPhone = strings.TrimSpace(pf("programme_name")), strings.TrimSpace(pf("team_phone"))
	f.Days = ctx.PostFormArray("days")
	f.Start, f.End, f.Timezone = strings.TrimSpace(pf("start")), strings.TrimSpace(pf("end")), strings.TrimSpace(pf("timezone"))
	f.Holidays, f.BankHolidays = pf("holidays"), pf("bank_holidays")
	f.Pace, f.Policy = strings.TrimSpace(pf("pace")), pf("policy")
	f.IdentityCheck = pf("identity_check")
	f.Errors = f.windowProblems()
	pace, perr := strconv.ParseFloat(f.Pace, 64)
	if perr != nil {
		f.Errors["pace"] = append(f.Errors["pace"], fmt.Sprintf("expected messages a second, such as 5 or 0.5, got %q", f.Pace))
		pace = -1 // still let the engine check the rest of the spec
	}
	spec := outreach.CampaignSpec{Name: f.Name, Cohort: f.Cohort, Sender: f.Sender, VoiceSender: f.VoiceSender,
		ProgrammeName: f.Programme, TeamPhone: f.TeamPhone, Window: f.windowJSON(""), Pace: pace,
		Policy: json.RawMessage(f.Policy), CreatedBy: actorOf(ctx).Name, IdentityCheck: f.IdentityCheck}
	if strings.TrimSpace(f.Policy) == "" {
		spec.Policy = nil
	}
	if strings.TrimSpace(f.Questionnaire) != "" {
		spec.QuestionnaireData, spec.Questionnaire = []byte(f.Questionnaire), "questionnaire"
	}
	camp, err := c.engine.CreateCampaign(ctx.Request.Context(), spec)
	var invalid *outreach.InvalidSpecError
	switch {
	case errors.As(err, &invalid):
		for _, e := range splitErrors(invalid.Err) {
			msg := e.Error()
			field := ""
			for _, sf := range specFields {
				if strings.HasPrefix(msg, sf.prefix) {
					field = sf.field
					break
				}
			}
			switch field {
			case "window":
				if len(f.Errors) == 0 { // a problem of the whole window the per-field checks did not see
					f.Other = append(f.Other, msg)
				}
			case "pace":
				if perr == nil {
					f.Errors["pace"] = append(f.Errors["pace"], strings.TrimSpace(strings.TrimPrefix(msg, "pace:")))
				}
			case "":
				f.Other = append(f.Other, msg)
			default:
				f.Errors[field] = append(f.Errors[field], strings.TrimSpace(strings.TrimPrefix(msg, field+":")))
			}
		}
	case errors.Is(err, store.ErrDuplicate):
		f.Errors["name"] = append(f.Errors["name"], "a campaign with this name exists: choose another")
	case err != nil:
		c.fail(ctx, err)
		return
	}
	if err != nil || f.Problems() > 0 {
		if err == nil {
			// The engine accepted a spec the form's own checks refused
			// (cannot happen: they check the same window): never leave a
			// campaign the lead was told was not created.
			c.logger.Error("campaign created despite form problems", "campaign", camp.ID)
		}
		c.render(ctx, http.StatusUnprocessableEntity, "campaign_new", page{Title: "New campaign", Data: f,
			Error: fmt.Sprintf("The campaign was not created: %d problem(s) to correct, shown next to each field.", f.Problems())})
		return
	}
	ctx.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/campaigns/%d?done=created", camp.ID))
}

// splitErrors undoes errors.Join.
func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, splitErrors(e)...)
		}
		return out
	}
	return []error{err}
}

type worklistData struct {
	C        store.Campaign
	Kind     string
	Title    string
	Locality string
	Practice string
	Entries  []store.WorklistEntry
	More     bool
	R        store.CampaignReport
}

const worklistPageRows = 200

var worklistTitles = map[string]string{
	store.WorklistUnreachable: "Not reached after every attempt",
	store.WorklistNoRoute:     "No contact route",
}

// worklistQuery reads a worklist's campaign and filters. Worklists name
// patients, so only programme leads, who hand them to the teams that will
// phone them, get them: an admin is refused and the refusal audited.
func (c *Console) worklistQuery(ctx *gin.Context) (store.Campaign, store.WorklistQuery, bool) {
	if a := actorOf(ctx); a.Role != store.RoleProgrammeLead {
		c.svc.Audit(ctx.Request.Context(), a, "campaign.refused", "console", 0, map[string]any{"path": ctx.Request.URL.Path})
		c.render(ctx, http.StatusForbidden, "error", page{Title: "Not allowed", Error: "Worklists name patients: they are for programme leads only."})
		return store.Campaign{}, store.WorklistQuery{}, false
	}
	camp, ok := c.loadCampaign(ctx)
	if !ok {
		return camp, store.WorklistQuery{}, false
	}
	kind := ctx.Param("kind")
	if worklistTitles[kind] == "" {
		c.fail(ctx, fmt.Errorf("worklist %q: %w", kind, store.ErrNotFound))
		return camp, store.WorklistQuery{}, false
	}
	return camp, store.WorklistQuery{CampaignID: camp.ID, Kind: kind, Locality: clipParam(ctx.Query("locality")),
		Practice: clipParam(ctx.Query("practice"))}, true
}

func clipParam(s string) string {
	if len(s) > 100 {
		return s[:100]
	}
	return s
}

func (c *Console) worklistPage(ctx *gin.Context) {
	camp, q, ok := c.worklistQuery(ctx)
	if !ok {
		return
	}
	q.Limit = worklistPageRows + 1
	d := worklistData{C: camp, Kind: q.Kind, Title: worklistTitles[q.Kind], Locality: q.Locality, Practice: q.Practice}
	n, err := c.store.Worklist(ctx.Request.Context(), q, func(e store.WorklistEntry) error {
		d.Entries = append(d.Entries, e)
		return nil
	})
	if err != nil {
		c.fail(ctx, err)
		return
	}
	if n > worklistPageRows {
		d.Entries, d.More = d.Entries[:worklistPageRows], true
	}
	if d.R, err = c.report(ctx.Request.Context(), camp.ID); err != nil {
		c.fail(ctx, err)
		return
	}
	c.svc.Audit(ctx.Request.Context(), actorOf(ctx), "campaign.worklist.view", "campaign", camp.ID,
		map[string]any{"kind": q.Kind, "locality": q.Locality, "practice": q.Practice, "rows": len(d.Entries)})
	c.render(ctx, http.StatusOK, "campaign_worklist", page{Title: d.Title, Data: d})
}

// csvSafe keeps a cell from being read as a formula by a spreadsheet: a
// cell starting with = + - @ tab or carriage return, or with spaces before
// one of = + - @ (spreadsheets skip them), gets a leading quote.
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	if strings.ContainsRune("\t\r", rune(s[0])) {
		return "'" + s
	}
	if t := strings.TrimLeft(s, " "); t != "" && strings.ContainsRune("=+-@", rune(t[0])) {
		return "'" + s
	}
	return s
}

// writeCSV writes rows formula-safe.
func writeCSV(w *csv.Writer, cells ...string) error {
	for i, s := range cells {
		cells[i] = csvSafe(s)
	}
	return w.Write(cells)
}

func (c *Console) csvHeaders(ctx *gin.Context, name string) {
	ctx.Header("Content-Type", "text/csv; charset=utf-8")
	ctx.Header("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	ctx.Status(http.StatusOK)
}

// fileSafe keeps the letters, digits and dashes of s for a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

func (c *Console) worklistDownload(ctx *gin.Context) {
	camp, q, ok := c.worklistQuery(ctx)
	if !ok {
		return
	}
	name := fmt.Sprintf("%s-%s", fileSafe(camp.Name), q.Kind)
	if q.Locality != "" {
		name += "-" + fileSafe(q.Locality)
	}
	if q.Practice != "" {
		name += "-" + fileSafe(q.Practice)
	}
	c.csvHeaders(ctx, name+".csv")
	w := csv.NewWriter(ctx.Writer)
	err := writeCSV(w, "nhs_number", "given_name", "family_name", "date_of_birth", "mobile", "landline", "locality",
		"practice_code", "practice_name", "language", "reason", "attempts_sent", "last_attempt_at")
	n := 0
	if err == nil {
		n, err = c.store.Worklist(ctx.Request.Context(), q, func(e store.WorklistEntry) error {
			last := ""
			if e.LastAttempt != nil {
				last = e.LastAttempt.In(c.loc).Format(time.RFC3339)
			}
			return writeCSV(w, e.NHSNumber, e.GivenName, e.FamilyName, e.DateOfBirth.Format(time.DateOnly), e.Mobile, e.Landline,
				e.Locality, e.PracticeCode, e.PracticeName, e.Language, e.Reason, strconv.Itoa(e.Attempts), last)
		})
	}
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	details := map[string]any{"kind": q.Kind, "locality": q.Locality, "practice": q.Practice, "rows": n}
	if err != nil {
		details["error"] = "download did not complete"
		c.logger.Error("worklist download failed", "campaign", camp.ID, "error", err)
	}
	c.svc.Audit(ctx.Request.Context(), actorOf(ctx), "campaign.worklist.download", "campaign", camp.ID, details)
}

// funnelHeader is the header of the aggregate report's funnel columns.
var funnelHeader = []string{"patients", "planned", "contacted", "delivered", "answered", "fine", "need", "opted_out",
	"unreachable", "no_contact_route"}

func funnelCells(f store.Funnel) []string {
	out := make([]string, 0, 10)
	for _, n := range []int{f.Patients, f.Planned, f.Contacted, f.Delivered, f.Answered, f.Fine, f.Need, f.OptedOut, f.Unreachable, f.NoRoute} {
		out = append(out, strconv.Itoa(n))
	}
	return out
}

// reportDownload serves one of a campaign's aggregate CSVs (counts only,
// no personal data) as name.csv, written by fill from the stored report,
// and audits the download as report kind.
func (c *Console) reportDownload(kind, name string, fill func(w *csv.Writer, camp store.Campaign, r store.CampaignReport)) gin.HandlerFunc {
	return func(ctx *gin.Context) {
		camp, ok := c.loadCampaign(ctx)
		if !ok {
			return
		}
		r, err := c.report(ctx.Request.Context(), camp.ID)
		if err != nil {
			c.fail(ctx, err)
			return
		}
		c.csvHeaders(ctx, fileSafe(camp.Name)+"-"+name+".csv")
		w := csv.NewWriter(ctx.Writer)
		fill(w, camp, r)
		w.Flush()
		c.svc.Audit(ctx.Request.Context(), actorOf(ctx), "campaign.report.download", "campaign", camp.ID, map[string]any{"report": kind})
	}
}

// fillReportCSV writes the campaign's funnel overall and by channel,
// locality, practice and language.
func (c *Console) fillReportCSV(w *csv.Writer, camp store.Campaign, r store.CampaignReport) {
	_ = writeCSV(w, append([]string{"campaign", "figures_at", "group", "key", "name"}, funnelHeader...)...)
	at := r.ComputedAt.In(c.loc).Format(time.RFC3339)
	row := func(group string, fr store.FunnelRow) {
		_ = writeCSV(w, append([]string{camp.Name, at, group, fr.Key, fr.Label}, funnelCells(fr.Funnel)...)...)
	}
	row("all", store.FunnelRow{Funnel: r.Funnel})
	for _, g := range []struct {
		name string
		rows []store.FunnelRow
	}{{"channel", r.ByChannel}, {"locality", r.ByLocality}, {"practice", r.ByPractice}, {"language", r.ByLanguage}} {
		for _, fr := range g.rows {
			row(g.name, fr)
		}
	}
}

// fillDailyCSV writes the campaign's activity and outcomes per day.
func (c *Console) fillDailyCSV(w *csv.Writer, camp store.Campaign, r store.CampaignReport) {
	_ = writeCSV(w, "campaign", "date", "attempts_planned", "attempts_sent", "patients_first_answered", "fine", "need", "opted_out", "unreachable")
	for _, b := range r.Days {
		_ = writeCSV(w, camp.Name, b.Start.In(c.loc).Format(time.DateOnly), strconv.Itoa(b.Planned), strconv.Itoa(b.Contacts),
			strconv.Itoa(b.Answered), strconv.Itoa(b.Fine), strconv.Itoa(b.Need), strconv.Itoa(b.OptedOut), strconv.Itoa(b.Unreachable))
	}
}

// chartSize is one drawing of the activity chart. Its viewBox is about
// the width it is shown at (campaigns.css shows the wide one from 48rem
// and the narrow one below), so a font size in the SVG is about the same
// in CSS pixels: at least 12 on a 390 px phone, where the wide drawing
// would shrink its labels to 8.
type chartSize struct {
	id, class string
	// back and ahead are the hours shown before and after now.
	back, ahead int
	// tick labels the hours that are multiples of it.
	tick                    int
	w, h, left, bottom, top float64
	font                    float64
}

var chartSizes = []chartSize{
	{id: "activity-chart", class: "chart chart-wide", back: 48, ahead: 24, tick: 6, w: 880, h: 260, left: 48, bottom: 34, top: 14, font: 13},
	{id: "activity-chart-narrow", class: "chart chart-narrow", back: 24, ahead: 12, tick: 12, w: 360, h: 230, left: 40, bottom: 34, top: 16, font: 13},
}

// activityChart draws attempts planned, attempts sent and first answers
// per hour around now, against the plan, as inline SVG: no script, no
// external asset. It draws it twice, for wide screens (the 48 hours to now
// and the 24 after) and phones (24 and 12 hours), and CSS shows one.
func activityChart(hours []store.Bucket, now time.Time, loc *time.Location) template.HTML {
	var b strings.Builder
	for _, cs := range chartSizes {
		cs.draw(&b, hours, now, loc)
	}
	return template.HTML(b.String())
}

// axisTicks picks the values of the horizontal grid lines for figures up
// to peak: 0 and up to four round steps (1, 2 or 5 times a power of ten)
// reaching at or above peak; the last is the top of the chart.
func axisTicks(peak int) []int {
	step := 1
	for base := 1; ; base *= 10 {
		found := false
		for _, m := range []int{1, 2, 5} {
			if (peak+m*base-1)/(m*base) <= 4 {
				step, found = m*base, true
				break
			}
		}
		if found {
			break
		}
	}
	top := max(1, (peak+step-1)/step) * step
	var out []int
	for v := 0; v <= top; v += step {
		out = append(out, v)
	}
	return out
}

func (cs chartSize) draw(b *strings.Builder, hours []store.Bucket, now time.Time, loc *time.Location) {
	n := cs.back + cs.ahead
	end := now.Truncate(time.Hour).Add(time.Duration(cs.ahead) * time.Hour)
	start := end.Add(-time.Duration(n) * time.Hour)
	planned, sent, answered := make([]int, n), make([]int, n), make([]int, n)
	peak := 0
	for _, bk := range hours {
		i := int(bk.Start.Sub(start) / time.Hour)
		if bk.Start.Before(start) || i >= n {
			continue
		}
		planned[i], sent[i], answered[i] = bk.Planned, bk.Contacts, bk.Answered
		peak = max(peak, bk.Planned, bk.Contacts, bk.Answered)
	}
	ticks := axisTicks(peak)
	top := ticks[len(ticks)-1]
	w, h, left, bottom := cs.w, cs.h, cs.left, cs.bottom
	bw := (w - left - 4) / float64(n)
	y := func(v int) float64 { return cs.top + (h-cs.top-bottom)*(1-float64(v)/float64(top)) }
	fmt.Fprintf(b, `<svg class="%s" id="%s" viewBox="0 0 %g %g" role="img" aria-labelledby="%s-title" xmlns="http://www.w3.org/2000/svg">`,
		cs.class, cs.id, w, h, cs.id)
	fmt.Fprintf(b, `<title id="%s-title">Attempts planned and sent, and first answers, per hour from %s to %s</title>`, cs.id,
		template.HTMLEscapeString(start.In(loc).Format("Mon 2 Jan 15:04")), template.HTMLEscapeString(end.In(loc).Format("Mon 2 Jan 15:04")))
	for _, v := range ticks {
		fmt.Fprintf(b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#d8dde0"/>`, left, w, y(v), y(v))
		fmt.Fprintf(b, `<text x="%g" y="%.1f" font-size="%g" text-anchor="end" fill="#4c6272">%s</text>`, left-5, y(v)+cs.font/3, cs.font, thousands(v))
	}
	nowX := left + float64(now.Sub(start))/float64(time.Hour)*bw
	for i := 0; i < n; i++ {
		x := left + float64(i)*bw
		if planned[i] > 0 {
			fmt.Fprintf(b, `<rect class="planned" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#768692" stroke-dasharray="2 1"/>`,
				x+0.5, y(planned[i]), bw-1, y(0)-y(planned[i]))
		}
		if sent[i] > 0 {
			fmt.Fprintf(b, `<rect class="sent" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#005eb8"><title>%s: %s sent, %s planned, %s answered</title></rect>`,
				x+1, y(sent[i]), max(bw-2, 1), y(0)-y(sent[i]), start.Add(time.Duration(i)*time.Hour).In(loc).Format("Mon 15:04"),
				thousands(sent[i]), thousands(planned[i]), thousands(answered[i]))
		}
		if answered[i] > 0 {
			fmt.Fprintf(b, `<rect class="answered" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#ffb81c"/>`,
				x+bw/4, y(answered[i]), bw/2, y(0)-y(answered[i]))
		}
		t := start.Add(time.Duration(i) * time.Hour).In(loc)
		if t.Hour()%cs.tick == 0 {
			label := t.Format("15:04")
			if t.Hour() == 0 {
				label = t.Format("Mon 2")
			}
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#aeb7bd"/>`, x, x, h-bottom, h-bottom+4)
			fmt.Fprintf(b, `<text x="%.1f" y="%g" font-size="%g" text-anchor="middle" fill="#4c6272">%s</text>`, x, h-bottom+cs.font+4, cs.font,
				template.HTMLEscapeString(label))
		}
	}
	fmt.Fprintf(b, `<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="#aeb7bd"/>`, left, w, h-bottom, h-bottom)
	fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#d5281b" stroke-width="1.5"/>`, nowX, nowX, cs.top, h-bottom)
	fmt.Fprintf(b, `<text x="%.1f" y="%g" font-size="%g" fill="#d5281b">now</text>`, nowX+3, cs.top+cs.font-3, cs.font)
	b.WriteString(`</svg>`)
}

func init() {
	templateFuncs["thousands"] = thousands
	templateFuncs["identityCheck"] = identityCheckWords
	templateFuncs["pct"] = func(n, of int) string {
		if of <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(of))
	}
	// barw is the width, out of 100, of a bar for n of of.
	templateFuncs["barw"] = func(n, of int) string {
		if of <= 0 {
			return "0"
		}
		return fmt.Sprintf("%.1f", 100*float64(n)/float64(of))
	}
	templateFuncs["secs"] = func(s float64) string {
		if s <= 0 {
			return "–"
		}
		d := time.Duration(s) * time.Second
		switch {
		case d < time.Hour:
			return fmt.Sprintf("%dm", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
		}
		return fmt.Sprintf("%.1fd", d.Hours()/24)
	}
	templateFuncs["num"] = func(f float64) string { return fmt.Sprintf("%.1f", f) }
	templateFuncs["round"] = func(f float64) string { return thousands(int(f + 0.5)) }
	templateFuncs["attempts"] = attemptsPhrase
	templateFuncs["errs"] = func(m map[string][]string, k string) []string { return m[k] }
}

// spell writes a policy wait in words: "2 days", "36 hours", "90 minutes".
func spell(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d.Round(time.Minute)/time.Minute), "minute")
}

// channelNames name a report's channel rows ("none": the patient had no
// number the campaign could use).
var channelNames = map[string]string{"sms": "Text message", "voice": "Phone call", "none": "No contact route"}

// languageNames name the languages cohort extracts carry (ISO 639-1).
var languageNames = map[string]string{"en": "English", "cy": "Welsh", "pl": "Polish", "pt": "Portuguese", "lt": "Lithuanian",
	"ro": "Romanian", "bn": "Bengali", "ur": "Urdu", "pa": "Punjabi", "gu": "Gujarati", "ar": "Arabic", "zh": "Chinese",
	"so": "Somali", "tr": "Turkish", "fr": "French", "es": "Spanish", "it": "Italian", "ru": "Russian", "uk": "Ukrainian"}

// rowLabel names a breakdown row for people: words, not codes.
func rowLabel(group string, r store.FunnelRow) string {
	switch {
	case r.Key == "":
		return "Not recorded"
	case group == "channel" && channelNames[r.Key] != "":
		return channelNames[r.Key]
	case group == "language" && languageNames[r.Key] != "":
		return languageNames[r.Key]
	}
	return r.Label
}

// needName names a need category: "unreachable" is the hand-over of a
// person not reached; others are their words with a capital.
func needName(k string) string {
	if k == "unreachable" {
		return "Not reached: handed to a person"
	}
	return capitalise(strings.NewReplacer("_", " ", "-", " ").Replace(k))
}

// dayName writes a forecast day (YYYY-MM-DD) as "Mon 30 Nov".
func dayName(s string) string {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return s
	}
	return t.Format("Mon 2 Jan")
}

func init() {
	templateFuncs["rowLabel"] = rowLabel
	templateFuncs["needName"] = needName
	templateFuncs["dayName"] = dayName
}

// breakdownRows feeds the "breakdown" template: a table's id, its first
// column's name and its rows.
type breakdownRows struct {
	ID, Name string
	Rows     []store.FunnelRow
}

func init() {
	templateFuncs["rows"] = func(id, name string, rows []store.FunnelRow) breakdownRows {
		return breakdownRows{ID: id, Name: name, Rows: rows}
	}
}
