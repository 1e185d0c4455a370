package outreach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/redact"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
	"github.com/protectnow/protect/window"
)

// Task types and queues.
const (
	TaskSend  = "attempt:send"
	QueueSMS  = "sms"
	QueueCall = "voice"
)

// lease is how long a claim on an attempt lasts unless its worker renews
// it: a worker renews it every lease/3 while it works (waiting for
// Twilio), so a lease that ran out means the worker died, and the
// reconciler hands the attempt to another worker within seconds, long
// before any step's wait could end.
const lease = 30 * time.Second

// maxTries bounds how often an attempt is tried before it is given up as
// failed and the patient moves on.
const maxTries = 8

// SendPayload is the task payload: the attempt, and the sender and pace so
// the worker can take a rate-limit slot before touching the database.
type SendPayload struct {
	Attempt int64   `json:"attempt"`
	Sender  string  `json:"sender"`
	Pace    float64 `json:"pace"`
	Channel string  `json:"channel"`
	// Generation is the hand-over's generation (store.QueuedAttempt); it
	// names the task and is not needed to run it.
	Generation int `json:"generation,omitempty"`
}

// taskID names an attempt's task of a generation: the dispatcher's is
// generation 0, and each re-enqueue by the reconciler takes the next, so
// the queue refuses a repeat of one hand-over but never blocks a new one
// behind a task it lost or archived.
func taskID(attempt int64, generation int) string {
	id := "attempt:" + strconv.FormatInt(attempt, 10)
	if generation > 0 {
		id += "/" + strconv.Itoa(generation)
	}
	return id
}

// enqueue puts an attempt on the queue; a task already there is fine.
func (e *Engine) enqueue(ctx context.Context, p SendPayload) error {
	b, _ := json.Marshal(p)
	queue := QueueSMS
	if p.Channel == Voice {
		queue = QueueCall
	}
	_, err := e.queue.EnqueueContext(ctx, asynq.NewTask(TaskSend, b), asynq.TaskID(taskID(p.Attempt, p.Generation)), asynq.Queue(queue),
		asynq.MaxRetry(maxTries), asynq.Timeout(90*time.Second))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		return fmt.Errorf("enqueue attempt %d: %w", p.Attempt, err)
	}
	return nil
}

// HandleSend is the queue handler for TaskSend. It is safe to run any
// number of times for one attempt: the claim in PostgreSQL lets exactly one
// run send.
func (e *Engine) HandleSend(ctx context.Context, t *asynq.Task) error {
	var p SendPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("bad payload: %v: %w", err, asynq.SkipRetry)
	}
	// Take a slot of the sender's rate before claiming, so a claim is never
	// held while waiting.
	if p.Channel != Voice && e.limiter != nil && p.Pace > 0 {
		if err := e.limiter.Wait(ctx, "sms:"+p.Sender, p.Pace, burstFor(p.Pace)); err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
	}
	w, res, err := e.store.ClaimAttempt(ctx, p.Attempt, lease)
	if err != nil {
		return err
	}
	if res != store.Claimed {
		return nil
	}
	defer e.keepClaim(ctx, w)()
	if w.Channel == Voice {
		return e.handleCall(ctx, w)
	}
	return e.sendSMS(ctx, w)
}

// keepClaim renews the claim on w every lease/3 until the returned stop
// is called, so a worker still talking to Twilio keeps its attempt and a
// dead one loses it within a lease.
func (e *Engine) keepClaim(ctx context.Context, w store.Work) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ok, err := e.store.ExtendLease(ctx, w.AttemptID, w.ClaimedAt, lease)
			switch {
			case err != nil && ctx.Err() == nil:
				e.logger.Warn("could not renew the claim on an attempt", "attempt", w.AttemptID, "error", err)
			case err == nil && !ok:
				return // settled, or no longer this worker's
			}
		}
	}()
	return func() { cancel(); <-done }
}

// burstFor lets a small burst through so that a worker that wakes late
// does not lose its slot, while keeping any excess under 2% of a second's
// sending.
func burstFor(pace float64) int {
	b := int(pace / 50)
	if b < 1 {
		b = 1
	}
	return b
}

// ready checks a claimed attempt before it is sent or called: a patient
// who has an outcome or opted out is not contacted, and outside the
// calling window the attempt goes back to the plan for the next opening.
func (e *Engine) ready(ctx context.Context, w store.Work) (bool, error) {
	if w.PatientState == "done" {
		return false, e.store.FailAttempt(ctx, w.AttemptID, "cancelled", 0, "patient already has an outcome")
	}
	if w.OptedOut {
		if err := e.store.FailAttempt(ctx, w.AttemptID, "cancelled", 0, "opted out"); err != nil {
			return false, err
		}
		_, err := e.store.FinishJourney(ctx, w.CampaignID, w.PatientID, "opted_out", "opted out", nil)
		return false, err
	}
	win, err := window.Parse(w.Window)
	if err != nil {
		return false, fmt.Errorf("attempt %d window: %w", w.AttemptID, err)
	}
	if now := e.now(); !win.Open(now) {
		next := win.NextOpen(now)
		e.logger.Info("outside calling window, rescheduled", "attempt", w.AttemptID, "campaign", w.CampaignID, "due", next)
		return false, e.store.Reschedule(ctx, w.AttemptID, next)
	}
	return e.notHeldOff(ctx, w, win)
}

// notHeldOff applies the campaign's hold-off at send time: planning only
// saw the ledger as it was then, so a team contact recorded since puts the
// attempt back to the same time planning would have chosen.
func (e *Engine) notHeldOff(ctx context.Context, w store.Work, win window.Window) (bool, error) {
	pol, err := e.policy(w.Policy)
	if err != nil {
		return false, fmt.Errorf("attempt %d: %w", w.AttemptID, err)
	}
	since := pol.HoldOffSince(e.now())
	if since.IsZero() {
		return true, nil
	}
	at, held, err := e.store.LatestTeamContact(ctx, w.PatientID, since)
	if err != nil || !held {
		return err == nil, err
	}
	until := pol.HoldOffUntil(win, at)
	holdOffs.Inc()
	e.logger.Info("held off: another team contacted the patient, rescheduled", "attempt", w.AttemptID, "campaign", w.CampaignID, "due", until)
	return false, e.store.Reschedule(ctx, w.AttemptID, until)
}

func (e *Engine) sendSMS(ctx context.Context, w store.Work) error {
	log := e.logger.With("attempt", w.AttemptID, "campaign", w.CampaignID)
	if ok, err := e.ready(ctx, w); !ok {
		return err
	}
	pol, err := e.policy(w.Policy)
	if err != nil {
		return fmt.Errorf("attempt %d: %w", w.AttemptID, err)
	}
	if w.Prepared {
		// An earlier try stored this message and may have reached Twilio
		// before its worker died or its answer was lost: adopt that
		// message rather than send again.
		sid, status, found, err := e.findSent(w)
		if err != nil {
			// Sending blind could text the patient twice: try again later.
			return e.sendFailed(ctx, w, pol, fmt.Errorf("look up earlier sends: %w", err))
		}
		if found {
			log.Warn("earlier try had reached Twilio; adopting its message", "tries", w.Tries, "sid", sid)
			return e.store.MarkSent(ctx, store.Sent{AttemptID: w.AttemptID, SID: sid, Status: sentState(status), Wait: pol.Wait(w.Step)})
		}
	} else {
		// Render once and store it before Twilio sees it: every retry
		// sends exactly this text, and finds it at Twilio if it went.
		qn, err := e.Questionnaire(ctx, w.QuestionnaireID)
		if err != nil {
			return err
		}
		body, conv, err := e.attemptText(ctx, qn, w)
		if err != nil {
			return e.giveUp(ctx, w, 0, "cannot render message: "+err.Error())
		}
		ok, err := e.store.PrepareAttempt(ctx, store.Prepared{AttemptID: w.AttemptID, ClaimedAt: w.ClaimedAt, Body: body,
			Conversation: conv, From: w.Sender, Wait: pol.Wait(w.Step)})
		if err != nil {
			return err
		}
		if !ok {
			log.Warn("claim lost before sending; another worker has the attempt")
			return nil
		}
		w.Body, w.StartsConversation, w.SentFrom = body, conv, w.Sender
	}

	params := &openapi.CreateMessageParams{}
	params.SetTo(w.To)
	params.SetBody(w.Body)
	params.SetStatusCallback(e.publicURL + "/webhooks/twilio/sms/status?attempt=" + strconv.FormatInt(w.AttemptID, 10))
	if isServiceSID(w.SentFrom) {
		params.SetMessagingServiceSid(w.SentFrom)
	} else {
		params.SetFrom(w.SentFrom)
	}
	msg, err := e.twilio.Api.CreateMessage(params)
	if err != nil {
		return e.sendFailed(ctx, w, pol, err)
	}
	sid, status := "", "queued"
	if msg.Sid != nil {
		sid = *msg.Sid
	}
	if msg.Status != nil {
		status = *msg.Status
	}
	if err := e.store.MarkSent(ctx, store.Sent{AttemptID: w.AttemptID, SID: sid, Status: sentState(status), Wait: pol.Wait(w.Step)}); err != nil {
		// Twilio has the message; the status callback (which names the
		// attempt) settles it even if this write never lands.
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	smsSent.Inc()
	log.Debug("sms sent", "to", redact.Phone(w.To), "step", w.Step)
	return nil
}

// attemptText renders the text of an attempt: the introduction and first
// question on the first contact, a reminder and the waiting question after.
func (e *Engine) attemptText(ctx context.Context, qn *questionnaire.Questionnaire, w store.Work) (string, json.RawMessage, error) {
	vals := patientValues(w.GivenName, w.PracticeName, w.PracticePhone, w.ProgrammeName, w.TeamPhone)
	var keys []string
	var conv json.RawMessage
	if len(w.Conversation) == 0 || string(w.Conversation) == "null" {
		state, step := qn.Begin()
		keys = step.Messages()
		conv, _ = json.Marshal(state)
	} else {
		var state questionnaire.State
		if err := json.Unmarshal(w.Conversation, &state); err != nil {
			return "", nil, fmt.Errorf("conversation state: %w", err)
		}
		q := qn.Question(state.QuestionID)
		if q == nil {
			return "", nil, fmt.Errorf("conversation is at unknown question %q", state.QuestionID)
		}
		keys = []string{questionnaire.KeyReminder, q.Prompt}
	}
	body, err := e.rend.render(WithCampaign(ctx, w.CampaignID), w.Language, keys, vals)
	return body, conv, err
}

// findSent looks for a message Twilio already has for this attempt: the
// stored text on the attempt's route, created since the attempt's first
// try began (an earlier step's identical reminder is not this attempt's).
// Not filtered on DateSent: a message still queued at Twilio has none.
// Twilio's list cannot be filtered by messaging service, so a message
// sent through one is matched on its messaging_service_sid here.
func (e *Engine) findSent(w store.Work) (sid, status string, found bool, err error) {
	params := &openapi.ListMessageParams{}
	params.SetTo(w.To)
	if !isServiceSID(w.SentFrom) {
		params.SetFrom(w.SentFrom)
	}
	params.SetPageSize(50)
	params.SetLimit(50)
	msgs, err := e.twilio.Api.ListMessage(params)
	if err != nil {
		return "", "", false, err
	}
	for _, m := range msgs {
		if sentByAttempt(m, w) {
			st := "sent"
			if m.Status != nil {
				st = *m.Status
			}
			return *m.Sid, st, true, nil
		}
	}
	return "", "", false, nil
}

// sentByAttempt reports whether a message Twilio lists (already filtered
// on the attempt's number, and on its sender when that is a number) is
// the attempt's: its text, created since the attempt's first try, and,
// for an attempt sent through a messaging service, through that service
// (another campaign's service or number may have sent the same text).
func sentByAttempt(m openapi.ApiV2010Message, w store.Work) bool {
	if m.Sid == nil || m.Body == nil || *m.Body != w.Body || !twilioapi.CreatedSince(m.DateCreated, w.FirstClaimedAt) {
		return false
	}
	if isServiceSID(w.SentFrom) {
		return m.MessagingServiceSid != nil && *m.MessagingServiceSid == w.SentFrom
	}
	return true
}

// sendFailed maps a Twilio error to what happens next. Errors about the
// account or the gateway (wrong credentials, a suspended account, Twilio
// or the network failing across attempts or try after try) hold the
// sender instead of failing the patient; only errors about the patient's
// message fail the attempt.
func (e *Engine) sendFailed(ctx context.Context, w store.Work, pol Policy, err error) error {
	code, status, isTwilio := twilioapi.ErrorCode(err)
	switch {
	case twilioapi.AccountLevel(err):
		return e.holdSender(ctx, w, code, true, "Twilio refused the account: "+clip.Text(err.Error(), 300))
	case isTwilio && code == twilioapi.CodeUnsubscribed:
		// The number replied STOP to Twilio at some point: respect it.
		if err := e.store.FailAttempt(ctx, w.AttemptID, "failed", code, "recipient unsubscribed"); err != nil {
			return err
		}
		_, err := e.store.OptOut(ctx, w.To, "unsubscribed at Twilio (21610)")
		return err
	case isTwilio && (code == twilioapi.CodeInvalidTo || code == twilioapi.CodeNotMobile):
		if err := e.store.FailAttempt(ctx, w.AttemptID, "failed", code, "number cannot receive SMS"); err != nil {
			return err
		}
		return e.moveOn(ctx, w.CampaignID, w.PatientID, w.Step, pol)
	case twilioapi.Temporary(err):
		// Rate limited, Twilio failing or the network down: that is the
		// gateway, not the patient.
		return e.gatewayFault(ctx, w, code, status, err)
	default:
		return e.giveUp(ctx, w, code, clip.Text(err.Error(), 300))
	}
}

// giveUp fails an attempt for good and moves the patient on, so a broken
// attempt never leaves a patient without an outcome.
func (e *Engine) giveUp(ctx context.Context, w store.Work, code int, msg string) error {
	sendErrors.WithLabelValues("final").Inc()
	e.logger.Error("attempt failed for good", "attempt", w.AttemptID, "code", code, "error", msg)
	if err := e.store.FailAttempt(ctx, w.AttemptID, "failed", code, msg); err != nil {
		return err
	}
	pol, err := e.policy(w.Policy)
	if err != nil {
		return err
	}
	return e.moveOn(ctx, w.CampaignID, w.PatientID, w.Step, pol)
}

// moveOn plans the patient's next step after an attempt that cannot be
// answered, or ends the journey as unreachable when the policy is spent.
// Routes that failed for good are skipped (30003, an unreachable handset,
// may work later and is not).
func (e *Engine) moveOn(ctx context.Context, campaignID, patientID int64, after int, pol Policy) error {
	return e.moveOnAt(ctx, campaignID, patientID, after, pol, e.now())
}

// moveOnAt is moveOn with the next attempt due no earlier than due (the
// next opening of the calling window from then).
func (e *Engine) moveOnAt(ctx context.Context, campaignID, patientID int64, after int, pol Policy, due time.Time) error {
	j, err := e.store.Journey(ctx, campaignID, patientID)
	if err != nil {
		return err
	}
	if j.State == "done" || j.State == "conversing" {
		return nil
	}
	// An attempt not settled yet (being sent, retried, or put back while
	// its sender is held) may still reach the patient: the journey waits
	// for it rather than skip ahead.
	if busy, err := e.store.AttemptInFlight(ctx, campaignID, patientID); err != nil || busy {
		return err
	}
	failed, err := e.store.FailedRoutes(ctx, campaignID, patientID)
	if err != nil {
		return err
	}
	skip := func(ch, to string) bool {
		for _, f := range failed {
			if f.Channel == ch && f.To == to && f.ErrorCode != twilioapi.CodeUnreachable {
				return true
			}
		}
		return false
	}
	c := Contact{j.Mobile, j.MobileKind, j.Landline, j.LandlineKind, j.PreferredChannel}
	step, ch, to, ok := pol.NextStep(after, c, skip)
	if !ok {
		_, err := e.store.FinishJourney(ctx, campaignID, patientID, "unreachable", "no answer after every attempt",
			[]store.NeedRow{{Category: "unreachable", Priority: "normal", Detail: "not reached after every attempt of the policy"}})
		return err
	}
	if w, err := window.Parse(j.Window); err == nil {
		due = w.NextOpen(due)
	}
	return e.store.NextAttempt(ctx, campaignID, patientID, step, ch, to, due)
}

// sentState is the state of an attempt Twilio just accepted or listed,
// by the message's status there.
func sentState(status string) string {
	if st, ok := messageState(status); ok {
		return st
	}
	return "sent"
}
