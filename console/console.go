// Package console is the handlers' web application, served at /console:
// log in, a team inbox by priority and age, an escalation's needs and
// history with claim, note, resolve, hand over and duplicate, a patient's
// whole timeline with the contact ledger, the audit log for admins, and
// the campaigns with their state and warnings for admins and programme
// leads.
// Pages are rendered on the server from embedded templates and work
// without JavaScript. Every access and action goes through the escalation service,
// which scopes it to the user's teams and audits it.
//
// Comms leads, programme leads and admins also get the template editor
// (templates.go): the list, an editor with a live report, history, diff,
// approval and test sends, all through templateadmin.Service. Its one
// same-origin script (static/editor.js) only updates the report as the
// body is typed; every form also works without it.
package console

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Cookie names and lifetimes.
const (
	sessionCookie = "protect_session"
	loginCookie   = "protect_login"
	sessionTTL    = 12 * time.Hour
	// DefaultSessionIdle ends a session unused for this long
	// (PROTECT_SESSION_IDLE).
	DefaultSessionIdle = 30 * time.Minute
	// BcryptCost is the cost of password hashes made by HashPassword.
	BcryptCost = 12
	// MinPasswordLength is the shortest password accepted.
	MinPasswordLength = 12
)

// HashPassword hashes a password for storage, refusing short ones.
func HashPassword(password string) ([]byte, error) {
	if len(password) < MinPasswordLength {
		return nil, fmt.Errorf("password: at least %d characters", MinPasswordLength)
	}
	if len(password) > 72 {
		return nil, errors.New("password: at most 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// dummyHash is compared against when a user name is unknown, so a failed
// log-in takes as long whether or not the name exists.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a real password, never matches"), BcryptCost)

// Options build a Console.
type Options struct {
	Service *escalation.Service
	Store   *store.Store
	// Templates, when set, serves the template editor.
	Templates *templateadmin.Service
	// SessionKey signs CSRF tokens (PROTECT_SESSION_KEY); random when
	// empty.
	SessionKey string
	// SecureCookies marks cookies Secure (served over HTTPS).
	SecureCookies bool
	// Location shows times; default Europe/London.
	Location *time.Location
	Logger   *slog.Logger
	// Redis counts failed log-ins to throttle them; nil: no throttling.
	Redis *redis.Client
	// Sandbox shows on every page that no real message is sent.
	Sandbox bool
	// SessionIdle ends a session not used for this long; default 30
	// minutes. Sessions also end 12 hours after log-in.
	SessionIdle time.Duration
	// Engine, when set, serves the campaign pages (campaigns.go).
	Engine *outreach.Engine
	// ReportMaxAge bounds how old the campaign figures a page shows may
	// be before the page computes them itself; default twice
	// ReportRefresh, at least DefaultReportMaxAge.
	ReportMaxAge time.Duration
	// ReportRefresh is how often the workers recompute the stored figures
	// of active campaigns (PROTECT_REPORT_REFRESH; default
	// outreach.ReportRefreshEvery). An open campaign page fetches them
	// about twice as often (campaign.js), and says how old they are.
	ReportRefresh time.Duration
}

// Console serves /console.
type Console struct {
	svc    *escalation.Service
	tpl    *templateadmin.Service
	store  *store.Store
	key    []byte
	secure bool
	loc    *time.Location
	logger *slog.Logger
	pages  map[string]*template.Template
	// throttle refuses log-ins after too many failures.
	throttle *throttle
	sandbox  bool
	idle     time.Duration
	engine   *outreach.Engine
	// reportAge bounds the age of campaign figures shown.
	reportAge time.Duration
	// reportRefresh is how often the workers refresh them.
	reportRefresh time.Duration
}

// New builds the console and parses its templates.
func New(o Options) (*Console, error) {
	key := []byte(o.SessionKey)
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("console key: %w", err)
		}
	}
	if o.Location == nil {
		loc, err := time.LoadLocation("Europe/London")
		if err != nil {
			loc = time.UTC
		}
		o.Location = loc
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = DefaultSessionIdle
	}
	c := &Console{svc: o.Service, tpl: o.Templates, store: o.Store, key: key, secure: o.SecureCookies, loc: o.Location,
		logger: o.Logger.With("component", "console"), pages: map[string]*template.Template{}, sandbox: o.Sandbox,
		idle: min(o.SessionIdle, sessionTTL), engine: o.Engine, reportAge: o.ReportMaxAge, reportRefresh: o.ReportRefresh}
	if c.reportRefresh <= 0 {
		c.reportRefresh = outreach.ReportRefreshEvery
	}
	if c.reportAge <= 0 {
		c.reportAge = max(DefaultReportMaxAge, 2*c.reportRefresh)
	}
	if o.Redis != nil {
		c.throttle = &throttle{rdb: o.Redis, logger: c.logger}
	}
	funcs := template.FuncMap{
		"when": func(t time.Time) string { return t.In(c.loc).Format("Mon 2 Jan 2006 15:04") },
		"whenp": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.In(c.loc).Format("Mon 2 Jan 15:04")
		},
		"teamName": func(k string) string { return c.svc.Routing().TeamName(k) },
		"overdue":  func(e store.Escalation, now time.Time) bool { return e.Overdue(now) },
		"nhs": func(n string) string {
			if len(n) != 10 {
				return n
			}
			return n[:3] + " " + n[3:6] + " " + n[6:]
		},
	}
	for k, f := range templateFuncs {
		funcs[k] = f
	}
	for k, f := range c.handlerFuncs() {
		funcs[k] = f
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(assets, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", n, err)
		}
		c.pages[base] = t
	}
	return c, nil
}

// Register mounts the console on /console. An unknown path under it gets
// the console's own "not found" page (with the sandbox banner).
func (c *Console) Register(r *gin.Engine) {
	r.NoRoute(func(ctx *gin.Context) {
		if !strings.HasPrefix(ctx.Request.URL.Path, "/console/") {
			ctx.JSON(http.StatusNotFound, gin.H{"error": "not found"})
			return
		}
		headers(ctx)
		c.render(ctx, http.StatusNotFound, "error", page{Title: "Not found", Error: "There is nothing here that you can see."})
	})
	g := r.Group("/console", headers)
	g.GET("/static/*file", c.static)
	g.GET("/login", c.loginForm)
	g.POST("/login", c.checkOrigin, c.login)
	a := g.Group("", c.authenticate, c.checkOrigin, c.checkCSRF)
	a.POST("/logout", c.logout)
	a.GET("", c.home)
	a.GET("/", c.home)
	a.GET("/inbox", c.inbox)
	a.GET("/inbox/live", c.inboxLive)
	a.GET("/escalations/:id", c.escalationPage)
	a.POST("/escalations/:id/:action", c.escalationAction)
	a.GET("/patients/:id", c.patient)
	a.POST("/patients/:id/contacts", c.recordContact)
	a.GET("/audit", c.audit)
	if c.tpl != nil {
		c.registerTemplates(a)
	}
	c.registerAccounts(a)
	if c.engine != nil {
		c.registerCampaigns(a)
	}
}

// landing is where a user of role lands after logging in.
func (c *Console) landing(role string) string {
	switch {
	case c.engine != nil && role == store.RoleProgrammeLead:
		return "/console/campaigns"
	case c.tpl != nil && role == store.RoleCommsLead:
		return "/console/templates" // comms leads have no inbox
	}
	return "/console/inbox"
}

func (c *Console) home(ctx *gin.Context) {
	ctx.Redirect(http.StatusSeeOther, c.landing(ctx.MustGet("viewer").(*viewer).Role))
}

// headers sets the security headers of every console response.
func headers(ctx *gin.Context) {
	h := ctx.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	ctx.Next()
}

func (c *Console) static(ctx *gin.Context) {
	name := strings.TrimPrefix(ctx.Param("file"), "/")
	b, err := assets.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		ctx.Status(http.StatusNotFound)
		return
	}
	ctx.Header("Cache-Control", "public, max-age=3600")
	kind := "text/css; charset=utf-8"
	if strings.HasSuffix(name, ".js") {
		kind = "text/javascript; charset=utf-8"
	}
	ctx.Data(http.StatusOK, kind, b)
}

// viewer is the logged-in user as pages see them.
type viewer struct {
	Name  string
	Role  string
	Teams []string
	// Templates shows the template editor in the menu.
	Templates bool
	// Campaigns shows the campaign pages in the menu.
	Campaigns bool
	actor     escalation.Actor
	csrf      string
}

// page is what every template receives.
type page struct {
	Title string
	User  *viewer
	CSRF  string
	Flash string
	Error string
	Now   time.Time
	Data  any
	// Sandbox shows the sandbox banner.
	Sandbox bool
	// Held are the senders whose sending is held by an account or
	// gateway fault: every signed-in page says so until it is fixed.
	Held []store.SenderHold
}

func (c *Console) render(ctx *gin.Context, status int, name string, p page) {
	if v, ok := ctx.Get("viewer"); ok {
		p.User = v.(*viewer)
		p.CSRF = p.User.csrf
	}
	p.Now = c.svc.Now()
	p.Sandbox = c.sandbox
	if p.User != nil && c.store != nil {
		held, err := c.store.HeldSenders(ctx.Request.Context())
		if err != nil {
			c.logger.Warn("could not read held senders for the banner", "error", err)
		}
		p.Held = held
	}
	if f := ctx.Query("done"); f != "" && p.Flash == "" && len(f) < 40 {
		p.Flash = flashText(f)
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.logger.Error("console template failed", "page", name, "error", err)
		ctx.String(http.StatusInternalServerError, "internal error")
		return
	}
	ctx.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// fail shows an error page for err: not found, forbidden, a conflict, a
// request to correct, or an internal error (logged, not shown).
func (c *Console) fail(ctx *gin.Context, err error) {
	var inv *escalation.InvalidError
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.render(ctx, http.StatusNotFound, "error", page{Title: "Not found", Error: "There is nothing here that you can see."})
	case errors.Is(err, escalation.ErrForbidden):
		c.render(ctx, http.StatusForbidden, "error", page{Title: "Not allowed", Error: "Your role may not do this."})
	case errors.Is(err, store.ErrEscalationState):
		c.render(ctx, http.StatusConflict, "error", page{Title: "Already changed",
			Error: "Someone else changed this escalation first. Go back and reload it."})
	case errors.As(err, &inv):
		c.render(ctx, http.StatusBadRequest, "error", page{Title: "Please check", Error: inv.Msg})
	default:
		c.logger.Error("console request failed", "route", ctx.FullPath(), "error", err)
		c.render(ctx, http.StatusInternalServerError, "error", page{Title: "Something went wrong", Error: "Something went wrong. Please try again."})
	}
}

func (c *Console) mac(parts ...string) string {
	m := hmac.New(sha256.New, c.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (c *Console) setCookie(ctx *gin.Context, name, value, path string, maxAge int) {
	http.SetCookie(ctx.Writer, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure || ctx.Request.TLS != nil, SameSite: http.SameSiteStrictMode})
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkOrigin refuses cross-site form posts where the browser says where
// they come from (SameSite cookies and CSRF tokens are the main defence).
func (c *Console) checkOrigin(ctx *gin.Context) {
	if ctx.Request.Method != http.MethodPost {
		ctx.Next()
		return
	}
	if o := ctx.GetHeader("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != ctx.Request.Host {
			c.render(ctx, http.StatusForbidden, "error", page{Title: "Not allowed", Error: "This form was sent from another site."})
			ctx.Abort()
			return
		}
	}
	ctx.Next()
}

func (c *Console) checkCSRF(ctx *gin.Context) {
	if ctx.Request.Method != http.MethodPost {
		ctx.Next()
		return
	}
	v := ctx.MustGet("viewer").(*viewer)
	if !hmac.Equal([]byte(ctx.PostForm("csrf")), []byte(v.csrf)) {
		c.svc.Audit(ctx.Request.Context(), v.actor, "csrf.refused", "console", 0, map[string]any{"path": ctx.Request.URL.Path})
		c.render(ctx, http.StatusForbidden, "error", page{Title: "Form expired", Error: "This form has expired. Go back, reload the page and try again."})
		ctx.Abort()
		return
	}
	ctx.Next()
}

func (c *Console) loginForm(ctx *gin.Context) {
	nonce := randomToken()
	c.setCookie(ctx, loginCookie, nonce, "/console/login", 600)
	c.render(ctx, http.StatusOK, "login", page{Title: "Log in", CSRF: c.mac("login", nonce), Data: ctx.Query("next")})
}

func (c *Console) login(ctx *gin.Context) {
	nonce, err := ctx.Cookie(loginCookie)
	if err != nil || !hmac.Equal([]byte(ctx.PostForm("csrf")), []byte(c.mac("login", nonce))) {
		c.render(ctx, http.StatusForbidden, "error", page{Title: "Form expired", Error: "The log-in form expired. Please open it again."})
		return
	}
	name, password := strings.TrimSpace(ctx.PostForm("name")), ctx.PostForm("password")
	if c.refuseLocked(ctx, name) {
		return
	}
	u, err := c.store.UserByName(ctx.Request.Context(), name)
	hash := dummyHash
	if err == nil {
		hash = u.PasswordHash
	} else if !errors.Is(err, store.ErrNotFound) {
		c.fail(ctx, err)
		return
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	remote := ctx.ClientIP()
	if err != nil || !match || u.Disabled {
		c.svc.Audit(ctx.Request.Context(), escalation.Actor{Name: "anonymous", RemoteAddr: remote}, "login.failed", "user", 0,
			map[string]any{"name": clip.Text(name, 64)})
		if !c.countFailure(ctx, name) {
			c.loginRefused(ctx, http.StatusUnauthorized, "The user name or password is not right.")
		}
		return
	}
	if err := c.throttle.succeeded(ctx.Request.Context(), name); err != nil {
		c.logger.Error("login throttle not reset", "error", err)
	}
	secret := randomToken()
	if err := c.store.CreateSession(ctx.Request.Context(), secret, u.ID, c.svc.Now().Add(sessionTTL)); err != nil {
		c.fail(ctx, err)
		return
	}
	c.setCookie(ctx, loginCookie, "", "/console/login", -1)
	c.setCookie(ctx, sessionCookie, secret, "/console", int(sessionTTL.Seconds()))
	c.svc.Audit(ctx.Request.Context(), escalation.Actor{Name: "user:" + u.Name, Role: u.Role, RemoteAddr: remote}, "login", "user", u.ID, nil)
	next := ctx.PostForm("next")
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		next = c.landing(u.Role)
	}
	ctx.Redirect(http.StatusSeeOther, next)
}

func (c *Console) authenticate(ctx *gin.Context) {
	secret, err := ctx.Cookie(sessionCookie)
	var u store.User
	if err == nil && secret != "" {
		u, err = c.store.SessionUser(ctx.Request.Context(), secret, c.svc.Now(), c.idle)
	}
	if err != nil || secret == "" {
		if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, http.ErrNoCookie) {
			c.fail(ctx, err)
			ctx.Abort()
			return
		}
		if ctx.Request.Method == http.MethodGet {
			ctx.Redirect(http.StatusSeeOther, "/console/login?next="+url.QueryEscape(ctx.Request.URL.RequestURI()))
		} else {
			c.render(ctx, http.StatusUnauthorized, "error", page{Title: "Logged out", Error: "Your session has ended. Please log in again."})
		}
		ctx.Abort()
		return
	}
	teams := slices.Clone(u.Teams)
	for _, t := range c.svc.Routing().TeamsOf(u.Name) {
		if !slices.Contains(teams, t) {
			teams = append(teams, t)
		}
	}
	slices.Sort(teams)
	v := &viewer{Name: u.Name, Role: u.Role, Teams: teams, csrf: c.mac("csrf", secret),
		Templates: c.tpl != nil && templateadmin.CanRead(u.Role),
		Campaigns: c.engine != nil && isLead(u.Role),
		actor:     escalation.Actor{Name: "user:" + u.Name, Role: u.Role, Teams: teams, RemoteAddr: ctx.ClientIP()}}
	ctx.Set("viewer", v)
	ctx.Next()
}

func actorOf(ctx *gin.Context) escalation.Actor { return ctx.MustGet("viewer").(*viewer).actor }

func (c *Console) logout(ctx *gin.Context) {
	if secret, err := ctx.Cookie(sessionCookie); err == nil {
		if err := c.store.DeleteSession(ctx.Request.Context(), secret); err != nil {
			c.fail(ctx, err)
			return
		}
	}
	c.svc.Audit(ctx.Request.Context(), actorOf(ctx), "logout", "user", 0, nil)
	c.setCookie(ctx, sessionCookie, "", "/console", -1)
	ctx.Redirect(http.StatusSeeOther, "/console/login")
}

func idParam(ctx *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(ctx.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("id %q: %w", ctx.Param("id"), store.ErrNotFound)
	}
	return id, nil
}

type patientData struct {
	escalation.PatientPage
	Lines    []threadLine
	Teams    []string
	Methods  []string
	Outcomes []string
	// Errors and Form are a refused contact's problems and what was typed.
	Errors []formError
	Form   map[string]string
}

func (c *Console) patient(ctx *gin.Context) {
	c.showPatient(ctx, http.StatusOK, nil, nil)
}

// showPatient renders the patient page, with a refused contact's errors
// and values when there are some.
func (c *Console) showPatient(ctx *gin.Context, status int, errs []formError, form map[string]string) {
	id, err := idParam(ctx)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	a := actorOf(ctx)
	v, err := c.svc.PatientPage(ctx.Request.Context(), a, id)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	teams := a.Teams
	if a.SeesAll() {
		teams = c.svc.Routing().TeamKeys()
	}
	title := v.Patient.GivenName + " " + v.Patient.FamilyName
	if len(errs) > 0 {
		title = "Error: " + title
	}
	c.render(ctx, status, "patient", page{Title: title, Data: patientData{PatientPage: v,
		Lines: c.threadLines(v.Thread), Teams: teams, Methods: store.ContactMethods, Outcomes: store.ContactOutcomes,
		Errors: errs, Form: form}})
}

// contactFields says which box of the contact form a problem, named by
// its first word ("team: ..."), points to.
var contactFields = map[string]string{"team": "contact-team", "method": "contact-method", "outcome": "contact-outcome", "note": "contact-note"}

// contactError is a refused contact's problem as the error summary shows
// it: a sentence, linked to its box.
func contactError(msg string) formError {
	field := "contact-team"
	if k, _, ok := strings.Cut(msg, ":"); ok && contactFields[k] != "" {
		field = contactFields[k]
	}
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return formError{Field: field, Msg: msg}
}

func (c *Console) recordContact(ctx *gin.Context) {
	id, err := idParam(ctx)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	in := escalation.ContactInput{Team: ctx.PostForm("team"), Method: ctx.PostForm("method"), Outcome: ctx.PostForm("outcome"),
		Note: ctx.PostForm("note"), Shared: ctx.PostForm("shared") == "1"}
	_, err = c.svc.RecordContact(ctx.Request.Context(), actorOf(ctx), id, in)
	if inv := (*escalation.InvalidError)(nil); errors.As(err, &inv) {
		form := map[string]string{"team": in.Team, "method": in.Method, "outcome": in.Outcome, "note": in.Note,
			"shared": ctx.PostForm("shared")}
		c.showPatient(ctx, http.StatusBadRequest, []formError{contactError(inv.Msg)}, form)
		return
	}
	if err != nil {
		c.fail(ctx, err)
		return
	}
	ctx.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/patients/%d?done=contact-recorded", id))
}

type auditData struct {
	Entries []store.AuditEntry
	Actor   string
	Action  string
	Patient string
	Next    int64
}

func (c *Console) audit(ctx *gin.Context) {
	q := store.AuditQuery{Actor: ctx.Query("actor"), Action: ctx.Query("action"), Limit: 200}
	if p, err := strconv.ParseInt(ctx.Query("patient"), 10, 64); err == nil {
		q.PatientID = &p
	}
	q.Before, _ = strconv.ParseInt(ctx.Query("before"), 10, 64)
	entries, err := c.svc.AuditLog(ctx.Request.Context(), actorOf(ctx), q)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	d := auditData{Entries: entries, Actor: q.Actor, Action: q.Action, Patient: ctx.Query("patient")}
	if len(entries) == q.Limit {
		d.Next = entries[len(entries)-1].ID
	}
	c.render(ctx, http.StatusOK, "audit", page{Title: "Audit log", Data: d})
}
