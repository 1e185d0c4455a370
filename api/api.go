// Package api is Protect's JSON API for programme leads' tools and team
// systems. Every request carries a bearer token; every action is audited.
package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// Routes serves /api/v1.
type Routes struct {
	Engine *outreach.Engine
	Store  *store.Store
	// Escalations serves the team endpoints; nil leaves them out.
	Escalations *escalation.Service
	Logger      *slog.Logger
	// Templates serves the template editor's routes when set.
	Templates *templateadmin.Service
	// Location cuts campaign reports into days; default Europe/London.
	Location *time.Location
	// ReportMaxAge bounds how old the figures the report endpoint returns
	// may be before it computes them itself; default one minute. Set it
	// above the workers' refresh interval (PROTECT_REPORT_REFRESH), or
	// every request computes the report.
	ReportMaxAge time.Duration
}

// Register adds the API routes.
func (a *Routes) Register(r *gin.Engine) {
	r.GET("/api/v1/openapi.json", serveOpenAPI)
	g := r.Group("/api/v1", a.authenticate)
	lead := allow(store.RoleAdmin, store.RoleProgrammeLead)
	g.GET("/campaigns", lead, a.listCampaigns)
	g.POST("/campaigns", lead, a.createCampaign)
	g.GET("/campaigns/:id", lead, a.showCampaign)
	for _, action := range []string{"start", "pause", "resume", "cancel"} {
		g.POST("/campaigns/:id/"+action, lead, a.campaignAction(action))
	}
	a.registerReports(g, lead)
	if a.Escalations != nil {
		a.registerEscalations(g)
	}
	if a.Templates != nil {
		a.registerTemplates(g)
	}
}

type principal struct {
	actor   string
	role    string
	tokenID int64
}

func (a *Routes) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		c.Header("WWW-Authenticate", `Bearer realm="protect"`)
		problemOf(c, http.StatusUnauthorized, "a bearer token is required")
		return
	}
	t, err := a.Store.APITokenBySecret(c.Request.Context(), token)
	if errors.Is(err, store.ErrNotFound) {
		problemOf(c, http.StatusUnauthorized, "unknown or revoked token")
		return
	}
	if err != nil {
		a.Logger.Error("token lookup failed", "error", err)
		problemOf(c, http.StatusInternalServerError, "Something went wrong; it has been logged.")
		return
	}
	c.Set("principal", principal{actor: "token:" + t.Name, role: t.Role, tokenID: t.ID})
	c.Next()
}

func allow(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := c.MustGet("principal").(principal)
		if !slices.Contains(roles, p.role) {
			problemOf(c, http.StatusForbidden, "your role may not do this")
			return
		}
		c.Next()
	}
}

func actor(c *gin.Context) string { return c.MustGet("principal").(principal).actor }

func (a *Routes) fail(c *gin.Context, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		problemOf(c, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrStateConflict):
		problemOf(c, http.StatusConflict, err.Error())
	default:
		a.Logger.Error("api request failed", "path", c.FullPath(), "error", err)
		problemOf(c, http.StatusInternalServerError, "internal error")
	}
}

// campaignView is a campaign as the API returns it: its fields and the
// warnings for whoever plans it (outreach.CoverageWarning), omitted when
// there are none.
type campaignView struct {
	store.Campaign
	Warnings []string `json:"warnings,omitempty"`
}

func (a *Routes) view(c store.Campaign) campaignView {
	v := campaignView{Campaign: c}
	now := time.Now()
	if a.Engine != nil {
		now = a.Engine.Now()
	}
	if msg := outreach.CoverageWarning(c, now); msg != "" {
		v.Warnings = append(v.Warnings, msg)
	}
	return v
}

func (a *Routes) listCampaigns(c *gin.Context) {
	cs, err := a.Store.Campaigns(c.Request.Context())
	if err != nil {
		a.fail(c, err)
		return
	}
	vs := make([]campaignView, len(cs))
	for i, camp := range cs {
		vs[i] = a.view(camp)
	}
	c.JSON(http.StatusOK, gin.H{"campaigns": vs})
}

func (a *Routes) createCampaign(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		problemOf(c, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	var spec struct {
		outreach.CampaignSpec
		QuestionnaireYAML string `json:"questionnaire_yaml"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		problemOf(c, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	s := spec.CampaignSpec
	s.CreatedBy = actor(c)
	if spec.QuestionnaireYAML != "" {
		s.QuestionnaireData, s.Questionnaire = []byte(spec.QuestionnaireYAML), "questionnaire_yaml"
	}
	camp, err := a.Engine.CreateCampaign(c.Request.Context(), s)
	var invalid *outreach.InvalidSpecError
	switch {
	case errors.As(err, &invalid):
		problemOf(c, http.StatusUnprocessableEntity, invalid.Error())
	case errors.Is(err, store.ErrDuplicate):
		problemOf(c, http.StatusConflict, "a campaign with that name exists")
	case err != nil:
		a.fail(c, err)
	default:
		c.JSON(http.StatusCreated, a.view(camp))
	}
}

func (a *Routes) showCampaign(c *gin.Context) {
	id, ok := pathInt(c, "id")
	if !ok {
		return
	}
	camp, err := a.Store.Campaign(c.Request.Context(), id)
	if err != nil {
		a.fail(c, err)
		return
	}
	// The counts come from the stored report, not from counting the
	// campaign's rows per request (millions of attempts); status_at says
	// when they were counted.
	r, err := a.Store.FreshCampaignReport(c.Request.Context(), id, a.reportMaxAge(), time.Now(), a.location())
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"campaign": a.view(camp), "status": r.Counts(), "status_at": r.ComputedAt})
}

func (a *Routes) campaignAction(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathInt(c, "id")
		if !ok {
			return
		}
		ctx, who := c.Request.Context(), actor(c)
		var err error
		switch action {
		case "start":
			_, err = a.Engine.Start(ctx, id, who)
		case "pause":
			err = a.Engine.Pause(ctx, id, who)
		case "resume":
			err = a.Engine.Resume(ctx, id, who)
		case "cancel":
			err = a.Engine.Cancel(ctx, id, who)
		}
		if err != nil {
			a.fail(c, err)
			return
		}
		camp, err := a.Store.Campaign(ctx, id)
		if err != nil {
			a.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, a.view(camp))
	}
}
