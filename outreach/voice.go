package outreach

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
)

// Caller places a voice attempt. The IVR package provides it; an engine
// without one refuses policies with voice steps, so a voice attempt only
// reaches here if calls were switched off after it was planned.
//
// Call gets an attempt already claimed (so a repeated task never reaches
// it twice), for a patient who may be contacted, inside the calling
// window. It records the call with CallPlaced, or the failure with
// CallFailed, or puts the attempt back with Reschedule when it must wait.
type Caller interface {
	Call(ctx context.Context, w store.Work) error
}

var callsEnded = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "protect_calls_ended_total", Help: "Calls ended, by what happened."}, []string{"result"})

func init() { prometheus.MustRegister(callsEnded) }

// CallEnder is a Caller that keeps something while a call lasts (the
// IVR: a place among its caller number's calls in progress), freed when
// the call's final status arrives.
type CallEnder interface {
	CallEnded(ctx context.Context, cb CallStatus)
}

// CallEnded tells the Caller that a call is over at Twilio: its final
// status callback was applied or kept to be applied. Nothing else about
// the call needs PostgreSQL here.
func (e *Engine) CallEnded(ctx context.Context, cb CallStatus) {
	if ender, ok := e.caller.(CallEnder); ok && cb.Final() {
		ender.CallEnded(ctx, cb)
	}
}

// SetCaller enables voice attempts.
func (e *Engine) SetCaller(c Caller) {
	e.caller = c
	e.voice = c != nil
}

func (e *Engine) handleCall(ctx context.Context, w store.Work) error {
	if e.caller == nil {
		return e.giveUp(ctx, w, 0, "voice calls are not configured on this gateway")
	}
	if ok, err := e.ready(ctx, w); !ok {
		return err
	}
	return e.caller.Call(ctx, w)
}

// BeforeCall is called by the Caller just before it asks Twilio for the
// call: it records the attempt as prepared (a later try then looks for
// this call at Twilio before ringing again) and makes the journey
// findable by the call's webhooks, without starting the step's wait. It
// reports false when the claim is no longer this worker's: do not call.
func (e *Engine) BeforeCall(ctx context.Context, w store.Work, from string) (bool, error) {
	pol, err := ParsePolicy(w.Policy, true)
	if err != nil {
		return false, fmt.Errorf("attempt %d: %w", w.AttemptID, err)
	}
	return e.store.PrepareAttempt(ctx, store.Prepared{AttemptID: w.AttemptID, ClaimedAt: w.ClaimedAt, From: from, Wait: pol.Wait(w.Step)})
}

// PatientValues fills the placeholders of a patient's texts.
func PatientValues(givenName, practiceName, practicePhone, programme, teamPhone string) Values {
	return patientValues(givenName, practiceName, practicePhone, programme, teamPhone)
}

// VoiceText renders voice scripts (template keys) of a campaign's call into
// what to say, in runs of one language: the versions the campaign pins, in
// the patient's language where approved, else English.
func (e *Engine) VoiceText(ctx context.Context, campaignID int64, language string, vals Values, keys ...string) ([]Spoken, error) {
	return e.rend.renderVoice(WithCampaign(ctx, campaignID), language, keys, vals)
}

// CallPlaced records a call Twilio accepted: the attempt is sent and the
// journey waits for the call to end (or, if nothing is heard, for the
// step's wait, which starts now).
func (e *Engine) CallPlaced(ctx context.Context, w store.Work, sid, from string) error {
	pol, err := ParsePolicy(w.Policy, true)
	if err != nil {
		return fmt.Errorf("attempt %d: %w", w.AttemptID, err)
	}
	return e.store.MarkSent(ctx, store.Sent{AttemptID: w.AttemptID, SID: sid, Status: "sent", From: from, Wait: pol.Wait(w.Step)})
}

// CallFailed handles an error from Twilio when placing a call: a
// temporary failure is retried, anything else fails the attempt and moves
// the patient on.
func (e *Engine) CallFailed(ctx context.Context, w store.Work, err error) error {
	pol, perr := ParsePolicy(w.Policy, true)
	if perr != nil {
		return fmt.Errorf("attempt %d: %w", w.AttemptID, perr)
	}
	return e.sendFailed(ctx, w, pol, err)
}

// GiveUpCall fails a claimed voice attempt for good (for example the
// campaign has no number to call from) and moves the patient on.
func (e *Engine) GiveUpCall(ctx context.Context, w store.Work, msg string) error {
	return e.giveUp(ctx, w, 0, msg)
}

// CallStatus is a call status callback from Twilio.
type CallStatus struct {
	AttemptID  int64
	SID        string
	Status     string // queued, ringing, in-progress, completed, busy, no-answer, failed, canceled
	AnsweredBy string
	ErrorCode  string
	To         string
	From       string
}

// callStatuses are Twilio's call statuses.
var callStatuses = []string{"queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled"}

// Final reports whether the status ends the call.
func (c CallStatus) Final() bool {
	switch c.Status {
	case "completed", "busy", "no-answer", "failed", "canceled":
		return true
	}
	return false
}

// What happens after a call, by how it ended.
const (
	callNothing    = iota // the dialog settled the journey
	callRetry             // nobody to talk to: the next step, after the retry gap
	callSkip              // the number is no good for calls: the next step at once
	callPartPlayed        // a person hung up or went quiet part-way
)

// callEnd maps a final call status and the dialog's result to the
// attempt's state and what happens next.
func callEnd(status string, sum store.CallSummary) (state, errMsg string, next int) {
	switch status {
	case "busy", "no-answer", "canceled":
		return "unanswered", "call " + status, callRetry
	case "failed":
		return "failed", "call failed", callSkip
	}
	switch sum.Result {
	case "finished", "handover", "transferred", "callback", "not-patient", "identity-failed":
		return "answered", "", callNothing
	case "voicemail":
		return "unanswered", "answering machine: voicemail left", callRetry
	case "fax":
		return "failed", "a fax machine answered", callSkip
	}
	if !sum.Found {
		return "unanswered", "call ended before the dialog began", callRetry
	}
	return "unanswered", "call ended part-way", callPartPlayed
}

// HandleCallStatus applies a call's final status once. Busy, no answer and
// a voicemail lead to the policy's next step after the campaign's retry
// gap; a failed call or a fax machine skips that number at once; a
// questionnaire finished on the call (or a transfer to the team) has
// already settled the journey. A person who hung up or went quiet part-way
// keeps the answers they gave: if they reported a need, a person follows
// up (outcome need, with a call-back need); if not, the policy's next
// step (which resumes at the question they stopped at) is due after the
// retry gap, and the patient ends unreachable if the policy is spent.
func (e *Engine) HandleCallStatus(ctx context.Context, cb CallStatus) error {
	if !slices.Contains(callStatuses, cb.Status) {
		statusIgnored.WithLabelValues("unknown_status").Inc()
		return fmt.Errorf("%w: unknown call status %q", ErrBadCallback, clip.Text(cb.Status, 40))
	}
	if !cb.Final() {
		return nil
	}
	sum, err := e.store.EndCall(ctx, cb.SID, cb.Status)
	if err != nil {
		return err
	}
	state, msg, next := callEnd(cb.Status, sum)
	code, _ := strconv.Atoi(cb.ErrorCode)
	st, err := e.applyStatus(ctx, store.StatusEvent{AttemptID: cb.AttemptID, SID: cb.SID, Status: cb.Status,
		ErrorCode: code, ErrorMsg: msg}, state, route{to: cb.To, from: cb.From})
	if err != nil {
		return err
	}
	if !st.First {
		return nil
	}
	result := sum.Result
	if result == "" {
		result = cb.Status
	}
	callsEnded.WithLabelValues(result).Inc()
	if !st.Moved || st.PatientDone || next == callNothing {
		return nil
	}
	c, err := e.store.Campaign(ctx, st.CampaignID)
	if err != nil {
		return err
	}
	pol, err := ParsePolicy(c.Policy, true)
	if err != nil {
		return err
	}
	now := e.now()
	switch next {
	case callSkip:
		return e.moveOnAt(ctx, st.CampaignID, st.PatientID, st.Step, pol, now)
	case callPartPlayed:
		var conv questionnaire.State
		if len(sum.Conversation) > 0 {
			if err := json.Unmarshal(sum.Conversation, &conv); err != nil {
				return fmt.Errorf("conversation of %d/%d: %w", st.CampaignID, st.PatientID, err)
			}
		}
		if len(conv.Needs) > 0 {
			_, err := e.store.FinishJourney(ctx, st.CampaignID, st.PatientID, "need", "call ended part-way after a need was reported",
				[]store.NeedRow{{Category: string(questionnaire.CategoryCallBack), Priority: "normal",
					Detail: fmt.Sprintf("call ended at question %q", conv.QuestionID)}})
			return err
		}
	}
	return e.moveOnAt(ctx, st.CampaignID, st.PatientID, st.Step, pol, now.Add(pol.RetryAfter()))
}
