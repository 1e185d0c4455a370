package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/store"
)

// registerEscalations adds the team endpoints: the same operations as the
// console, scoped the same way (a handler token sees only its teams' work)
// and audited by the escalation service.
func (a *Routes) registerEscalations(g *gin.RouterGroup) {
	g.GET("/escalations", a.inbox)
	g.GET("/escalations/:id", a.showEscalation)
	g.POST("/escalations/:id/:action", a.escalationAction)
	g.GET("/patients/:id/timeline", a.patientTimeline)
	g.POST("/patients/:id/contacts", a.recordContact)
}

// escActor is the token as the escalation service sees it.
func (a *Routes) escActor(c *gin.Context) (escalation.Actor, bool) {
	p := c.MustGet("principal").(principal)
	act := escalation.Actor{Name: p.actor, Role: p.role, RemoteAddr: c.ClientIP()}
	if p.role == store.RoleHandler {
		teams, err := a.Store.TokenTeams(c.Request.Context(), p.tokenID)
		if err != nil {
			a.escFail(c, err)
			return act, false
		}
		act.Teams = teams
	}
	return act, true
}

func (a *Routes) escFail(c *gin.Context, err error) {
	var inv *escalation.InvalidError
	switch {
	case errors.As(err, &inv):
		problemOf(c, http.StatusUnprocessableEntity, inv.Msg)
	case errors.Is(err, escalation.ErrForbidden):
		problemOf(c, http.StatusForbidden, err.Error())
	case errors.Is(err, store.ErrEscalationState):
		problemOf(c, http.StatusConflict, "the escalation is not in a state that allows this")
	case errors.Is(err, store.ErrNotFound):
		problemOf(c, http.StatusNotFound, "not found")
	default:
		a.fail(c, err)
	}
}

// actorAndID reads the actor and the path's id, answering the request
// itself when either is missing.
func (a *Routes) actorAndID(c *gin.Context) (escalation.Actor, int64, bool) {
	act, ok := a.escActor(c)
	if !ok {
		return act, 0, false
	}
	id, ok := pathID(c)
	return act, id, ok
}

func pathID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		problemOf(c, http.StatusBadRequest, "id must be a positive number")
		return 0, false
	}
	return id, true
}

// decode reads a JSON body into v, refusing unknown fields.
func decode(c *gin.Context, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		problemOf(c, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return false
	}
	return true
}

func (a *Routes) inbox(c *gin.Context) {
	act, ok := a.escActor(c)
	if !ok {
		return
	}
	limit, _ := strconv.Atoi(c.DefaultQuery("limit", "100"))
	offset, _ := strconv.Atoi(c.Query("offset"))
	in, err := a.Escalations.Inbox(c.Request.Context(), act, escalation.InboxQuery{Team: c.Query("team"),
		Closed: c.Query("state") == "closed", Limit: limit, Offset: max(0, offset)})
	if err != nil {
		a.escFail(c, err)
		return
	}
	c.JSON(http.StatusOK, in)
}

func (a *Routes) showEscalation(c *gin.Context) {
	act, id, ok := a.actorAndID(c)
	if !ok {
		return
	}
	d, err := a.Escalations.Escalation(c.Request.Context(), act, id)
	if err != nil {
		a.escFail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

// actionBody is the body of the escalation actions; each uses its fields.
type actionBody struct {
	Note        string `json:"note"`
	Outcome     string `json:"outcome"`
	Team        string `json:"team"`
	DuplicateOf int64  `json:"duplicate_of"`
	// Shared: a note every team that sees the patient may read.
	Shared bool `json:"shared"`
}

func (a *Routes) escalationAction(c *gin.Context) {
	act, id, ok := a.actorAndID(c)
	if !ok {
		return
	}
	var b actionBody
	if c.Request.ContentLength != 0 && !decode(c, &b) {
		return
	}
	ctx := c.Request.Context()
	var err error
	switch c.Param("action") {
	case "claim":
		err = a.Escalations.Claim(ctx, act, id)
	case "note":
		if b.Shared {
			err = a.Escalations.ShareNote(ctx, act, id, b.Note)
		} else {
			err = a.Escalations.Note(ctx, act, id, b.Note)
		}
	case "resolve":
		err = a.Escalations.Resolve(ctx, act, id, b.Outcome, b.Note)
	case "handover":
		err = a.Escalations.HandOver(ctx, act, id, b.Team, b.Note)
	case "duplicate":
		err = a.Escalations.MarkDuplicate(ctx, act, id, b.DuplicateOf)
	default:
		problemOf(c, http.StatusNotFound, "unknown action; use claim, note, resolve, handover or duplicate")
		return
	}
	if err != nil {
		a.escFail(c, err)
		return
	}
	if strings.EqualFold(c.Param("action"), "handover") && act.Role == store.RoleHandler {
		c.JSON(http.StatusOK, gin.H{"status": "handed over"})
		return
	}
	d, err := a.Escalations.Escalation(ctx, act, id)
	if err != nil {
		a.escFail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (a *Routes) patientTimeline(c *gin.Context) {
	act, id, ok := a.actorAndID(c)
	if !ok {
		return
	}
	v, err := a.Escalations.Patient(c.Request.Context(), act, id)
	if err != nil {
		a.escFail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (a *Routes) recordContact(c *gin.Context) {
	act, id, ok := a.actorAndID(c)
	if !ok {
		return
	}
	var in escalation.ContactInput
	if !decode(c, &in) {
		return
	}
	cid, err := a.Escalations.RecordContact(c.Request.Context(), act, id, in)
	if err != nil {
		a.escFail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": cid})
}
