package templateadmin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twilio/twilio-go"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	"github.com/twilio/twilio-go/twiml"

	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/ratelimit"
	"github.com/protectnow/protect/redact"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templates"
)

// Errors the service returns; the API and the console map them to
// statuses and messages.
var (
	// ErrForbidden: the actor's role (or missing approver right) does not
	// allow the action.
	ErrForbidden = errors.New("you may not do this")
	// ErrSelfApproval: nobody approves a version they wrote.
	ErrSelfApproval = errors.New("a version must be approved by someone other than its author")
	// ErrInvalid is matched by *InvalidError and *PhoneError.
	ErrInvalid = errors.New("template cannot be saved")
	// ErrRateLimited: too many test messages; try again later.
	ErrRateLimited = errors.New("too many test messages: try again in a few minutes")
	// ErrTestUnavailable: the service has no Twilio client or sender.
	ErrTestUnavailable = errors.New("test messages are not configured on this gateway")
)

// Status is the HTTP status for an error of the service, as doc.go lists
// them, so the JSON API and the console answer alike; 500 for others.
func Status(err error) int {
	var invalid *InvalidError
	switch {
	case errors.As(err, &invalid), errors.Is(err, ErrInvalid):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrSelfApproval), errors.Is(err, ErrNotVerified):
		return http.StatusForbidden
	case errors.Is(err, ErrCodeWrong), errors.Is(err, store.ErrCodeExpired):
		return http.StatusUnprocessableEntity
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrVersionState), errors.Is(err, store.ErrDuplicate):
		return http.StatusConflict
	case errors.Is(err, ErrRateLimited), errors.Is(err, ErrTooManyCodes):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrTestUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// CanRead reports whether a role may read templates (Rights.Read), for a
// menu that must not ask the database on every page.
func CanRead(role string) bool {
	return slices.Contains([]string{store.RoleAdmin, store.RoleProgrammeLead, store.RoleCommsLead}, role)
}

// Actor is who asks: the name audit entries carry ("token:NAME" for API
// tokens, "user:NAME" for console users) and their role (store.Role*).
type Actor struct {
	Name string
	Role string
}

// Options build a Service.
type Options struct {
	Store *store.Store
	// Texts, when the gateway uses it, is told to reload after approvals
	// and pin changes, so this process sends the new text at once.
	Texts *DBTexts
	// Limits for warnings.
	Limits Limits
	// Twilio and TestSender (an E.164 number or messaging service SID)
	// send test messages and calls; without them SendTest returns
	// ErrTestUnavailable.
	Twilio     *twilio.RestClient
	TestSender string
	// Phones parses test numbers (AllowTestNumbers for the sandbox).
	Phones phone.Parser
	// Limiter, when set, shares the test-message rate limit across
	// processes; otherwise it is kept in this process.
	Limiter *ratelimit.Limiter
	// TestsPerHour is how many test messages one actor may send in an
	// hour (with all of them allowed at once); default 20.
	TestsPerHour int
	// CodesPerHour is how many phone verification codes one actor may
	// have sent in an hour; default 5.
	CodesPerHour int
	Logger       *slog.Logger
}

// Service is every operation of the template editor: the JSON API and the
// console call it, and it checks roles, validates, audits and keeps the
// text cache fresh. It is safe for concurrent use.
type Service struct {
	o     Options
	mu    sync.Mutex
	tests map[string][]time.Time // rate key -> recent sends, without a Limiter
}

// New builds a Service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TestsPerHour <= 0 {
		o.TestsPerHour = 20
	}
	if o.CodesPerHour <= 0 {
		o.CodesPerHour = 5
	}
	return &Service{o: o, tests: map[string][]time.Time{}}
}

// Rights are what an actor may do with templates; an editor shows or hides
// buttons with them.
type Rights struct {
	Read    bool `json:"read"`
	Write   bool `json:"write"`
	Approve bool `json:"approve"`
	Pin     bool `json:"pin"`
	Grant   bool `json:"grant"`
}

// Rights works out what a may do. Reading and previewing: admins,
// programme leads and comms leads. Writing (new templates, drafts,
// submitting, reverting, test messages): admins and comms leads.
// Approving and rejecting: admins, and comms leads granted the approver
// right (GrantApprover). Pinning versions to campaigns: admins and
// programme leads. Granting the approver right: admins.
func (s *Service) Rights(ctx context.Context, a Actor) (Rights, error) {
	r := Rights{
		Read:  CanRead(a.Role),
		Write: a.Role == store.RoleAdmin || a.Role == store.RoleCommsLead,
		Pin:   a.Role == store.RoleAdmin || a.Role == store.RoleProgrammeLead,
		Grant: a.Role == store.RoleAdmin,
	}
	switch a.Role {
	case store.RoleAdmin:
		r.Approve = true
	case store.RoleCommsLead:
		ok, err := s.o.Store.IsTemplateApprover(ctx, a.Name)
		if err != nil {
			return r, err
		}
		r.Approve = ok
	}
	return r, nil
}

func (s *Service) require(ctx context.Context, a Actor, what string, need func(Rights) bool) error {
	if a.Name == "" || a.Name == store.SystemActor {
		return fmt.Errorf("%s: no actor: %w", what, ErrForbidden)
	}
	r, err := s.Rights(ctx, a)
	if err != nil {
		return err
	}
	if !need(r) {
		return fmt.Errorf("%s: %w", what, ErrForbidden)
	}
	return nil
}

func canRead(r Rights) bool    { return r.Read }
func canWrite(r Rights) bool   { return r.Write }
func canApprove(r Rights) bool { return r.Approve }
func canPin(r Rights) bool     { return r.Pin }
func canGrant(r Rights) bool   { return r.Grant }

func (s *Service) audit(ctx context.Context, a Actor, action string, subject string, details map[string]any) {
	s.auditAs(ctx, a, action, "template", subject, details)
}

// auditAs records an action on a subject of any type.
func (s *Service) auditAs(ctx context.Context, a Actor, action, subjectType, subject string, details map[string]any) {
	err := s.o.Store.Audit(context.WithoutCancel(ctx), store.AuditEntry{Actor: a.Name, Action: action,
		SubjectType: subjectType, SubjectID: subject, Details: details})
	if err != nil {
		s.o.Logger.Error("audit failed", "action", action, "error", err)
	}
}

func (s *Service) changed() {
	if s.o.Texts != nil {
		s.o.Texts.Invalidate()
	}
}

// List returns the templates matching f (purpose, channel, language, key;
// empty fields match all).
func (s *Service) List(ctx context.Context, a Actor, f store.TemplateFilter) ([]store.Template, error) {
	if err := s.require(ctx, a, "list templates", canRead); err != nil {
		return nil, err
	}
	ts, err := s.o.Store.Templates(ctx, f)
	if ts == nil && err == nil {
		ts = []store.Template{}
	}
	return ts, err
}

// Detail is one template with its history, for the editor page.
type Detail struct {
	Template store.Template `json:"template"`
	// Versions is the history, newest first: who wrote each version and
	// when, who submitted, approved or rejected it and why.
	Versions []store.TemplateVersion `json:"versions"`
	// Live is the body sent now, nil when no version is approved.
	Live *store.TemplateVersion `json:"live"`
	// Placeholders are the names the body may use.
	Placeholders []PlaceholderInfo `json:"placeholders"`
	// Rights are what the asking actor may do.
	Rights Rights `json:"rights"`
}

// Show returns a template with its full history.
func (s *Service) Show(ctx context.Context, a Actor, id int64) (Detail, error) {
	if err := s.require(ctx, a, "show template", canRead); err != nil {
		return Detail{}, err
	}
	t, err := s.o.Store.Template(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	vs, err := s.o.Store.TemplateVersions(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Template: t, Versions: vs}
	for i := range vs {
		if t.LiveVersion != nil && vs[i].Version == *t.LiveVersion {
			d.Live = &vs[i]
		}
	}
	d.Placeholders = Check(t.Key, templates.Channel(t.Channel), t.Language, "", s.o.Limits).Placeholders
	d.Rights, err = s.Rights(ctx, a)
	return d, err
}

// Diff compares two versions of a template (from the older to the newer
// as given).
func (s *Service) Diff(ctx context.Context, a Actor, id int64, from, to int) (Diff, error) {
	if err := s.require(ctx, a, "diff template", canRead); err != nil {
		return Diff{}, err
	}
	va, err := s.o.Store.TemplateVersion(ctx, id, from)
	if err != nil {
		return Diff{}, err
	}
	vb, err := s.o.Store.TemplateVersion(ctx, id, to)
	if err != nil {
		return Diff{}, err
	}
	d := Diff{From: from, To: to}
	d.Lines, d.Words = DiffText(va.Body, vb.Body)
	return d, nil
}

// Check validates and measures a body for a template being edited, as
// typed: the live preview of the editor. It does not save anything.
func (s *Service) Check(ctx context.Context, a Actor, id int64, body string) (Report, error) {
	if err := s.require(ctx, a, "check template", canRead); err != nil {
		return Report{}, err
	}
	t, err := s.o.Store.Template(ctx, id)
	if err != nil {
		return Report{}, err
	}
	return Check(t.Key, templates.Channel(t.Channel), t.Language, body, s.o.Limits), nil
}

// Preview renders a saved version against the sample patient with the
// same report Check gives.
func (s *Service) Preview(ctx context.Context, a Actor, id int64, version int) (Report, error) {
	if err := s.require(ctx, a, "preview template", canRead); err != nil {
		return Report{}, err
	}
	t, err := s.o.Store.Template(ctx, id)
	if err != nil {
		return Report{}, err
	}
	v, err := s.o.Store.TemplateVersion(ctx, id, version)
	if err != nil {
		return Report{}, err
	}
	return Check(t.Key, templates.Channel(t.Channel), t.Language, v.Body, s.o.Limits), nil
}

// validKeyPart is the syntax of a template key and a language tag.
func validKeyPart(s string, dot bool) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || dot && c == '.') {
			return false
		}
	}
	return true
}

// Create adds a template (for example a translation of a key into a new
// language) with body as its first version, a draft. The body must pass
// Check.
func (s *Service) Create(ctx context.Context, a Actor, ref store.TemplateRef, body, note string) (store.Template, store.TemplateVersion, error) {
	if err := s.require(ctx, a, "create template", canWrite); err != nil {
		return store.Template{}, store.TemplateVersion{}, err
	}
	if !validKeyPart(ref.Key, true) || !validKeyPart(ref.Language, false) || !templates.Channel(ref.Channel).Valid() {
		r := Report{Problems: []Problem{{Message: "key (like wellbeing.ok), channel (sms or voice) and language (like en or cy) are required", Offset: -1}}}
		return store.Template{}, store.TemplateVersion{}, &InvalidError{Report: r}
	}
	rep := Check(ref.Key, templates.Channel(ref.Channel), ref.Language, body, s.o.Limits)
	if !rep.OK {
		return store.Template{}, store.TemplateVersion{}, &InvalidError{Report: rep}
	}
	t, err := s.o.Store.CreateTemplate(ctx, ref, string(rep.Purpose), a.Name)
	if err != nil {
		return t, store.TemplateVersion{}, err
	}
	s.audit(ctx, a, "template.create", strconv.FormatInt(t.ID, 10), map[string]any{"key": ref.Key, "channel": ref.Channel, "language": ref.Language})
	v, err := s.addVersion(ctx, a, t, store.NewTemplateVersion{TemplateID: t.ID, Body: body, Note: note, Author: a.Name})
	if err != nil {
		return t, v, err
	}
	t, err = s.o.Store.Template(ctx, t.ID)
	return t, v, err
}

// Draft is a body to save as a new version.
type Draft struct {
	Body string `json:"body"`
	Note string `json:"note"`
	// Submit asks for approval at once rather than keeping a draft.
	Submit bool `json:"submit"`
}

// SaveDraft saves body as the next version of a template: a draft, or
// pending approval with Submit. It never changes what is sent: only an
// approval does. A body that does not pass Check is refused with an
// *InvalidError carrying the report.
func (s *Service) SaveDraft(ctx context.Context, a Actor, id int64, d Draft) (store.TemplateVersion, Report, error) {
	if err := s.require(ctx, a, "save template", canWrite); err != nil {
		return store.TemplateVersion{}, Report{}, err
	}
	t, err := s.o.Store.Template(ctx, id)
	if err != nil {
		return store.TemplateVersion{}, Report{}, err
	}
	rep := Check(t.Key, templates.Channel(t.Channel), t.Language, d.Body, s.o.Limits)
	if !rep.OK {
		return store.TemplateVersion{}, rep, &InvalidError{Report: rep}
	}
	v, err := s.addVersion(ctx, a, t, store.NewTemplateVersion{TemplateID: id, Body: d.Body, Note: d.Note, Author: a.Name, Submit: d.Submit})
	return v, rep, err
}

func (s *Service) addVersion(ctx context.Context, a Actor, t store.Template, n store.NewTemplateVersion) (store.TemplateVersion, error) {
	v, err := s.o.Store.AddTemplateVersion(ctx, n)
	if err != nil {
		return v, err
	}
	details := map[string]any{"key": t.Key, "channel": t.Channel, "language": t.Language, "version": v.Version,
		"state": v.State, "note": v.Note}
	action := "template.save"
	if n.RevertedFrom != nil {
		action = "template.revert"
		details["reverted_from"] = *n.RevertedFrom
	}
	s.audit(ctx, a, action, strconv.FormatInt(t.ID, 10), details)
	return v, nil
}

// Submit asks for approval of a draft.
func (s *Service) Submit(ctx context.Context, a Actor, id int64, version int) (store.TemplateVersion, error) {
	if err := s.require(ctx, a, "submit template", canWrite); err != nil {
		return store.TemplateVersion{}, err
	}
	v, err := s.o.Store.SubmitTemplateVersion(ctx, id, version, a.Name)
	if err != nil {
		return v, err
	}
	s.audit(ctx, a, "template.submit", strconv.FormatInt(id, 10), map[string]any{"version": version})
	return v, nil
}

// Approve makes a pending version live. The actor needs the approver
// right and must not be the version's author (ErrSelfApproval). The body
// is checked again, in case the allowed placeholders changed since it was
// saved. A version older than the live one cannot be approved: revert to
// it instead.
func (s *Service) Approve(ctx context.Context, a Actor, id int64, version int, note string) (store.TemplateVersion, error) {
	return s.decide(ctx, a, id, version, true, note)
}

// Reject refuses a pending version with a reason; the author can save a
// new version. It needs the approver right (the author may reject, that
// is, withdraw, their own).
func (s *Service) Reject(ctx context.Context, a Actor, id int64, version int, note string) (store.TemplateVersion, error) {
	return s.decide(ctx, a, id, version, false, note)
}

func (s *Service) decide(ctx context.Context, a Actor, id int64, version int, approve bool, note string) (store.TemplateVersion, error) {
	what := "reject template"
	if approve {
		what = "approve template"
	}
	if err := s.require(ctx, a, what, canApprove); err != nil {
		return store.TemplateVersion{}, err
	}
	t, err := s.o.Store.Template(ctx, id)
	if err != nil {
		return store.TemplateVersion{}, err
	}
	v, err := s.o.Store.TemplateVersion(ctx, id, version)
	if err != nil {
		return v, err
	}
	if approve {
		if v.Author == a.Name {
			return v, fmt.Errorf("%s %d version %d: %w", what, id, version, ErrSelfApproval)
		}
		if rep := Check(t.Key, templates.Channel(t.Channel), t.Language, v.Body, s.o.Limits); !rep.OK {
			return v, &InvalidError{Report: rep}
		}
	}
	v, err = s.o.Store.DecideTemplateVersion(ctx, id, version, a.Name, approve, note)
	if err != nil {
		return v, err
	}
	action := "template.reject"
	if approve {
		action = "template.approve"
		s.changed()
		s.o.Logger.Info("template version approved", "template", t.Key, "channel", t.Channel, "language", t.Language,
			"version", version, "by", a.Name)
	}
	s.audit(ctx, a, action, strconv.FormatInt(id, 10), map[string]any{"key": t.Key, "channel": t.Channel,
		"language": t.Language, "version": version, "author": v.Author, "note": note})
	return v, nil
}

// Revert goes back to an earlier version in one action: it saves a copy
// of that version's body as a new version, already submitted for
// approval. What is sent changes only when someone other than the actor
// approves it, so a revert gets the same four-eyes check as any change
// (the guidance may have moved since the old text was approved).
func (s *Service) Revert(ctx context.Context, a Actor, id int64, to int, note string) (store.TemplateVersion, error) {
	if err := s.require(ctx, a, "revert template", canWrite); err != nil {
		return store.TemplateVersion{}, err
	}
	t, err := s.o.Store.Template(ctx, id)
	if err != nil {
		return store.TemplateVersion{}, err
	}
	old, err := s.o.Store.TemplateVersion(ctx, id, to)
	if err != nil {
		return old, err
	}
	if rep := Check(t.Key, templates.Channel(t.Channel), t.Language, old.Body, s.o.Limits); !rep.OK {
		return old, &InvalidError{Report: rep}
	}
	if note == "" {
		note = fmt.Sprintf("back to version %d", to)
	}
	return s.addVersion(ctx, a, t, store.NewTemplateVersion{TemplateID: id, Body: old.Body, Note: note, Author: a.Name,
		RevertedFrom: &to, Submit: true})
}

// VersionActions are the actions on one version that editors offer by
// name (a path segment of the JSON API and the console).
var VersionActions = []string{"submit", "approve", "reject", "revert"}

// VersionAction runs the action named by a VersionActions entry on a
// version (note is ignored by submit); another name is store.ErrNotFound.
func (s *Service) VersionAction(ctx context.Context, a Actor, id int64, version int, action, note string) (store.TemplateVersion, error) {
	switch action {
	case "submit":
		return s.Submit(ctx, a, id, version)
	case "approve":
		return s.Approve(ctx, a, id, version, note)
	case "reject":
		return s.Reject(ctx, a, id, version, note)
	case "revert":
		return s.Revert(ctx, a, id, version, note)
	}
	return store.TemplateVersion{}, fmt.Errorf("template version action %q: %w", action, store.ErrNotFound)
}

// Pins returns the template versions a campaign pins ("key:channel:language"
// to version); keys not listed use the live version.
func (s *Service) Pins(ctx context.Context, a Actor, campaignID int64) (map[string]int, error) {
	if err := s.require(ctx, a, "campaign pins", canRead); err != nil {
		return nil, err
	}
	return s.o.Store.CampaignTemplatePins(ctx, campaignID)
}

// SetPins replaces a campaign's pins. Each must name an approved version
// (store.ErrVersionState otherwise). Use it to keep a running campaign on
// the wording it started with while the live templates change.
func (s *Service) SetPins(ctx context.Context, a Actor, campaignID int64, pins map[string]int) error {
	if err := s.require(ctx, a, "pin templates", canPin); err != nil {
		return err
	}
	if pins == nil {
		pins = map[string]int{}
	}
	if err := s.o.Store.SetCampaignTemplatePins(ctx, campaignID, pins); err != nil {
		return err
	}
	s.changed()
	err := s.o.Store.Audit(context.WithoutCancel(ctx), store.AuditEntry{Actor: a.Name, Action: "campaign.pin_templates",
		SubjectType: "campaign", SubjectID: strconv.FormatInt(campaignID, 10), Details: map[string]any{"pins": pins}})
	if err != nil {
		s.o.Logger.Error("audit failed", "action", "campaign.pin_templates", "error", err)
	}
	return nil
}

// PinLive pins every template of a campaign to its live version now, so
// the campaign keeps its wording whatever is approved later; it returns
// the pins.
func (s *Service) PinLive(ctx context.Context, a Actor, campaignID int64) (map[string]int, error) {
	if err := s.require(ctx, a, "pin templates", canPin); err != nil {
		return nil, err
	}
	ts, err := s.o.Store.Templates(ctx, store.TemplateFilter{})
	if err != nil {
		return nil, err
	}
	pins := map[string]int{}
	for _, t := range ts {
		if t.LiveVersion != nil {
			pins[store.TemplateRef{Key: t.Key, Channel: t.Channel, Language: t.Language}.PinKey()] = *t.LiveVersion
		}
	}
	return pins, s.SetPins(ctx, a, campaignID, pins)
}

// Approvers lists the actors granted the approver right (admins have it
// without a grant).
func (s *Service) Approvers(ctx context.Context, a Actor) ([]string, error) {
	if err := s.require(ctx, a, "list approvers", canRead); err != nil {
		return nil, err
	}
	out, err := s.o.Store.TemplateApprovers(ctx)
	if out == nil && err == nil {
		out = []string{}
	}
	return out, err
}

// GrantApprover gives the approver right to who (an actor name such as
// "token:alice" or "user:alice"; it matters only for comms leads).
func (s *Service) GrantApprover(ctx context.Context, a Actor, who string) error {
	if err := s.require(ctx, a, "grant approver", canGrant); err != nil {
		return err
	}
	if strings.TrimSpace(who) == "" {
		return &InvalidError{Report: Report{Problems: []Problem{{Message: "name the actor, like user:alice or token:comms", Offset: -1}}}}
	}
	if err := s.o.Store.GrantTemplateApprover(ctx, who, a.Name); err != nil {
		return err
	}
	s.audit(ctx, a, "template.approver_grant", who, nil)
	return nil
}

// RevokeApprover takes the approver right away.
func (s *Service) RevokeApprover(ctx context.Context, a Actor, who string) error {
	if err := s.require(ctx, a, "revoke approver", canGrant); err != nil {
		return err
	}
	if err := s.o.Store.RevokeTemplateApprover(ctx, who); err != nil {
		return err
	}
	s.audit(ctx, a, "template.approver_revoke", who, nil)
	return nil
}

// TestRequest says what to send as a test and where.
type TestRequest struct {
	// To is the phone number to send to, as typed (UK numbers); the
	// actor must have verified it (AddTestPhone, VerifyTestPhone).
	To string `json:"to"`
	// Version sends a saved version; 0 sends Body (what is in the editor).
	Version int    `json:"version"`
	Body    string `json:"body"`
}

// TestResult says what was sent.
type TestResult struct {
	SID     string `json:"sid"`
	Channel string `json:"channel"`
	// Text is what was sent or said, test marking included.
	Text string `json:"text"`
	// To is the number, redacted.
	To string `json:"to"`
}

// SendTest sends a version (or the body being edited) rendered with the
// sample patient to a phone the actor has verified (ErrNotVerified
// otherwise): an SMS starting with TestPrefix for an SMS template, a call
// that says TestCallIntro then the script for a voice template. It is
// rate limited per actor and audited with the number redacted, refusals
// included.
func (s *Service) SendTest(ctx context.Context, a Actor, id int64, req TestRequest) (TestResult, error) {
	if err := s.require(ctx, a, "send test", canWrite); err != nil {
		return TestResult{}, err
	}
	if s.o.Twilio == nil || s.o.TestSender == "" {
		return TestResult{}, ErrTestUnavailable
	}
	num, err := s.o.Phones.Parse(req.To)
	if err != nil {
		return TestResult{}, &InvalidError{Report: Report{Problems: []Problem{{Message: "phone number: " + err.Error(), Offset: -1}}}}
	}
	verified, err := s.o.Store.TestPhoneVerified(ctx, a.Name, num.E164)
	if err != nil {
		return TestResult{}, err
	}
	if !verified {
		s.audit(ctx, a, "template.test_refused", strconv.FormatInt(id, 10), map[string]any{"to": redact.Phone(num.E164),
			"reason": "number not verified by the sender"})
		return TestResult{}, fmt.Errorf("test to %s: %w", redact.Phone(num.E164), ErrNotVerified)
	}
	t, err := s.o.Store.Template(ctx, id)
	if err != nil {
		return TestResult{}, err
	}
	body := req.Body
	if req.Version > 0 {
		v, err := s.o.Store.TemplateVersion(ctx, id, req.Version)
		if err != nil {
			return TestResult{}, err
		}
		body = v.Body
	}
	rep := Check(t.Key, templates.Channel(t.Channel), t.Language, body, s.o.Limits)
	if !rep.OK {
		return TestResult{}, &InvalidError{Report: rep}
	}
	if t.Channel == string(templates.ChannelSMS) && num.Kind != phone.Mobile {
		return TestResult{}, &InvalidError{Report: Report{Problems: []Problem{{Message: "an SMS test needs a mobile number", Offset: -1}}}}
	}
	if err := s.allow(ctx, "template-test:"+a.Name, s.o.TestsPerHour, ErrRateLimited); err != nil {
		return TestResult{}, err
	}
	res := TestResult{Channel: t.Channel, Text: TestPrefix + rep.Preview, To: redact.Phone(num.E164)}
	if t.Channel == string(templates.ChannelVoice) {
		res.Text = TestCallIntro + " " + rep.Preview
		doc, err := twiml.Voice([]twiml.Element{&twiml.VoiceSay{Message: TestCallIntro}, &twiml.VoiceSay{Message: rep.Preview},
			&twiml.VoiceHangup{}})
		if err != nil {
			return res, fmt.Errorf("test call: %w", err)
		}
		p := &openapi.CreateCallParams{}
		p.SetTo(num.E164)
		p.SetFrom(s.o.TestSender)
		p.SetTwiml(doc)
		call, err := s.o.Twilio.Api.CreateCall(p)
		if err != nil {
			return res, fmt.Errorf("test call: %w", providerError(err))
		}
		if call.Sid != nil {
			res.SID = *call.Sid
		}
	} else if res.SID, err = s.sendSMS(num.E164, res.Text); err != nil {
		return res, fmt.Errorf("test message: %w", err)
	}
	s.audit(ctx, a, "template.test", strconv.FormatInt(id, 10), map[string]any{"key": t.Key, "channel": t.Channel,
		"language": t.Language, "version": req.Version, "to": res.To, "sid": res.SID})
	return res, nil
}

// allow takes one send from the allowance of key (per an hour, all at
// once allowed), or returns limited.
func (s *Service) allow(ctx context.Context, key string, per int, limited error) error {
	if s.o.Limiter != nil {
		_, ok, err := s.o.Limiter.TryReserve(ctx, key, float64(per)/3600, per, 0)
		if err != nil {
			return fmt.Errorf("test rate limit: %w", err)
		}
		if !ok {
			return limited
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	recent := s.tests[key][:0]
	for _, at := range s.tests[key] {
		if now.Sub(at) < time.Hour {
			recent = append(recent, at)
		}
	}
	if len(recent) >= per {
		s.tests[key] = recent
		return limited
	}
	s.tests[key] = append(recent, now)
	return nil
}
