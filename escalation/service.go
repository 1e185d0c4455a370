// Package escalation hands every need to a human: it turns needs into
// escalations (one open escalation per patient and category), routes them
// to teams from the routing file, alerts the teams by SMS and signed
// webhook, re-escalates those not claimed within their SLA, keeps the
// contact ledger, and enforces who may see and do what. The console and the
// JSON API both go through it, so they cannot disagree on access or audit.
package escalation

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
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/twilio/twilio-go"

	"github.com/protectnow/protect/store"
)

// ErrForbidden means the actor's role may not do this at all.
var ErrForbidden = errors.New("your role may not do this")

// InvalidError is a request the actor should correct.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

func invalid(format string, args ...any) error { return &InvalidError{fmt.Sprintf(format, args...)} }

// Outcomes an escalation can be resolved with.
var Outcomes = []string{"helped", "referred", "advice-given", "no-need", "not-reached", "declined", "other"}

// Actor is who is asking: a console user or an API token.
type Actor struct {
	// Name is "user:NAME" or "token:NAME", as written to the audit log.
	Name       string
	Role       string
	Teams      []string
	RemoteAddr string
}

// SeesAll reports whether the actor oversees every team's work.
func (a Actor) SeesAll() bool { return a.Role == store.RoleAdmin || a.Role == store.RoleProgrammeLead }

// handles reports whether the actor's role works escalations at all.
func (a Actor) handles() bool { return a.Role != store.RoleCommsLead && a.Role != "" }

func (a Actor) inTeam(team string) bool { return a.SeesAll() || slices.Contains(a.Teams, team) }

// Options build a Service.
type Options struct {
	Store   *store.Store
	Routing *Routing
	// Twilio sends alert SMS; nil disables them (they stay pending).
	Twilio *twilio.RestClient
	// Queue schedules SLA checks; nil leaves them to the periodic sweep.
	Queue *asynq.Client
	// Redis carries "needs recorded" kicks between processes (the HTTP
	// server records needs, the workers escalate them); nil: in-process
	// kicks and the sweep only.
	Redis *redis.Client
	// HTTPClient posts team webhooks; default: 10 second timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock; tests move it to pass SLAs.
	Now func() time.Time
	// IntakeWorkers and AlertWorkers bound the background goroutines;
	// defaults 4 and 4.
	IntakeWorkers int
	AlertWorkers  int
}

// Service is the escalation machinery of one process.
type Service struct {
	store *store.Store
	// routing is swapped whole on reload; readers take one snapshot per
	// piece of work.
	routing atomic.Pointer[Routing]
	twilio  *twilio.RestClient
	queue   *asynq.Client
	redis   *redis.Client
	http    *http.Client
	logger  *slog.Logger
	now     func() time.Time
	nIntake int
	nAlert  int

	needs  waker
	alerts waker
}

// New builds a Service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.IntakeWorkers <= 0 {
		o.IntakeWorkers = 4
	}
	if o.AlertWorkers <= 0 {
		o.AlertWorkers = 4
	}
	s := &Service{store: o.Store, twilio: o.Twilio, queue: o.Queue, redis: o.Redis, http: o.HTTPClient,
		logger: o.Logger.With("component", "escalation"), now: o.Now, nIntake: o.IntakeWorkers, nAlert: o.AlertWorkers}
	s.routing.Store(o.Routing)
	return s
}

// Routing is the routing in use. It may be replaced by a reload at any
// time: take it once per piece of work.
func (s *Service) Routing() *Routing { return s.routing.Load() }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// waker lets any number of goroutines wait for the next wake-up. Take the
// channel before looking for work, so a wake during the look is not lost.
type waker struct {
	mu sync.Mutex
	ch chan struct{}
}

func (w *waker) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

func (w *waker) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
	}
	w.ch = make(chan struct{})
}

// audit writes an entry; failing to audit is logged, never hidden.
func (s *Service) audit(ctx context.Context, a Actor, action, subjectType string, subjectID int64, patientID *int64, details map[string]any) {
	err := s.store.Audit(context.WithoutCancel(ctx), store.AuditEntry{Actor: a.Name, Action: action, SubjectType: subjectType,
		SubjectID: strconv.FormatInt(subjectID, 10), PatientID: patientID, Details: details, RemoteAddr: a.RemoteAddr})
	if err != nil {
		s.logger.Error("audit failed", "action", action, "error", err)
	}
}

// Audit writes an audit entry for an action outside the service's own
// operations (log-in, log-out, refused forms).
func (s *Service) Audit(ctx context.Context, a Actor, action, subjectType string, subjectID int64, details map[string]any) {
	s.audit(ctx, a, action, subjectType, subjectID, nil, details)
}

// visible loads an escalation the actor may see. One they may not see is
// reported as not found (and the attempt audited), so its existence does
// not leak.
func (s *Service) visible(ctx context.Context, a Actor, id int64, action string) (store.Escalation, error) {
	if !a.handles() {
		return store.Escalation{}, ErrForbidden
	}
	e, err := s.store.Escalation(ctx, id)
	if err != nil {
		return e, err
	}
	if !a.inTeam(e.Team) {
		s.audit(ctx, a, "access.denied", "escalation", id, &e.PatientID, map[string]any{"attempted": action, "team": e.Team})
		return store.Escalation{}, fmt.Errorf("escalation %d: %w", id, store.ErrNotFound)
	}
	return e, nil
}

// InboxQuery selects an inbox.
type InboxQuery struct {
	// Team narrows the inbox to one of the actor's teams; empty: all of them.
	Team   string
	Closed bool
	Limit  int
	Offset int
}

// Inbox is a page of escalations with counts.
type Inbox struct {
	Teams       []string           `json:"teams"`
	Counts      store.InboxCounts  `json:"counts"`
	Escalations []store.Escalation `json:"escalations"`
	Now         time.Time          `json:"now"`
	// MyOverdue counts the escalations the actor claimed that are past
	// their resolve deadline: how the claimer hears of them.
	MyOverdue int `json:"my_overdue"`
}

// inboxTeams are the teams whose escalations an inbox shows: the actor's
// (nil: every team, for those who see all), or the one team asked for if
// the actor is in it; asking for another team is audited and not found.
func (s *Service) inboxTeams(ctx context.Context, a Actor, team string) ([]string, error) {
	if !a.handles() {
		return nil, ErrForbidden
	}
	teams := a.Teams
	if a.SeesAll() {
		teams = nil
	}
	if team != "" {
		if !a.inTeam(team) || s.Routing().Team(team) == nil {
			s.audit(ctx, a, "access.denied", "team", 0, nil, map[string]any{"attempted": "inbox.view", "team": team})
			return nil, fmt.Errorf("team %q: %w", team, store.ErrNotFound)
		}
		teams = []string{team}
	}
	return teams, nil
}

// Inbox lists the escalations of the actor's teams, by priority and age.
func (s *Service) Inbox(ctx context.Context, a Actor, q InboxQuery) (Inbox, error) {
	teams, err := s.inboxTeams(ctx, a, q.Team)
	if err != nil {
		return Inbox{}, err
	}
	if teams != nil && len(teams) == 0 {
		return Inbox{Teams: []string{}, Escalations: []store.Escalation{}, Now: s.now()}, nil
	}
	now := s.now()
	list, counts, err := s.store.Inbox(ctx, store.InboxQuery{Teams: teams, Closed: q.Closed, Limit: q.Limit, Offset: q.Offset, Now: now})
	if err != nil {
		return Inbox{}, err
	}
	ids := make([]int64, len(list))
	for i, e := range list {
		ids[i] = e.ID
	}
	mine, err := s.store.OverdueClaims(ctx, a.Name, now)
	if err != nil {
		return Inbox{}, err
	}
	s.audit(ctx, a, "inbox.view", "team", 0, nil, map[string]any{"teams": teams, "closed": q.Closed, "escalations": ids})
	if list == nil {
		list = []store.Escalation{}
	}
	if teams == nil {
		teams = s.Routing().TeamKeys()
	}
	return Inbox{Teams: teams, Counts: counts, Escalations: list, Now: now, MyOverdue: mine}, nil
}

// Detail is an escalation with what lies behind it.
type Detail struct {
	Escalation store.Escalation        `json:"escalation"`
	Needs      []store.EscalationNeed  `json:"needs"`
	Events     []store.EscalationEvent `json:"events"`
	Overdue    bool                    `json:"overdue"`
}

// Escalation shows one escalation to an actor allowed to see it.
func (s *Service) Escalation(ctx context.Context, a Actor, id int64) (Detail, error) {
	e, err := s.visible(ctx, a, id, "escalation.view")
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Escalation: e, Overdue: e.Overdue(s.now())}
	if d.Needs, err = s.store.EscalationNeeds(ctx, id); err != nil {
		return d, err
	}
	if d.Events, err = s.store.EscalationEvents(ctx, id); err != nil {
		return d, err
	}
	s.audit(ctx, a, "escalation.view", "escalation", id, &e.PatientID, nil)
	return d, nil
}

// Claim takes an open escalation for the actor.
func (s *Service) Claim(ctx context.Context, a Actor, id int64) error {
	e, err := s.visible(ctx, a, id, "escalation.claim")
	if err != nil {
		return err
	}
	now := s.now()
	c, err := s.store.ClaimEscalation(ctx, store.Transition{ID: id, Actor: a.Name, At: now,
		Due: now.Add(s.Routing().ResolveWithin(e.Category, e.Priority))})
	if err != nil {
		return err
	}
	s.audit(ctx, a, "escalation.claim", "escalation", id, &e.PatientID, nil)
	s.changed(ctx, c) // the resolve deadline's check
	return nil
}

// maxNote bounds notes and free text.
const maxNote = 4000

func checkNote(note string, required bool) (string, error) {
	note = strings.TrimSpace(note)
	if required && note == "" {
		return "", invalid("Write a note")
	}
	if len(note) > maxNote {
		return "", invalid("The note is too long: write at most %d characters", maxNote)
	}
	if !utf8.ValidString(note) || strings.ContainsRune(note, 0) {
		return "", invalid("The note has characters that cannot be kept: retype it")
	}
	return note, nil
}

// Note adds a note to an escalation, seen by the escalation's team,
// admins and programme leads.
func (s *Service) Note(ctx context.Context, a Actor, id int64, note string) error {
	return s.note(ctx, a, id, note, false)
}

// ShareNote adds a note that every team that sees the patient sees on the
// patient's timeline (SeesDetails).
func (s *Service) ShareNote(ctx context.Context, a Actor, id int64, note string) error {
	return s.note(ctx, a, id, note, true)
}

func (s *Service) note(ctx context.Context, a Actor, id int64, note string, shared bool) error {
	note, err := checkNote(note, true)
	if err != nil {
		return err
	}
	e, err := s.visible(ctx, a, id, "escalation.note")
	if err != nil {
		return err
	}
	if err := s.store.AddNote(ctx, store.Transition{ID: id, Actor: a.Name, At: s.now(), Note: note, Shared: shared}); err != nil {
		return err
	}
	s.audit(ctx, a, "escalation.note", "escalation", id, &e.PatientID, map[string]any{"shared": shared})
	return nil
}

// Resolve closes an escalation with an outcome and a note, which is
// required for urgent and high priorities: what was done for someone at
// risk must be on record.
func (s *Service) Resolve(ctx context.Context, a Actor, id int64, outcome, note string) error {
	if outcome == "" {
		return invalid("Choose an outcome")
	}
	if !slices.Contains(Outcomes, outcome) {
		return invalid("outcome: expected one of %s", strings.Join(Outcomes, ", "))
	}
	note, err := checkNote(note, false)
	if err != nil {
		return err
	}
	e, err := s.visible(ctx, a, id, "escalation.resolve")
	if err != nil {
		return err
	}
	if note == "" && (e.Priority == "urgent" || e.Priority == "high") {
		return invalid("Write a note of what was done: %s priority escalations need one to be resolved", e.Priority)
	}
	if err := s.store.ResolveEscalation(ctx, store.Transition{ID: id, Actor: a.Name, At: s.now(), Outcome: outcome, Note: note}); err != nil {
		return err
	}
	s.audit(ctx, a, "escalation.resolve", "escalation", id, &e.PatientID, map[string]any{"outcome": outcome})
	return nil
}

// HandOver passes an escalation to another team, which is alerted.
func (s *Service) HandOver(ctx context.Context, a Actor, id int64, team, note string) error {
	r := s.Routing()
	if r.Team(team) == nil {
		return invalid("Choose the team to hand over to")
	}
	note, err := checkNote(note, true)
	if err != nil {
		return err
	}
	e, err := s.visible(ctx, a, id, "escalation.handover")
	if err != nil {
		return err
	}
	if team == e.Team {
		return invalid("The escalation is with %s already: choose another team", r.TeamName(team))
	}
	now := s.now()
	c, err := s.store.HandOver(ctx, store.Transition{ID: id, Actor: a.Name, At: now, Team: team, Note: note,
		Due: now.Add(r.ClaimWithin(e.Category, e.Priority)), Alerts: r.Alerts(team, e.Priority)})
	if err != nil {
		return err
	}
	s.audit(ctx, a, "escalation.handover", "escalation", id, &e.PatientID, map[string]any{"from": e.Team, "to": team})
	s.changed(ctx, c)
	return nil
}

// MarkDuplicate closes an escalation as a duplicate of another of the same
// patient.
func (s *Service) MarkDuplicate(ctx context.Context, a Actor, id, of int64) error {
	e, err := s.visible(ctx, a, id, "escalation.duplicate")
	if err != nil {
		return err
	}
	o, err := s.visible(ctx, a, of, "escalation.duplicate")
	if err != nil {
		return err
	}
	if o.PatientID != e.PatientID || o.ID == e.ID {
		return invalid("Choose another escalation of the same patient")
	}
	if err := s.store.MarkDuplicate(ctx, store.Transition{ID: id, Actor: a.Name, At: s.now(), DuplicateOf: of,
		Note: fmt.Sprintf("duplicate of escalation %d", of)}); err != nil {
		return err
	}
	s.audit(ctx, a, "escalation.duplicate", "escalation", id, &e.PatientID, map[string]any{"of": of})
	return nil
}

// PatientView is a patient's record and whole timeline.
type PatientView struct {
	Patient     store.Patient         `json:"patient"`
	Escalations []store.Escalation    `json:"escalations"`
	Timeline    []store.TimelineEntry `json:"timeline"`
}

// patientVisible checks the actor may see the patient: overseers see
// everyone, teams see patients with an escalation of theirs.
func (s *Service) patientVisible(ctx context.Context, a Actor, id int64, action string) error {
	if !a.handles() {
		return ErrForbidden
	}
	if a.SeesAll() {
		return nil
	}
	ok, err := s.store.PatientInTeams(ctx, id, a.Teams)
	if err != nil {
		return err
	}
	if !ok {
		s.audit(ctx, a, "access.denied", "patient", id, &id, map[string]any{"attempted": action})
		return fmt.Errorf("patient %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// Patient shows a patient's record and timeline across organisations, as
// SeesDetails allows the actor to see it.
func (s *Service) Patient(ctx context.Context, a Actor, id int64) (PatientView, error) {
	if err := s.patientVisible(ctx, a, id, "patient.view"); err != nil {
		return PatientView{}, err
	}
	var v PatientView
	var err error
	if v.Patient, err = s.store.PatientByID(ctx, id); err != nil {
		return v, err
	}
	if v.Escalations, err = s.store.PatientEscalations(ctx, id); err != nil {
		return v, err
	}
	if v.Timeline, err = s.store.PatientTimeline(ctx, id, 1000); err != nil {
		return v, err
	}
	// Other teams' notes and escalation details stay with them.
	v.Escalations = visibleEscalations(a, v.Escalations)
	v.Timeline = VisibleTimeline(a, v.Timeline)
	s.audit(ctx, a, "patient.view", "patient", id, &id, nil)
	return v, nil
}

// ContactInput is a contact a team records in the ledger.
type ContactInput struct {
	Team         string    `json:"team"`
	Method       string    `json:"method"`
	Outcome      string    `json:"outcome"`
	Note         string    `json:"note"`
	OccurredAt   time.Time `json:"occurred_at"`
	EscalationID *int64    `json:"escalation_id"`
	// Shared shows the note to every team that sees the patient.
	Shared bool `json:"shared"`
}

// RecordContact adds a team's contact with a patient to the ledger.
func (s *Service) RecordContact(ctx context.Context, a Actor, patientID int64, in ContactInput) (int64, error) {
	if in.Team == "" && len(a.Teams) == 1 {
		in.Team = a.Teams[0]
	}
	switch {
	case s.Routing().Team(in.Team) == nil:
		return 0, invalid("team: expected one of your teams")
	case !a.inTeam(in.Team):
		return 0, invalid("team: you are not a member of %s", in.Team)
	case !slices.Contains(store.ContactMethods, in.Method):
		return 0, invalid("method: expected one of %s", strings.Join(store.ContactMethods, ", "))
	case !slices.Contains(store.ContactOutcomes, in.Outcome):
		return 0, invalid("outcome: expected one of %s", strings.Join(store.ContactOutcomes, ", "))
	}
	note, err := checkNote(in.Note, false)
	if err != nil {
		return 0, err
	}
	now := s.now()
	if in.OccurredAt.IsZero() {
		in.OccurredAt = now
	}
	if in.OccurredAt.After(now.Add(5*time.Minute)) || in.OccurredAt.Before(now.AddDate(-1, 0, 0)) {
		return 0, invalid("occurred_at: must be within the last year and not in the future")
	}
	if err := s.patientVisible(ctx, a, patientID, "contact.record"); err != nil {
		return 0, err
	}
	if in.EscalationID != nil {
		e, err := s.visible(ctx, a, *in.EscalationID, "contact.record")
		if err != nil {
			return 0, err
		}
		if e.PatientID != patientID {
			return 0, invalid("escalation_id: not an escalation of this patient")
		}
	}
	id, err := s.store.RecordContact(ctx, store.Contact{PatientID: patientID, Team: in.Team, EscalationID: in.EscalationID,
		Method: in.Method, Outcome: in.Outcome, Note: note, Shared: in.Shared, Actor: a.Name, OccurredAt: in.OccurredAt})
	if err != nil {
		return 0, err
	}
	s.audit(ctx, a, "contact.record", "patient", patientID, &patientID, map[string]any{"contact": id, "team": in.Team,
		"method": in.Method, "outcome": in.Outcome})
	return id, nil
}

// AuditLog lists the audit log for admins.
func (s *Service) AuditLog(ctx context.Context, a Actor, q store.AuditQuery) ([]store.AuditEntry, error) {
	if a.Role != store.RoleAdmin {
		return nil, ErrForbidden
	}
	entries, err := s.store.AuditLog(ctx, q)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, a, "audit.view", "audit", 0, q.PatientID, nil)
	return entries, nil
}
