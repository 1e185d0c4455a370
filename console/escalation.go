package console

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/store"
)

// formError is one problem with a form, shown in the error summary at the
// top of the page and next to its field (the NHS design system pattern).
type formError struct {
	Field string // the id of the field to go to
	Msg   string
}

type escalationView struct {
	escalation.EscalationPage
	Outcomes     []string
	CallOutcomes []string
	Teams        []string
	Lines        []threadLine
	// Errors and Form are a refused form's problems and what was typed,
	// to show it again.
	Errors []formError
	Form   map[string]string
}

// Err returns the message for a field, if the last form refused it.
func (v escalationView) Err(field string) string {
	for _, e := range v.Errors {
		if e.Field == field {
			return e.Msg
		}
	}
	return ""
}

// threadLine is one line of the conversation as a handler reads it.
type threadLine struct {
	store.ThreadItem
	// Who did it, What happened, and Quote: what was said, in full.
	Who, What, Quote, Detail string
	// Out is set for what was said to the patient; Mine for this
	// escalation's own history.
	Out    bool
	Class  string
	Hidden bool
}

// threadLines puts a conversation in the words a handler reads.
func (c *Console) threadLines(thread []escalation.ThreadEntry) []threadLine {
	lines := make([]threadLine, 0, len(thread))
	for _, t := range thread {
		l := threadLine{ThreadItem: t.ThreadItem, Class: t.Kind, Hidden: t.Hidden}
		switch t.Kind {
		case "sms-in":
			l.Who, l.What, l.Quote = "Patient", "texted from "+nationalOr(t.Number), t.Body
			switch t.Sub {
			case "opt_out":
				l.What = "opted out by text, from " + nationalOr(t.Number)
			case "opt_in":
				l.What = "opted back in by text, from " + nationalOr(t.Number)
			}
		case "sms-out":
			l.Out, l.Quote = true, t.Body
			l.Who, l.What = "Protect", "texted "+nationalOr(t.Number)
			switch t.Sub {
			case "handler":
				l.Who = "A handler"
				if t.Actor != "" {
					l.Who = person(t.Actor)
				}
				l.What = "texted " + nationalOr(t.Number) + " from the console"
			case "advice":
				l.What = "gave advice by text to " + nationalOr(t.Number)
			}
		case "identity":
			l.Who, l.What = "Protect", identityWords(t.Sub, t.Tries)
		case "call":
			l.Out, l.Who = true, "Protect"
			l.What = "called " + nationalOr(t.Number) + ": " + word(attemptWords, t.Sub)
			if t.Outcome != "" {
				l.Detail = word(callResultWords, t.Outcome)
			}
			if t.Body != "" {
				l.Detail = strings.TrimSpace(l.Detail + " " + t.Body)
			}
		case "attempt":
			l.Out, l.Who = true, "Protect"
			l.What = "text to " + nationalOr(t.Number) + " " + word(attemptWords, t.Sub)
			l.Detail = t.Body
		case "answer":
			l.Who = "Patient"
			l.What = "answered by " + map[bool]string{true: "phone keypad", false: "text"}[t.Channel == "voice"]
			l.Quote = t.QuestionText + " — " + t.OptionLabel
			if t.Channel == "voice" {
				l.Detail = "pressed " + t.Body
			} else if t.Body != "" {
				l.Detail = "replied “" + t.Body + "”"
			}
		case "event":
			l.Who = person(t.Actor)
			team := c.svc.Routing().TeamName(t.Team)
			switch {
			case t.Hidden:
				l.Who, l.What = team, "updated an escalation (details with the team)"
			case t.EscalationID == nil:
				// Another team's shared note: its need stays with them.
				l.What, l.Quote = "shared a note ("+team+")", t.Body
			default:
				what := eventWords[t.Sub]
				if what == "" {
					what = word(nil, t.Sub)
				}
				l.What = fmt.Sprintf("%s: %s, %s", what, word(categoryWords, t.Category), team)
				switch t.Sub {
				case "note", "resolved", "handed-over":
					// What a handler wrote, in full.
					l.Quote = t.Body
				case "opened", "need-added":
					// The need's detail in words; an answer's is on the
					// page already, as the patient saw it.
					l.Detail = escalation.NeedSentence(t.Body)
				default:
					l.Detail = t.Body
				}
				if t.Shared {
					l.Detail = strings.TrimSpace(l.Detail + " (shared with every team that sees this patient)")
				}
			}
		case "contact":
			l.Who = c.svc.Routing().TeamName(t.Team) + " (" + person(t.Actor) + ")"
			l.What = word(contactMethodWords, t.Sub) + ": " + word(contactOutcomeWords, t.Outcome)
			l.Quote = t.Body
		}
		lines = append(lines, l)
	}
	return lines
}

// nationalOr is a number as read in a sentence, kept on one line; "the
// patient" when there is none.
func nationalOr(n string) string {
	if n == "" {
		return "the patient"
	}
	return strings.ReplaceAll(phone.National(n), " ", "\u00a0")
}

func (c *Console) escalationPage(ctx *gin.Context) {
	c.showEscalation(ctx, http.StatusOK, nil, nil)
}

// showEscalation renders the escalation page, with a refused form's
// errors and values when there are some.
func (c *Console) showEscalation(ctx *gin.Context, status int, errs []formError, form map[string]string) {
	id, err := idParam(ctx)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	p, err := c.svc.Page(ctx.Request.Context(), actorOf(ctx), id)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	v := escalationView{EscalationPage: p, Outcomes: escalation.Outcomes, CallOutcomes: escalation.CallOutcomes,
		Teams: c.svc.Routing().TeamKeys(), Errors: errs, Form: form}
	v.Lines = c.threadLines(p.Thread)
	title := fmt.Sprintf("%s: %s", word(categoryWords, p.Escalation.Category), p.Escalation.PatientName)
	if len(errs) > 0 {
		title = "Error: " + title
	}
	c.render(ctx, status, "escalation", page{Title: title, Data: v})
}

// actionFields says which field each action's problems point to.
var actionFields = map[string]string{
	"note": "note", "resolve": "outcome", "handover": "handover-note", "duplicate": "duplicate-of",
	"called": "call-outcome", "sms": "sms-body",
}

func (c *Console) escalationAction(ctx *gin.Context) {
	id, err := idParam(ctx)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	a := actorOf(ctx)
	rc := ctx.Request.Context()
	action := ctx.Param("action")
	done := ""
	switch action {
	case "claim":
		err, done = c.svc.Claim(rc, a, id), "claimed"
	case "note":
		if ctx.PostForm("shared") == "1" {
			err, done = c.svc.ShareNote(rc, a, id, ctx.PostForm("note")), "shared-note-added"
		} else {
			err, done = c.svc.Note(rc, a, id, ctx.PostForm("note")), "note-added"
		}
	case "resolve":
		err, done = c.svc.Resolve(rc, a, id, ctx.PostForm("outcome"), ctx.PostForm("note")), "resolved"
	case "handover":
		err, done = c.svc.HandOver(rc, a, id, ctx.PostForm("team"), ctx.PostForm("note")), "handed-over"
	case "duplicate":
		of, perr := strconv.ParseInt(strings.TrimSpace(ctx.PostForm("of")), 10, 64)
		if perr != nil {
			err = &escalation.InvalidError{Msg: "Choose the escalation this one repeats"}
		} else {
			err, done = c.svc.MarkDuplicate(rc, a, id, of), "closed-as-duplicate"
		}
	case "called":
		err, done = c.svc.Called(rc, a, id, ctx.PostForm("outcome"), ctx.PostForm("note")), "called"
	case "sms":
		err, done = c.svc.SendSMS(rc, a, id, ctx.PostForm("body")), "sms-sent"
	default:
		err = fmt.Errorf("action %q: %w", action, store.ErrNotFound)
	}
	var inv *escalation.InvalidError
	if errors.As(err, &inv) {
		field := actionFields[action]
		if action == "resolve" && ctx.PostForm("outcome") != "" {
			field = "resolve-note"
		}
		if action == "handover" && c.svc.Routing().Team(ctx.PostForm("team")) == nil {
			field = "handover-team"
		}
		form := map[string]string{"action": action}
		for _, k := range []string{"note", "outcome", "team", "of", "body"} {
			form[k] = ctx.PostForm(k)
		}
		c.showEscalation(ctx, http.StatusBadRequest, []formError{{Field: field, Msg: inv.Msg}}, form)
		return
	}
	if err != nil {
		c.fail(ctx, err)
		return
	}
	// After a handover the escalation may no longer be visible: go back to
	// the inbox.
	if action == "handover" && !a.SeesAll() && !slices.Contains(a.Teams, ctx.PostForm("team")) {
		ctx.Redirect(http.StatusSeeOther, "/console/inbox?done="+done)
		return
	}
	ctx.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/escalations/%d?done=%s#top", id, done))
}

type inboxView struct {
	escalation.HandlerInbox
	Q          escalation.HandlerInboxQuery
	AllTeams   []string
	Categories []string
	// Query is the filter as a URL query, for paging and the live script.
	Query string
	Next  int
	Prev  int
}

// FiltersOn counts the filters chosen (search aside), for the summary of
// the filters a phone shows folded.
func (v inboxView) FiltersOn() int {
	n := 0
	for _, on := range []bool{v.Q.Mine, v.Q.Unclaimed, v.Q.Overdue, v.Q.Urgent, v.Q.Closed, v.Q.Team != "", v.Q.Category != ""} {
		if on {
			n++
		}
	}
	return n
}

const inboxPage = 100

func (c *Console) inboxQuery(ctx *gin.Context) escalation.HandlerInboxQuery {
	offset, _ := strconv.Atoi(ctx.Query("offset"))
	search := ctx.Query("q")
	if len(search) > escalation.MaxSearch {
		search = search[:escalation.MaxSearch]
	}
	return escalation.HandlerInboxQuery{Team: ctx.Query("team"), Closed: ctx.Query("closed") == "1", Mine: ctx.Query("mine") == "1",
		Unclaimed: ctx.Query("unclaimed") == "1", Overdue: ctx.Query("overdue") == "1", Urgent: ctx.Query("urgent") == "1",
		Category: clipCategory(ctx.Query("category")), Search: search, Limit: inboxPage, Offset: max(0, min(offset, 1_000_000))}
}

func clipCategory(s string) string {
	if _, ok := categoryWords[s]; ok {
		return s
	}
	return ""
}

func (c *Console) loadInbox(ctx *gin.Context) (inboxView, error) {
	q := c.inboxQuery(ctx)
	in, err := c.svc.HandlerInbox(ctx.Request.Context(), actorOf(ctx), q)
	if err != nil {
		return inboxView{}, err
	}
	v := inboxView{HandlerInbox: in, Q: q, Next: -1, Prev: -1}
	query := ctx.Request.URL.Query()
	query.Del("offset")
	query.Del("done")
	v.Query = query.Encode()
	if len(in.Rows) == inboxPage {
		v.Next = q.Offset + inboxPage
	}
	if q.Offset > 0 {
		v.Prev = max(0, q.Offset-inboxPage)
	}
	vw := ctx.MustGet("viewer").(*viewer)
	v.AllTeams = vw.Teams
	if vw.actor.SeesAll() {
		v.AllTeams = c.svc.Routing().TeamKeys()
	}
	for k := range categoryWords {
		v.Categories = append(v.Categories, k)
	}
	slices.Sort(v.Categories)
	return v, nil
}

func (c *Console) inbox(ctx *gin.Context) {
	v, err := c.loadInbox(ctx)
	var inv *escalation.InvalidError
	if errors.As(err, &inv) {
		c.render(ctx, http.StatusBadRequest, "inbox", page{Title: "Inbox", Error: inv.Msg, Data: v})
		return
	}
	if err != nil {
		c.fail(ctx, err)
		return
	}
	c.render(ctx, http.StatusOK, "inbox", page{Title: inboxTitle(v), Data: v})
}

func inboxTitle(v inboxView) string {
	if n := v.Totals.UrgentUnclaimed; n > 0 {
		return fmt.Sprintf("(%d urgent) Inbox", n)
	}
	return "Inbox"
}

// inboxLive is what static/inbox.js polls: the inbox's rows as the page
// shows them, and the counts, so the page updates without a reload.
func (c *Console) inboxLive(ctx *gin.Context) {
	v, err := c.loadInbox(ctx)
	if err != nil {
		ctx.JSON(http.StatusBadRequest, gin.H{"error": "not available"})
		return
	}
	var buf bytes.Buffer
	p := page{Now: c.svc.Now(), Data: v}
	if vw, ok := ctx.Get("viewer"); ok {
		p.User = vw.(*viewer)
	}
	if err := c.pages["inbox"].ExecuteTemplate(&buf, "rows", p); err != nil {
		c.logger.Error("console inbox rows failed", "error", err)
		ctx.JSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
		return
	}
	ctx.JSON(http.StatusOK, gin.H{"html": buf.String(), "title": inboxTitle(v) + " – Protect",
		"urgent_unclaimed": v.Totals.UrgentUnclaimed, "open": v.Totals.Open, "rows": len(v.Rows)})
}
