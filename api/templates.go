package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
)

// registerTemplates adds the template editor's API under /api/v1. Roles
// are checked by templateadmin.Service (see Service.Rights), so the
// console and the API enforce the same rules.
//
//	GET    /templates?purpose=&channel=&language=&key=   list
//	POST   /templates                                    create {key, channel, language, body, note}
//	GET    /templates/:id                                template, history, live version, placeholders, rights
//	POST   /templates/:id/check                          {body}: report for the body being edited (nothing saved)
//	GET    /templates/:id/diff?from=N&to=M               line and word diff
//	POST   /templates/:id/versions                       save {body, note, submit}
//	GET    /templates/:id/versions/:v/preview            report for a saved version
//	POST   /templates/:id/versions/:v/submit             draft -> pending
//	POST   /templates/:id/versions/:v/approve            {note}
//	POST   /templates/:id/versions/:v/reject             {note}
//	POST   /templates/:id/versions/:v/revert             {note}: new pending version copying v
//	POST   /templates/:id/test                           {to, version | body}: send a test to a phone the caller verified
//	GET    /test-phones                                  the caller's own test phones
//	POST   /test-phones                                  {number}: add one and text it a code (or a new code)
//	POST   /test-phones/:id/verify                       {code}: the code texted to it
//	DELETE /test-phones/:id                              remove one
//	GET    /template-approvers                           list
//	POST   /template-approvers                           {actor}: grant (admin)
//	DELETE /template-approvers/:actor                    revoke (admin)
//	GET    /campaigns/:id/template-pins                  a campaign's pins
//	PUT    /campaigns/:id/template-pins                  {"key:channel:language": version, ...}
//	POST   /campaigns/:id/template-pins/live             pin every template to its live version
func (a *Routes) registerTemplates(g *gin.RouterGroup) {
	g.GET("/templates", a.listTemplates)
	g.POST("/templates", a.createTemplate)
	g.GET("/templates/:id", a.showTemplate)
	g.POST("/templates/:id/check", a.checkTemplate)
	g.GET("/templates/:id/diff", a.diffTemplate)
	g.POST("/templates/:id/versions", a.saveTemplate)
	g.GET("/templates/:id/versions/:v/preview", a.previewTemplate)
	for _, action := range templateadmin.VersionActions {
		g.POST("/templates/:id/versions/:v/"+action, a.templateAction(action))
	}
	g.POST("/templates/:id/test", a.testTemplate)
	g.GET("/test-phones", a.listTestPhones)
	g.POST("/test-phones", a.addTestPhone)
	g.POST("/test-phones/:id/verify", a.verifyTestPhone)
	g.DELETE("/test-phones/:id", a.removeTestPhone)
	g.GET("/template-approvers", a.listApprovers)
	g.POST("/template-approvers", a.grantApprover)
	g.DELETE("/template-approvers/:actor", a.revokeApprover)
	g.GET("/campaigns/:id/template-pins", a.campaignPins)
	g.PUT("/campaigns/:id/template-pins", a.setCampaignPins)
	g.POST("/campaigns/:id/template-pins/live", a.pinLive)
}

func templateActor(c *gin.Context) templateadmin.Actor {
	p := c.MustGet("principal").(principal)
	return templateadmin.Actor{Name: p.actor, Role: p.role}
}

// templateFail maps the service's errors to statuses.
func (a *Routes) templateFail(c *gin.Context, err error) {
	status := templateadmin.Status(err)
	var invalid *templateadmin.InvalidError
	switch {
	case errors.As(err, &invalid):
		problemWith(c, status, invalid.Error(), gin.H{"report": invalid.Report})
	case status == http.StatusInternalServerError || status == http.StatusNotFound:
		a.fail(c, err)
	default:
		if status == http.StatusTooManyRequests {
			c.Header("Retry-After", "600")
		}
		problemOf(c, status, err.Error())
	}
}

// reply writes v with status, or maps err.
func (a *Routes) reply(c *gin.Context, status int, v any, err error) {
	if err != nil {
		a.templateFail(c, err)
		return
	}
	c.JSON(status, v)
}

func pathInt(c *gin.Context, name string) (int64, bool) {
	n, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || n <= 0 {
		problemOf(c, http.StatusBadRequest, name+" must be a positive number")
		return 0, false
	}
	return n, true
}

// pathVersion reads a template ID and version number from the path.
func pathVersion(c *gin.Context) (id, version int64, ok bool) {
	if id, ok = pathInt(c, "id"); !ok {
		return 0, 0, false
	}
	version, ok = pathInt(c, "v")
	return id, version, ok
}

// bind decodes a JSON body strictly.
func bind(c *gin.Context, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		problemOf(c, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return false
	}
	return true
}

func (a *Routes) listTemplates(c *gin.Context) {
	f := store.TemplateFilter{Purpose: c.Query("purpose"), Channel: c.Query("channel"), Language: c.Query("language"), Key: c.Query("key")}
	ts, err := a.Templates.List(c.Request.Context(), templateActor(c), f)
	a.reply(c, http.StatusOK, gin.H{"templates": ts}, err)
}

func (a *Routes) createTemplate(c *gin.Context) {
	var req struct {
		store.TemplateRef
		Body string `json:"body"`
		Note string `json:"note"`
	}
	if !bind(c, &req) {
		return
	}
	t, v, err := a.Templates.Create(c.Request.Context(), templateActor(c), req.TemplateRef, req.Body, req.Note)
	a.reply(c, http.StatusCreated, gin.H{"template": t, "version": v}, err)
}

func (a *Routes) showTemplate(c *gin.Context) {
	id, ok := pathInt(c, "id")
	if !ok {
		return
	}
	d, err := a.Templates.Show(c.Request.Context(), templateActor(c), id)
	a.reply(c, http.StatusOK, d, err)
}

func (a *Routes) checkTemplate(c *gin.Context) {
	id, ok := pathInt(c, "id")
	if !ok {
		return
	}
	var req struct {
		Body string `json:"body"`
	}
	if !bind(c, &req) {
		return
	}
	r, err := a.Templates.Check(c.Request.Context(), templateActor(c), id, req.Body)
	a.reply(c, http.StatusOK, r, err)
}

func (a *Routes) diffTemplate(c *gin.Context) {
	id, ok := pathInt(c, "id")
	if !ok {
		return
	}
	from, err1 := strconv.Atoi(c.Query("from"))
	to, err2 := strconv.Atoi(c.Query("to"))
	if err1 != nil || err2 != nil {
		problemOf(c, http.StatusBadRequest, "from and to must be version numbers")
		return
	}
	d, err := a.Templates.Diff(c.Request.Context(), templateActor(c), id, from, to)
	a.reply(c, http.StatusOK, d, err)
}

func (a *Routes) saveTemplate(c *gin.Context) {
	id, ok := pathInt(c, "id")
	if !ok {
		return
	}
	var d templateadmin.Draft
	if !bind(c, &d) {
		return
	}
	v, r, err := a.Templates.SaveDraft(c.Request.Context(), templateActor(c), id, d)
	a.reply(c, http.StatusCreated, gin.H{"version": v, "report": r}, err)
}

func (a *Routes) previewTemplate(c *gin.Context) {
	id, v, ok := pathVersion(c)
	if !ok {
		return
	}
	r, err := a.Templates.Preview(c.Request.Context(), templateActor(c), id, int(v))
	a.reply(c, http.StatusOK, r, err)
}

func (a *Routes) templateAction(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, v, ok := pathVersion(c)
		if !ok {
			return
		}
		var req struct {
			Note string `json:"note"`
		}
		if c.Request.ContentLength != 0 && !bind(c, &req) {
			return
		}
		out, err := a.Templates.VersionAction(c.Request.Context(), templateActor(c), id, int(v), action, req.Note)
		a.reply(c, http.StatusOK, out, err)
	}
}

func (a *Routes) testTemplate(c *gin.Context) {
	id, ok := pathInt(c, "id")
	if !ok {
		return
	}
	var req templateadmin.TestRequest
	if !bind(c, &req) {
		return
	}
	res, err := a.Templates.SendTest(c.Request.Context(), templateActor(c), id, req)
	a.reply(c, http.StatusOK, res, err)
}

func (a *Routes) listTestPhones(c *gin.Context) {
	ps, err := a.Templates.TestPhones(c.Request.Context(), templateActor(c))
	a.reply(c, http.StatusOK, gin.H{"test_phones": ps}, err)
}

func (a *Routes) addTestPhone(c *gin.Context) {
	var req struct {
		Number string `json:"number"`
	}
	if !bind(c, &req) {
		return
	}
	p, err := a.Templates.AddTestPhone(c.Request.Context(), templateActor(c), req.Number)
	status := http.StatusAccepted // a code is on its way
	if p.Verified {
		status = http.StatusOK
	}
	a.reply(c, status, p, err)
}

func (a *Routes) verifyTestPhone(c *gin.Context) {
	id, ok := pathInt(c, "id")
	if !ok {
		return
	}
	var req struct {
		Code string `json:"code"`
	}
	if !bind(c, &req) {
		return
	}
	p, err := a.Templates.VerifyTestPhone(c.Request.Context(), templateActor(c), id, req.Code)
	a.reply(c, http.StatusOK, p, err)
}

func (a *Routes) removeTestPhone(c *gin.Context) {
	id, ok := pathInt(c, "id")
	if !ok {
		return
	}
	if err := a.Templates.RemoveTestPhone(c.Request.Context(), templateActor(c), id); err != nil {
		a.templateFail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *Routes) listApprovers(c *gin.Context) {
	out, err := a.Templates.Approvers(c.Request.Context(), templateActor(c))
	a.reply(c, http.StatusOK, gin.H{"approvers": out}, err)
}

func (a *Routes) grantApprover(c *gin.Context) {
	var req struct {
		Actor string `json:"actor"`
	}
	if !bind(c, &req) {
		return
	}
	err := a.Templates.GrantApprover(c.Request.Context(), templateActor(c), req.Actor)
	a.reply(c, http.StatusOK, gin.H{"actor": req.Actor}, err)
}

func (a *Routes) revokeApprover(c *gin.Context) {
	if err := a.Templates.RevokeApprover(c.Request.Context(), templateActor(c), c.Param("actor")); err != nil {
		a.templateFail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *Routes) campaignPins(c *gin.Context) {
	id, ok := pathInt(c, "id")
	if !ok {
		return
	}
	pins, err := a.Templates.Pins(c.Request.Context(), templateActor(c), id)
	a.reply(c, http.StatusOK, gin.H{"pins": pins}, err)
}

func (a *Routes) setCampaignPins(c *gin.Context) {
	id, ok := pathInt(c, "id")
	if !ok {
		return
	}
	pins := map[string]int{}
	if !bind(c, &pins) {
		return
	}
	err := a.Templates.SetPins(c.Request.Context(), templateActor(c), id, pins)
	a.reply(c, http.StatusOK, gin.H{"pins": pins}, err)
}

func (a *Routes) pinLive(c *gin.Context) {
	id, ok := pathInt(c, "id")
	if !ok {
		return
	}
	pins, err := a.Templates.PinLive(c.Request.Context(), templateActor(c), id)
	a.reply(c, http.StatusOK, gin.H{"pins": pins}, err)
}
