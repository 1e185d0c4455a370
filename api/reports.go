package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/window"
)

// defaultReportMaxAge bounds how old the figures the report endpoint
// returns may be before it computes them itself, when Routes.ReportMaxAge
// is not set (the workers refresh them every PROTECT_REPORT_REFRESH).
const defaultReportMaxAge = time.Minute

func (a *Routes) reportMaxAge() time.Duration {
	if a.ReportMaxAge > 0 {
		return a.ReportMaxAge
	}
	return defaultReportMaxAge
}

// registerReports adds a campaign's report, worklists and forecast.
func (a *Routes) registerReports(g *gin.RouterGroup, lead gin.HandlerFunc) {
	g.GET("/campaigns/:id/report", lead, a.campaignReport)
	// Worklists name patients: programme leads only, who hand them to the
	// teams that will phone them.
	g.GET("/campaigns/:id/worklists/:kind", allow(store.RoleProgrammeLead), a.campaignWorklist)
	g.GET("/campaigns/:id/forecast", lead, a.campaignForecast)
}

// problem answers with an RFC 9457 problem details document and stops
// the request. Every error of the API is answered this way.
func problem(c *gin.Context, status int, title, detail string) {
	problemWith(c, status, detail, gin.H{"title": title})
}

// problemOf answers with problem details titled by the status.
func problemOf(c *gin.Context, status int, detail string) {
	problemWith(c, status, detail, nil)
}

// problemWith answers with problem details and extension members (such
// as a template's report), which may also replace the title.
func problemWith(c *gin.Context, status int, detail string, ext gin.H) {
	body := gin.H{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail,
		"instance": c.Request.URL.Path}
	for k, v := range ext {
		body[k] = v
	}
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(status, body)
}

// reportProblem turns an error of the report endpoints into problem
// details.
func (a *Routes) reportProblem(c *gin.Context, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		problem(c, http.StatusNotFound, "Not found", err.Error())
	default:
		a.Logger.Error("api request failed", "path", c.FullPath(), "error", err)
		problem(c, http.StatusInternalServerError, "Internal error", "Something went wrong; it has been logged.")
	}
}

func (a *Routes) campaignParam(c *gin.Context) (store.Campaign, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		problem(c, http.StatusBadRequest, "Bad campaign id", "id must be a positive number")
		return store.Campaign{}, false
	}
	camp, err := a.Store.Campaign(c.Request.Context(), id)
	if err != nil {
		a.reportProblem(c, err)
		return camp, false
	}
	return camp, true
}

func (a *Routes) location() *time.Location {
	if a.Location != nil {
		return a.Location
	}
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return loc
}

func (a *Routes) campaignReport(c *gin.Context) {
	camp, ok := a.campaignParam(c)
	if !ok {
		return
	}
	r, err := a.Store.FreshCampaignReport(c.Request.Context(), camp.ID, a.reportMaxAge(), time.Now(), a.location())
	if err != nil {
		a.reportProblem(c, err)
		return
	}
	a.audit(c, "campaign.report.view", camp.ID, nil)
	c.JSON(http.StatusOK, gin.H{"campaign": camp, "report": r})
}

// maxWorklistRows bounds a worklist returned as JSON; the console's CSV
// download streams any size.
const maxWorklistRows = 10000

func (a *Routes) campaignWorklist(c *gin.Context) {
	camp, ok := a.campaignParam(c)
	if !ok {
		return
	}
	q := store.WorklistQuery{CampaignID: camp.ID, Kind: c.Param("kind"), Locality: c.Query("locality"),
		Practice: c.Query("practice"), Limit: maxWorklistRows + 1}
	entries := []store.WorklistEntry{}
	n, err := a.Store.Worklist(c.Request.Context(), q, func(e store.WorklistEntry) error {
		entries = append(entries, e)
		return nil
	})
	if errors.Is(err, store.ErrBadWorklist) {
		problem(c, http.StatusNotFound, "No such worklist", fmt.Sprintf("worklists are %s and %s", store.WorklistUnreachable, store.WorklistNoRoute))
		return
	}
	if err != nil {
		a.reportProblem(c, err)
		return
	}
	truncated := n > maxWorklistRows
	if truncated {
		entries = entries[:maxWorklistRows]
	}
	a.audit(c, "campaign.worklist.download", camp.ID, map[string]any{"kind": q.Kind, "locality": q.Locality,
		"practice": q.Practice, "rows": len(entries)})
	c.JSON(http.StatusOK, gin.H{"campaign_id": camp.ID, "kind": q.Kind, "patients": entries, "truncated": truncated})
}

func (a *Routes) campaignForecast(c *gin.Context) {
	camp, ok := a.campaignParam(c)
	if !ok {
		return
	}
	var by time.Time
	if s := c.Query("finish_by"); s != "" {
		d, err := window.ParseDate(s)
		if err != nil {
			problem(c, http.StatusBadRequest, "Bad finish_by", "finish_by: "+err.Error())
			return
		}
		by = d.AddDays(1).In(a.location()).Add(-time.Second)
	}
	r, err := a.routing()
	if err != nil {
		a.reportProblem(c, err)
		return
	}
	f, err := a.Engine.ForecastCampaign(c.Request.Context(), camp, time.Now(), by, outreach.ForecastRouting{
		DefaultTeam: r.DefaultTeam, UnreachableTeam: r.UnreachableTeam(), Capacity: r.Capacities()})
	if err != nil {
		problem(c, http.StatusUnprocessableEntity, "No forecast", err.Error())
		return
	}
	a.audit(c, "campaign.forecast.view", camp.ID, map[string]any{"finish_by": c.Query("finish_by")})
	c.JSON(http.StatusOK, f)
}

// routing is the routing in use, or the built-in one when the API serves
// no escalations.
func (a *Routes) routing() (*escalation.Routing, error) {
	if a.Escalations != nil {
		return a.Escalations.Routing(), nil
	}
	return escalation.LoadRoutingFile("")
}

func (a *Routes) audit(c *gin.Context, action string, campaignID int64, details map[string]any) {
	err := a.Store.Audit(c.Request.Context(), store.AuditEntry{Actor: actor(c), Action: action, SubjectType: "campaign",
		SubjectID: strconv.FormatInt(campaignID, 10), Details: details, RemoteAddr: c.ClientIP()})
	if err != nil {
		a.Logger.Error("audit failed", "action", action, "error", err)
	}
}
