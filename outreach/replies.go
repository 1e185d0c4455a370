package outreach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twilio/twilio-go/twiml"

	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
)

// InboundSMS is an SMS received through the webhook.
type InboundSMS struct {
	SID  string
	From string
	To   string
	Body string
}

// maxStoredBody bounds what is kept of one inbound message (Twilio's own
// limit is 1,600 characters).
const maxStoredBody = 4096

// EmptyTwiML answers a webhook without sending anything.
const EmptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// HandleInbound stores an inbound SMS, acts on it and returns the TwiML to
// answer the webhook with, all in one transaction (shared with the replies
// that arrive at the same time, see replybatch.go). A repeated webhook
// (same MessageSid) is acted on once and answered with the same TwiML.
func (e *Engine) HandleInbound(ctx context.Context, in InboundSMS) (string, error) {
	// A body PostgreSQL could not store (invalid UTF-8, NUL bytes) is kept
	// for a person rather than failing every retry of the webhook.
	in.Body = clip.Text(in.Body, maxStoredBody)
	res, err := e.handleReply(ctx, in)
	if err != nil {
		return "", err
	}
	if res.Duplicate {
		repliesHandled.WithLabelValues("duplicate").Inc()
		if res.TwiML == "" {
			// The first delivery died before answering: answer nothing
			// rather than risk a second reply.
			return EmptyTwiML, nil
		}
		return res.TwiML, nil
	}
	if len(res.Reply.Needs) > 0 {
		e.NeedsRecorded(ctx)
	}
	repliesHandled.WithLabelValues(res.Reply.Kind).Inc()
	return res.TwiML, nil
}

// decide works out what an inbound message means and what to answer.
func (e *Engine) decide(ctx context.Context, tx *store.InboundTx, in InboundSMS) (store.Reply, error) {
	r := store.Reply{From: in.To, To: in.From}
	j, convErr := tx.OpenConversation(ctx)
	if convErr != nil && !errors.Is(convErr, store.ErrNotFound) {
		return r, convErr
	}
	open := convErr == nil

	switch questionnaire.ParseKeyword(in.Body) {
	case questionnaire.KeywordStop:
		ids, err := tx.OptOut(ctx, in.From, "replied "+strings.ToUpper(questionnaire.Normalize(in.Body)))
		if err != nil {
			return r, err
		}
		r.Kind = "opt_out"
		if len(ids) > 0 {
			r.PatientID = ids[0]
		}
		if open {
			r.CampaignID = j.CampaignID
		}
		return e.answerWith(ctx, r, j, open, questionnaire.KeyOptOut)
	case questionnaire.KeywordStart:
		ids, err := tx.OptIn(ctx, in.From)
		if err != nil {
			return r, err
		}
		r.Kind = "opt_in"
		if len(ids) > 0 {
			r.PatientID = ids[0]
		}
		return e.answerWith(ctx, r, j, open, questionnaire.KeyOptIn)
	case questionnaire.KeywordHelp:
		r.Kind = "help"
		if open {
			r.PatientID, r.CampaignID = j.PatientID, j.CampaignID
		}
		return e.answerWith(ctx, r, j, open, questionnaire.KeyHelp)
	}

	if !open {
		// Nothing is discarded: a message outside a conversation is kept
		// for a person to read.
		r.NeedsHuman = true
		ids, err := tx.PatientsByNumber(ctx, in.From)
		if err != nil {
			return r, err
		}
		if len(ids) == 0 {
			r.Kind = "unknown_sender"
			r.TwiML = EmptyTwiML
			return r, nil
		}
		r.Kind, r.PatientID = "no_conversation", ids[0]
		r.Needs = []store.NeedRow{{Category: string(questionnaire.CategoryUnclearReply), Priority: "normal",
			Detail: "message received outside a questionnaire"}}
		return e.answerWith(ctx, r, j, false, questionnaire.KeyHandover)
	}
	return e.converse(ctx, r, j, in)
}

// converse advances the patient's questionnaire with their reply.
func (e *Engine) converse(ctx context.Context, r store.Reply, j store.Journey, in InboundSMS) (store.Reply, error) {
	r.PatientID, r.CampaignID = j.PatientID, j.CampaignID
	qn, err := e.Questionnaire(ctx, j.QuestionnaireID)
	if err != nil {
		return r, err
	}
	var state questionnaire.State
	if err := json.Unmarshal(j.Conversation, &state); err != nil {
		return r, fmt.Errorf("conversation state of %d/%d: %w", j.CampaignID, j.PatientID, err)
	}
	q := qn.Question(state.QuestionID)
	if q == nil || state.Done {
		return r, fmt.Errorf("conversation %d/%d is not waiting for an answer", j.CampaignID, j.PatientID)
	}
	opt, res := q.Match(in.Body)
	var next questionnaire.State
	var step questionnaire.Step
	if res == questionnaire.MatchOK {
		next, step, err = qn.Advance(state, opt)
		r.Kind = "answer"
		r.Answer = &store.AnswerRow{Question: q.ID, Option: opt.Key, Raw: in.Body, Channel: SMS}
	} else {
		next, step, err = qn.NoMatch(state)
		r.Kind = "unmatched"
		r.NeedsHuman = true
	}
	if err != nil {
		return r, err
	}
	for _, n := range step.NewNeeds {
		detail := "answered " + n.Option + " to " + n.Question
		if n.Category == questionnaire.CategoryUnclearReply {
			detail = "reply not understood twice"
		}
		r.Needs = append(r.Needs, store.NeedRow{Category: string(n.Category), Priority: string(n.Priority), Detail: detail})
	}
	r.Conversation, _ = json.Marshal(next)
	if step.Done {
		r.JourneyState, r.Outcome = "done", string(step.Outcome)
		r.Reason = "questionnaire finished"
		if step.Handover {
			r.Reason = "reply not understood: handed to a person"
		}
	} else {
		r.JourneyState = "conversing"
		pol, err := e.policy(j.Policy)
		if err != nil {
			return r, err
		}
		until := e.now().Add(time.Duration(pol.ConversationTimeout))
		r.WaitUntil = &until
	}
	return e.reply(ctx, r, j, true, step)
}

// reply renders the step's messages: advice first, each in a message of
// its own so it stands out, then the rest together.
func (e *Engine) reply(ctx context.Context, r store.Reply, j store.Journey, known bool, step questionnaire.Step) (store.Reply, error) {
	lang := "en"
	if known {
		lang = j.Language
		ctx = WithCampaign(ctx, j.CampaignID)
	}
	vals := patientValues(j.GivenName, j.PracticeName, j.PracticePhone, j.ProgrammeName, j.TeamPhone)
	var bodies []string
	for _, k := range step.Advice {
		s, err := e.rend.render(ctx, lang, []string{k}, vals)
		if err != nil {
			return r, err
		}
		bodies = append(bodies, s)
	}
	var rest []string
	for _, k := range []string{step.NotUnderstood, step.Prompt, step.Closing} {
		if k != "" {
			rest = append(rest, k)
		}
	}
	if len(rest) > 0 {
		s, err := e.rend.render(ctx, lang, rest, vals)
		if err != nil {
			return r, err
		}
		bodies = append(bodies, s)
	}
	r.Outbound = bodies
	tw, err := messagingTwiML(bodies)
	r.TwiML = tw
	return r, err
}

// answerWith replies with one system text.
func (e *Engine) answerWith(ctx context.Context, r store.Reply, j store.Journey, known bool, key string) (store.Reply, error) {
	return e.reply(ctx, r, j, known, questionnaire.Step{Closing: key})
}

func messagingTwiML(bodies []string) (string, error) {
	if len(bodies) == 0 {
		return EmptyTwiML, nil
	}
	els := make([]twiml.Element, 0, len(bodies))
	for _, b := range bodies {
		els = append(els, &twiml.MessagingMessage{Body: b})
	}
	out, err := twiml.Messages(els)
	if err != nil {
		return "", fmt.Errorf("build TwiML: %w", err)
	}
	return out, nil
}

// NeedsRecorded tells escalation intake that needs were just committed, so
// urgent ones are routed and alerted at once rather than at the next sweep.
func (e *Engine) NeedsRecorded(ctx context.Context) {
	if e.needs != nil {
		e.needs(ctx)
	}
}
