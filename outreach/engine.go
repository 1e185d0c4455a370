package outreach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/twilio/twilio-go"

	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/ratelimit"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/window"
)

// Engine runs campaigns. One engine serves the HTTP side (replies, status
// callbacks, campaign commands) and the worker side (sending, dispatching,
// reconciling) of a process.
type Engine struct {
	store     *store.Store
	twilio    *twilio.RestClient
	queue     *asynq.Client
	limiter   *ratelimit.Limiter
	rend      *renderer
	publicURL string
	logger    *slog.Logger
	now       func() time.Time
	voice     bool
	caller    Caller
	stale     time.Duration
	needs     func(context.Context)
	replies   *replyQueue
	policies  policyCache
	// probeEvery is how often a held sender is probed.
	probeEvery time.Duration
	// faults counts gateway faults per sender across workers; a sender
	// with holdAfter of them within faultWindow is held.
	faults      *ratelimit.WindowCounter
	holdAfter   int
	faultWindow time.Duration
	// ops hears of holds and releases (the duty team's alerts).
	ops OpsAlerter

	questionnaires sync.Map // id -> *questionnaire.Questionnaire
}

// Options build an engine.
type Options struct {
	Store     *store.Store
	Twilio    *twilio.RestClient
	Queue     *asynq.Client
	Limiter   *ratelimit.Limiter
	Texts     Texts
	PublicURL string
	Logger    *slog.Logger
	// Now is the clock; tests set it.
	Now func() time.Time
	// StaleAfter is how long an attempt may sit queued before the
	// reconciler enqueues it again; default 30s.
	StaleAfter time.Duration
	// NeedsRecorded, when set, is called after a reply's needs are
	// committed, so escalation can start at once rather than at its next
	// sweep.
	NeedsRecorded func(context.Context)
	// ReplyBatch is the most inbound SMS handled in one transaction;
	// default DefaultReplyBatch, 1 handles each alone.
	ReplyBatch int
	// Voice lets campaigns call, for an engine that does not place calls
	// itself (the CLI) while the gateway's IVR does; SetCaller sets it.
	Voice bool
	// ProbeEvery is how often a sender held by an account or gateway
	// fault is probed to resume sending; default 30s.
	ProbeEvery time.Duration
	// Faults counts gateway faults (HTTP 429, Twilio's 5xx, network
	// errors and time-outs) per sender, shared by every worker; nil: a
	// sender is held only when one attempt has used up its tries.
	Faults *ratelimit.WindowCounter
	// HoldAfterFaults gateway faults of one sender within FaultWindow
	// hold it; defaults DefaultHoldAfterFaults and DefaultFaultWindow.
	HoldAfterFaults int
	FaultWindow     time.Duration
	// Ops is told when a sender is held and when it resumes (by the
	// process that held or released it); nil: logs, metrics and the
	// audit only.
	Ops OpsAlerter
}

// New builds an engine.
func New(o Options) *Engine {
	if o.Texts == nil {
		o.Texts = DefaultTexts()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = staleAfter
	}
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = probeEvery
	}
	if o.HoldAfterFaults <= 0 {
		o.HoldAfterFaults = DefaultHoldAfterFaults
	}
	if o.FaultWindow <= 0 {
		o.FaultWindow = DefaultFaultWindow
	}
	return &Engine{store: o.Store, twilio: o.Twilio, queue: o.Queue, limiter: o.Limiter, rend: &renderer{texts: o.Texts},
		publicURL: o.PublicURL, logger: o.Logger, now: o.Now, stale: o.StaleAfter, needs: o.NeedsRecorded,
		replies: newReplyQueue(o.ReplyBatch), voice: o.Voice, probeEvery: o.ProbeEvery,
		faults: o.Faults, holdAfter: o.HoldAfterFaults, faultWindow: o.FaultWindow, ops: o.Ops}
}

// Questionnaire loads a stored questionnaire (cached: stored versions never
// change).
func (e *Engine) Questionnaire(ctx context.Context, id int64) (*questionnaire.Questionnaire, error) {
	if q, ok := e.questionnaires.Load(id); ok {
		return q.(*questionnaire.Questionnaire), nil
	}
	def, err := e.store.QuestionnaireDefinition(ctx, id)
	if err != nil {
		return nil, err
	}
	qn, err := questionnaire.Load("questionnaire "+strconv.FormatInt(id, 10), def, questionnaire.LoadOptions{})
	if err != nil {
		return nil, fmt.Errorf("stored questionnaire %d no longer loads: %w", id, err)
	}
	e.questionnaires.Store(id, qn)
	return qn, nil
}

// SaveQuestionnaire checks a questionnaire against the texts and stores it,
// returning its ID and version.
func (e *Engine) SaveQuestionnaire(ctx context.Context, filename string, data []byte) (int64, int, error) {
	qn, err := questionnaire.Load(filename, data, questionnaire.LoadOptions{TemplateExists: e.templateExists(ctx)})
	if err != nil {
		return 0, 0, err
	}
	return e.store.SaveQuestionnaire(ctx, qn.ID, qn.Title, qn.Checksum(), qn.Canonical())
}

// templateExists looks a template up for a questionnaire check: only a
// real miss (ErrNoText) is "does not exist"; any other error is returned.
func (e *Engine) templateExists(ctx context.Context) func(string) (bool, error) {
	return func(key string) (bool, error) {
		_, _, err := e.rend.texts.Body(ctx, SMS, key, "en")
		if errors.Is(err, ErrNoText) {
			return false, nil
		}
		return err == nil, err
	}
}

// CampaignSpec describes a campaign to create.
type CampaignSpec struct {
	Name          string          `json:"name"`
	Cohort        string          `json:"cohort"`
	Questionnaire string          `json:"questionnaire"` // a file path, or "" for the default wellbeing check
	Sender        string          `json:"sender"`
	VoiceSender   string          `json:"voice_sender"`
	ProgrammeName string          `json:"programme_name"`
	TeamPhone     string          `json:"team_phone"`
	Window        json.RawMessage `json:"window"`
	Pace          float64         `json:"pace"`
	Policy        json.RawMessage `json:"policy"`
	CreatedBy     string          `json:"-"`
	// QuestionnaireData is the questionnaire file's content when given.
	QuestionnaireData []byte `json:"-"`

	// IdentityCheck is how calls confirm who answered before any health
	// question: "dob" (day and month of birth, the default), "year" (year
	// of birth) or "off".
	IdentityCheck string `json:"identity_check"`
}

// How calls confirm who answered (CampaignSpec.IdentityCheck).
const (
	IdentityDOB  = "dob"
	IdentityYear = "year"
	IdentityOff  = "off"
)

// InvalidSpecError lists what is wrong with a campaign spec; callers show
// it to the person who wrote the spec.
type InvalidSpecError struct{ Err error }

func (e *InvalidSpecError) Error() string { return e.Err.Error() }
func (e *InvalidSpecError) Unwrap() error { return e.Err }

// CreateCampaign checks a spec and stores a draft campaign.
func (e *Engine) CreateCampaign(ctx context.Context, spec CampaignSpec) (store.Campaign, error) {
	var errs []error
	if spec.Name == "" {
		errs = append(errs, errors.New("name: required"))
	}
	spec.Sender, spec.VoiceSender = senderNumber(spec.Sender), senderNumber(spec.VoiceSender)
	switch {
	case spec.Sender == "":
		errs = append(errs, errors.New("sender: required (a UK Twilio number such as 07700 900999 or +447700900999, or a messaging service SID MG...)"))
	case !isE164(spec.Sender) && !isServiceSID(spec.Sender):
		errs = append(errs, fmt.Errorf("sender: expected a UK Twilio number (such as 07700 900999 or +447700900999) or a messaging service SID (MG and 32 characters), got %q", spec.Sender))
	}
	if spec.VoiceSender != "" && !isE164(spec.VoiceSender) {
		errs = append(errs, fmt.Errorf("voice_sender: expected a UK Twilio number (such as 01603 111111 or +441603111111), got %q", spec.VoiceSender))
	}
	switch spec.IdentityCheck {
	case "", IdentityDOB, IdentityYear, IdentityOff:
	default:
		errs = append(errs, fmt.Errorf("identity_check: expected %q, %q or %q, got %q", IdentityDOB, IdentityYear, IdentityOff, spec.IdentityCheck))
	}
	if spec.Pace <= 0 || spec.Pace > 1000 {
		errs = append(errs, fmt.Errorf("pace: expected more than 0 and at most 1000 messages a second, got %v", spec.Pace))
	}
	w := window.Default()
	if len(spec.Window) > 0 {
		var err error
		if w, err = window.Parse(spec.Window); err != nil {
			errs = append(errs, fmt.Errorf("window: %w", err))
		}
	}
	pol := DefaultPolicy(e.voice)
	if len(spec.Policy) > 0 {
		var err error
		if pol, err = ParsePolicy(spec.Policy, e.voice); err != nil {
			errs = append(errs, err)
		}
	}
	// A messaging service sends SMS but cannot place calls: a policy that
	// calls needs a number to call from, found now rather than at the
	// first call.
	if pol.hasVoice() && spec.VoiceSender == "" && isServiceSID(spec.Sender) {
		errs = append(errs, errors.New("voice_sender: required when the sender is a messaging service and the attempt policy places calls (a Twilio number in E.164)"))
	}
	cohort, err := e.store.CohortByName(ctx, spec.Cohort)
	switch {
	case errors.Is(err, store.ErrNotFound):
		errs = append(errs, fmt.Errorf("cohort: %w", err))
	case err != nil: // not the spec's fault: the lookup failed
		return store.Campaign{}, fmt.Errorf("cohort: %w", err)
	}
	if len(errs) > 0 {
		return store.Campaign{}, &InvalidSpecError{errors.Join(errs...)}
	}
	data, name := spec.QuestionnaireData, spec.Questionnaire
	if data == nil {
		data, name = questionnaire.DefaultYAML(), "wellbeing.yaml"
	}
	qid, _, err := e.SaveQuestionnaire(ctx, name, data)
	var lerr *questionnaire.LoadError
	if errors.As(err, &lerr) {
		return store.Campaign{}, &InvalidSpecError{fmt.Errorf("questionnaire: %w", err)}
	}
	if err != nil {
		return store.Campaign{}, fmt.Errorf("questionnaire: %w", err)
	}
	wj, _ := json.Marshal(w)
	pj, _ := json.Marshal(pol)
	c, err := e.store.CreateCampaign(ctx, store.Campaign{Name: spec.Name, CohortID: cohort.ID, QuestionnaireID: qid,
		Sender: spec.Sender, VoiceSender: spec.VoiceSender, ProgrammeName: spec.ProgrammeName, TeamPhone: spec.TeamPhone,
		Window: wj, Pace: spec.Pace, Policy: pj, CreatedBy: spec.CreatedBy, IdentityCheck: spec.IdentityCheck})
	if err != nil {
		return c, err
	}
	e.audit(ctx, spec.CreatedBy, "campaign.create", c.ID, map[string]any{"name": c.Name, "cohort": spec.Cohort})
	return c, nil
}

// Start plans a draft campaign (once) and sets it running.
func (e *Engine) Start(ctx context.Context, id int64, actor string) (int, error) {
	c, err := e.store.Campaign(ctx, id)
	if err != nil {
		return 0, err
	}
	if c.State != store.CampaignDraft {
		return 0, fmt.Errorf("start campaign %q: it is %s: %w", c.Name, c.State, store.ErrStateConflict)
	}
	n, err := e.Plan(ctx, c)
	if err != nil {
		return 0, err
	}
	if err := e.store.SetCampaignState(ctx, id, store.CampaignRunning, store.CampaignDraft); err != nil {
		return n, err
	}
	e.audit(ctx, actor, "campaign.start", id, map[string]any{"patients": n})
	return n, nil
}

// Plan turns the cohort into first attempts spread across the calling
// window at the campaign's pace. Patients with no usable number or who
// opted out get their outcome at once.
func (e *Engine) Plan(ctx context.Context, c store.Campaign) (int, error) {
	w, err := window.Parse(c.Window)
	if err != nil {
		return 0, fmt.Errorf("campaign %q window: %w", c.Name, err)
	}
	pol, err := ParsePolicy(c.Policy, e.voice)
	if err != nil {
		return 0, fmt.Errorf("campaign %q: %w", c.Name, err)
	}
	planner, err := window.NewPlanner(w, e.now(), c.Pace)
	if err != nil {
		return 0, fmt.Errorf("campaign %q: %w", c.Name, err)
	}
	var heldOff map[int64]time.Time // patient -> latest contact by a team
	if pol.HoldOffDays > 0 {
		if heldOff, err = e.store.RecentTeamContacts(ctx, c.CohortID, pol.HoldOffSince(e.now())); err != nil {
			return 0, err
		}
	}
	return e.store.PlanCampaign(ctx, c.ID, func(p store.PlanPatient) store.PlanEntry {
		if p.OptedOut {
			return store.PlanEntry{Outcome: "opted_out", Reason: "opted out before the campaign"}
		}
		step, ch, to, ok := pol.NextStep(0, Contact{p.Mobile, p.MobileKind, p.Landline, p.LandlineKind, p.PreferredChannel}, nil)
		if !ok {
			reason := "no usable phone number"
			if p.Mobile != "" || p.Landline != "" {
				reason = "no number the campaign's channels can use"
			}
			return store.PlanEntry{Outcome: "unreachable", Reason: reason}
		}
		due := planner.Next()
		if at, ok := heldOff[p.ID]; ok {
			if until := pol.HoldOffUntil(w, at); until.After(due) {
				due = until
			}
		}
		return store.PlanEntry{Step: step, Channel: ch, To: to, Due: due}
	})
}

// Pause stops new contacts at once: workers refuse to claim attempts of a
// campaign that is not running. Replies are still handled.
func (e *Engine) Pause(ctx context.Context, id int64, actor string) error {
	if err := e.store.SetCampaignState(ctx, id, store.CampaignPaused, store.CampaignRunning); err != nil {
		return err
	}
	e.audit(ctx, actor, "campaign.pause", id, nil)
	return nil
}

// Resume continues a paused campaign where it stopped.
func (e *Engine) Resume(ctx context.Context, id int64, actor string) error {
	if err := e.store.SetCampaignState(ctx, id, store.CampaignRunning, store.CampaignPaused); err != nil {
		return err
	}
	e.audit(ctx, actor, "campaign.resume", id, nil)
	return nil
}

// Cancel ends a campaign: nothing more is sent.
func (e *Engine) Cancel(ctx context.Context, id int64, actor string) error {
	if err := e.store.CancelCampaign(ctx, id); err != nil {
		return err
	}
	e.audit(ctx, actor, "campaign.cancel", id, nil)
	return nil
}

func (e *Engine) audit(ctx context.Context, actor, action string, campaignID int64, details map[string]any) {
	if actor == "" {
		actor = "system"
	}
	err := e.store.Audit(context.WithoutCancel(ctx), store.AuditEntry{Actor: actor, Action: action,
		SubjectType: "campaign", SubjectID: strconv.FormatInt(campaignID, 10), Details: details})
	if err != nil {
		e.logger.Error("audit failed", "action", action, "error", err)
	}
}

// senderNumber turns a UK number typed as people write it ("07700 900
// 999", "+44 7700 900999") into the E.164 form Twilio wants; anything else
// is left as typed for the checks to explain.
func senderNumber(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || isE164(s) || isServiceSID(s) {
		return s
	}
	// Twilio's own numbers include the reserved drama range, which the
	// sandbox uses.
	if n, err := (phone.Parser{AllowTestNumbers: true}).Parse(s); err == nil {
		return n.E164
	}
	return s
}

// isE164 reports whether s looks like an E.164 number: + and 8 to 15
// digits.
func isE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isServiceSID reports whether s is a Twilio messaging service SID.
func isServiceSID(s string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, "MG") {
		return false
	}
	for _, c := range s[2:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
