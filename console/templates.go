package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
	"github.com/protectnow/protect/templates"
)

// registerTemplates mounts the template editor on the authenticated group
// (session, same-origin and CSRF checks). Roles are checked by
// templateadmin.Service, so the console and the JSON API follow the same
// rules.
//
//	GET  /console/templates                          list, filtered by purpose, channel, language
//	GET  /console/templates/:id                      editor, report, history (?version=N edits from N)
//	POST /console/templates/:id                      the editor form: action=preview|gsm|save|submit|test
//	POST /console/templates/:id/check                JSON report for the body being typed (editor.js)
//	GET  /console/templates/:id/diff?from=N&to=M     line and word diff
//	POST /console/templates/:id/versions/:v/:action  submit, approve, reject, revert
//
// and the test phones page (testphones.go).
func (c *Console) registerTemplates(g *gin.RouterGroup) {
	g.GET("/templates", c.templateList)
	g.GET("/templates/:id", c.templateEdit)
	g.POST("/templates/:id", c.templatePost)
	g.POST("/templates/:id/check", c.templateCheck)
	g.GET("/templates/:id/diff", c.templateDiff)
	g.POST("/templates/:id/versions/:v/:action", c.templateVersionAction)
	c.registerTestPhones(g)
}

// templateFuncs are the helpers the template pages use.
var templateFuncs = template.FuncMap{
	"seconds": func(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) },
	"isLive":  func(live *int, v int) bool { return live != nil && *live == v },
	"liveNum": func(live *int) string {
		if live == nil {
			return "none"
		}
		return strconv.Itoa(*live)
	},
	"minus": func(a, b int) int { return a - b },
	"deref": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
}

func templateActor(ctx *gin.Context) templateadmin.Actor {
	v := ctx.MustGet("viewer").(*viewer)
	return templateadmin.Actor{Name: v.actor.Name, Role: v.Role}
}

// templateMessage is what a person reads for an error of the service,
// with its status; unexpected errors are logged and not shown.
func (c *Console) templateMessage(ctx *gin.Context, err error) (int, string) {
	status := templateadmin.Status(err)
	if status == http.StatusTooManyRequests {
		ctx.Header("Retry-After", "600")
	}
	var phoneErr *templateadmin.PhoneError
	if errors.As(err, &phoneErr) {
		return status, sentence(phoneErr.Msg)
	}
	// These say what to do; the wrapping around them is for logs.
	for _, known := range []error{templateadmin.ErrNotVerified, templateadmin.ErrCodeWrong, store.ErrCodeExpired,
		templateadmin.ErrTooManyCodes, templateadmin.ErrRateLimited, templateadmin.ErrTestUnavailable} {
		if errors.Is(err, known) {
			return status, sentence(known.Error())
		}
	}
	switch {
	case errors.Is(err, templateadmin.ErrInvalid):
		return status, "The template cannot be saved as it is: see the problems below."
	case errors.Is(err, templateadmin.ErrSelfApproval):
		return status, "You wrote this version, so someone else must approve it: " + templateadmin.ErrSelfApproval.Error() + "."
	case errors.Is(err, templateadmin.ErrForbidden):
		return status, "Your role may not do this."
	case errors.Is(err, store.ErrNotFound):
		return status, "There is nothing here that you can see."
	case errors.Is(err, store.ErrVersionState), errors.Is(err, store.ErrDuplicate):
		return status, "This version has already been changed (by someone else, or in another tab). Reload the page to see where it stands."
	}
	c.logger.Error("console template request failed", "route", ctx.FullPath(), "error", err)
	return http.StatusInternalServerError, "Something went wrong. Please try again."
}

// templateFail shows the error page for err.
func (c *Console) templateFail(ctx *gin.Context, err error) {
	status, msg := c.templateMessage(ctx, err)
	title := map[int]string{http.StatusNotFound: "Not found", http.StatusForbidden: "Not allowed",
		http.StatusConflict: "Already changed"}[status]
	if title == "" {
		title = "Something went wrong"
	}
	c.render(ctx, status, "error", page{Title: title, Error: msg})
}

type templateListData struct {
	// Groups are the templates by purpose, in the order of
	// templates.Purposes.
	Groups    []templateGroup
	Filter    store.TemplateFilter
	Purposes  []templates.Purpose
	Channels  []templates.Channel
	Languages []string
	Rights    templateadmin.Rights
}

type templateGroup struct {
	Purpose   string
	Templates []store.Template
}

func (c *Console) templateList(ctx *gin.Context) {
	a := templateActor(ctx)
	f := store.TemplateFilter{Purpose: ctx.Query("purpose"), Channel: ctx.Query("channel"), Language: ctx.Query("language")}
	all, err := c.tpl.List(ctx.Request.Context(), a, store.TemplateFilter{})
	if err != nil {
		c.templateFail(ctx, err)
		return
	}
	d := templateListData{Filter: f, Purposes: templates.Purposes(), Channels: []templates.Channel{templates.ChannelSMS, templates.ChannelVoice}}
	if d.Rights, err = c.tpl.Rights(ctx.Request.Context(), a); err != nil {
		c.templateFail(ctx, err)
		return
	}
	// Filtering the full list here saves a second query: there are tens of
	// templates, not thousands.
	byPurpose := map[string][]store.Template{}
	for _, t := range all {
		if !slices.Contains(d.Languages, t.Language) {
			d.Languages = append(d.Languages, t.Language)
		}
		if (f.Purpose == "" || t.Purpose == f.Purpose) && (f.Channel == "" || t.Channel == f.Channel) &&
			(f.Language == "" || t.Language == f.Language) {
			byPurpose[t.Purpose] = append(byPurpose[t.Purpose], t)
		}
	}
	slices.Sort(d.Languages)
	for _, p := range d.Purposes {
		if ts := byPurpose[string(p)]; len(ts) > 0 {
			d.Groups = append(d.Groups, templateGroup{Purpose: string(p), Templates: ts})
			delete(byPurpose, string(p))
		}
	}
	for p, ts := range byPurpose { // purposes unknown to this build, last
		d.Groups = append(d.Groups, templateGroup{Purpose: p, Templates: ts})
	}
	c.render(ctx, http.StatusOK, "template_list", page{Title: "Templates", Data: d})
}

// editData is what the editor page shows.
type editData struct {
	templateadmin.Detail
	// Body is in the text box, Note in the note box; From is the version
	// the body was loaded from (0 when it was typed or posted).
	Body   string
	Note   string
	From   int
	Report templateadmin.Report
	// Viewer is the actor name, to hide approval of one's own versions.
	Viewer string
	// TestPhones are the viewer's verified phones, the only ones a test
	// may go to.
	TestPhones []store.TestPhone
	// Test is the last test send's form and result.
	TestTo      string
	TestVersion int
	TestResult  *templateadmin.TestResult
	TestError   string
}

// showEditor renders the editor with status; fill, when not nil, sets the
// body and test fields before the report is made for the body.
func (c *Console) showEditor(ctx *gin.Context, id int64, status int, msg string, fill func(*editData)) {
	a := templateActor(ctx)
	det, err := c.tpl.Show(ctx.Request.Context(), a, id)
	if err != nil {
		c.templateFail(ctx, err)
		return
	}
	d := editData{Detail: det, Viewer: a.Name}
	if len(det.Versions) > 0 {
		from := det.Versions[0] // newest: carry on with a waiting draft
		if n, err := strconv.Atoi(ctx.Query("version")); err == nil {
			for _, v := range det.Versions {
				if v.Version == n {
					from = v
				}
			}
		}
		d.Body, d.From = from.Body, from.Version
	}
	if det.Rights.Write {
		ps, err := c.tpl.TestPhones(ctx.Request.Context(), a)
		if err != nil {
			c.templateFail(ctx, err)
			return
		}
		for _, p := range ps {
			if p.Verified {
				d.TestPhones = append(d.TestPhones, p)
			}
		}
	}
	if fill != nil {
		fill(&d)
	}
	if d.Report, err = c.tpl.Check(ctx.Request.Context(), a, id, d.Body); err != nil {
		c.templateFail(ctx, err)
		return
	}
	t := det.Template
	c.render(ctx, status, "template_edit", page{Title: fmt.Sprintf("Template %s (%s, %s)", t.Key, t.Channel, t.Language),
		Error: msg, Data: d})
}

func (c *Console) templateEdit(ctx *gin.Context) {
	id, err := idParam(ctx)
	if err != nil {
		c.templateFail(ctx, err)
		return
	}
	c.showEditor(ctx, id, http.StatusOK, "", nil)
}

// templatePost handles the editor form: its buttons say what to do with
// the body in the text box.
func (c *Console) templatePost(ctx *gin.Context) {
	id, err := idParam(ctx)
	if err != nil {
		c.templateFail(ctx, err)
		return
	}
	a, rctx := templateActor(ctx), ctx.Request.Context()
	body := strings.ReplaceAll(ctx.PostForm("body"), "\r\n", "\n") // browsers send CRLF
	fill := func(d *editData) {
		d.Body, d.From, d.Note = body, 0, ctx.PostForm("note")
		d.TestTo = ctx.PostForm("test_to")
		d.TestVersion, _ = strconv.Atoi(ctx.PostForm("test_version"))
	}
	switch action := ctx.PostForm("action"); action {
	case "preview":
		c.showEditor(ctx, id, http.StatusOK, "", fill)
	case "gsm":
		// The one-click replacement without JavaScript: the same body
		// with GSM characters for the ones that forced Unicode.
		rep, err := c.tpl.Check(rctx, a, id, body)
		if err != nil {
			c.templateFail(ctx, err)
			return
		}
		if rep.SMS != nil && rep.SMS.GSMBody != "" {
			body = rep.SMS.GSMBody
		}
		c.showEditor(ctx, id, http.StatusOK, "", fill)
	case "save", "submit":
		v, _, err := c.tpl.SaveDraft(rctx, a, id, templateadmin.Draft{Body: body, Note: ctx.PostForm("note"), Submit: action == "submit"})
		if err != nil {
			status, msg := c.templateMessage(ctx, err)
			c.showEditor(ctx, id, status, msg, fill)
			return
		}
		done := "saved-as-draft"
		if action == "submit" {
			done = "submitted-for-approval"
		}
		ctx.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/templates/%d?done=%s&version=%d", id, done, v.Version))
	case "test":
		version, _ := strconv.Atoi(ctx.PostForm("test_version"))
		res, err := c.tpl.SendTest(rctx, a, id, templateadmin.TestRequest{To: ctx.PostForm("test_to"), Version: version, Body: body})
		status, msg := http.StatusOK, ""
		if err != nil {
			status, msg = c.templateMessage(ctx, err)
		}
		c.showEditor(ctx, id, status, "", func(d *editData) {
			fill(d)
			if err != nil {
				d.TestError = msg
				var inv *templateadmin.InvalidError
				if errors.As(err, &inv) {
					d.TestError = problemsText(inv)
				}
			} else {
				d.TestResult = &res
			}
		})
	default:
		c.templateFail(ctx, fmt.Errorf("template form action %q: %w", action, store.ErrNotFound))
	}
}

// templateCheck is the live report: editor.js posts the body as it is
// typed (with the CSRF token as a form field) and shows the HTML of the
// report panel, rendered by the same template as the page.
func (c *Console) templateCheck(ctx *gin.Context) {
	id, err := idParam(ctx)
	if err != nil {
		ctx.JSON(http.StatusNotFound, gin.H{"error": "no such template"})
		return
	}
	body := strings.ReplaceAll(ctx.PostForm("body"), "\r\n", "\n")
	rep, err := c.tpl.Check(ctx.Request.Context(), templateActor(ctx), id, body)
	if err != nil {
		status, msg := c.templateMessage(ctx, err)
		ctx.JSON(status, gin.H{"error": msg})
		return
	}
	var buf bytes.Buffer
	if err := c.pages["template_edit"].ExecuteTemplate(&buf, "report", rep); err != nil {
		c.logger.Error("console template failed", "page", "report", "error", err)
		ctx.JSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
		return
	}
	ctx.JSON(http.StatusOK, gin.H{"report": rep, "html": buf.String()})
}

type diffData struct {
	templateadmin.Detail
	Diff     templateadmin.Diff
	From, To int
}

func (c *Console) templateDiff(ctx *gin.Context) {
	id, err := idParam(ctx)
	if err != nil {
		c.templateFail(ctx, err)
		return
	}
	a := templateActor(ctx)
	det, err := c.tpl.Show(ctx.Request.Context(), a, id)
	if err != nil {
		c.templateFail(ctx, err)
		return
	}
	d := diffData{Detail: det}
	// By default: the newest version against the live one (or the one
	// before it).
	if len(det.Versions) > 0 {
		d.To = det.Versions[0].Version
		d.From = max(1, d.To-1)
		if det.Live != nil && det.Live.Version != d.To {
			d.From = det.Live.Version
		}
	}
	if n, err := strconv.Atoi(ctx.Query("from")); err == nil {
		d.From = n
	}
	if n, err := strconv.Atoi(ctx.Query("to")); err == nil {
		d.To = n
	}
	if d.Diff, err = c.tpl.Diff(ctx.Request.Context(), a, id, d.From, d.To); err != nil {
		c.templateFail(ctx, err)
		return
	}
	t := det.Template
	c.render(ctx, http.StatusOK, "template_diff", page{Title: fmt.Sprintf("Changes to %s (%s, %s)", t.Key, t.Channel, t.Language), Data: d})
}

// templateVersionAction submits, approves, rejects or reverts to a
// version, then shows the editor again.
func (c *Console) templateVersionAction(ctx *gin.Context) {
	id, err := idParam(ctx)
	if err != nil {
		c.templateFail(ctx, err)
		return
	}
	v, err := strconv.Atoi(ctx.Param("v"))
	if err != nil || v <= 0 {
		c.templateFail(ctx, fmt.Errorf("version %q: %w", ctx.Param("v"), store.ErrNotFound))
		return
	}
	action := ctx.Param("action")
	out, err := c.tpl.VersionAction(ctx.Request.Context(), templateActor(ctx), id, v, action, ctx.PostForm("note"))
	if err != nil {
		status, msg := c.templateMessage(ctx, err)
		if status == http.StatusNotFound {
			c.templateFail(ctx, err)
			return
		}
		c.showEditor(ctx, id, status, msg, nil)
		return
	}
	done := map[string]string{"submit": "submitted", "approve": "approved-and-live", "reject": "rejected",
		"revert": "reverted-pending-approval"}[action]
	ctx.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/templates/%d?done=%s&version=%d", id, url.QueryEscape(done), out.Version))
}

// problemsText says in one line why a test cannot be sent.
func problemsText(inv *templateadmin.InvalidError) string {
	return "Not sent: " + strings.TrimPrefix(inv.Error(), "template cannot be saved: ") + "."
}
