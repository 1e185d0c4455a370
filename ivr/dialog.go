package ivr

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
)

// Voice-only template keys the IVR says besides the questionnaire's.
const (
	KeyGreeting        = questionnaire.KeyGreeting
	KeyInvalidOption   = questionnaire.KeyInvalidOption
	KeyNoInput         = questionnaire.KeyNoInput
	KeyCallBackPromise = questionnaire.KeyCallBackPromise
)

// Call phases (calls.phase).
const (
	phaseGreeting  = "greeting"
	phaseIdentify  = "identify"
	phaseVerify    = "verify"
	phaseQuestions = "questions"
	phaseOperator  = "operator"
	phaseDone      = "done"
)

// maxNoInput is how many prompts in a row may go unanswered: the first
// and two repeats, then goodbye.
const maxNoInput = 3

// dialTimeout is how long (seconds) the team's line rings.
const dialTimeout = 25

// turn is one webhook of a call.
type turn struct {
	kind       string // answer, gather, dial
	digits     string // "#" alone, the finishing key, arrives as ""
	answeredBy string
	dialStatus string
}

// dialog decides one step of a call. say renders template keys into what
// to say, in the patient's language where it has wording, with their values.
type dialog struct {
	qn        *questionnaire.Questionnaire
	sp        Speech
	say       func(keys ...string) ([]outreach.Spoken, error)
	gatherURL string // action of the next Gather
	dialURL   string // action of a Dial
	// whisperURL is what the team member hears before a transfer connects.
	whisperURL string
	teamPhone  string // E.164, or "" when the campaign has none
	callerID   string
	// lang is the language the call is said in (en when its voice is
	// missing).
	lang string
	now  func() time.Time
}

// decide works out what a webhook does to the call.
func (g *dialog) decide(c store.CallDialog, t turn) (store.CallChange, error) {
	ch := store.CallChange{Phase: c.Phase, NoInput: c.NoInput, IdentityTries: c.IdentityTries, IdentityResult: c.IdentityResult}
	d := &doc{sp: g.sp}
	var err error
	switch {
	case t.kind == "answer":
		err = g.answer(c, t, &ch, d)
	case t.kind == "dial" && c.Phase == phaseOperator:
		err = g.dialed(c, t, &ch, d)
	case t.kind == "gather" && c.Phase == phaseGreeting:
		err = g.greetingKey(c, t, &ch, d)
	case t.kind == "gather" && c.Phase == phaseIdentify:
		err = g.identifyKey(c, t, &ch, d)
	case t.kind == "gather" && c.Phase == phaseVerify:
		err = g.verifyKey(c, t, &ch, d)
	case t.kind == "gather" && c.Phase == phaseQuestions:
		err = g.questionKey(c, t, &ch, d)
	default:
		// A request that does not fit the phase (the dialog has ended).
		d.hangup()
	}
	if err != nil {
		return ch, err
	}
	if ch.TwiML, err = d.String(); err != nil || !ch.Private {
		return ch, err
	}
	// What was typed is read back to the caller but never kept: a repeated
	// webhook replays the document without it.
	ch.StoredTwiML, err = d.stored()
	return ch, err
}

func (g *dialog) answer(c store.CallDialog, t turn, ch *store.CallChange, d *doc) error {
	switch {
	case strings.HasPrefix(t.answeredBy, "machine"):
		ch.Phase, ch.Result = phaseDone, "voicemail"
		return g.sayThenHangup(d, questionnaire.KeyVoicemail)
	case t.answeredBy == "fax":
		ch.Phase, ch.Result = phaseDone, "fax"
		d.hangup()
		return nil
	case c.JourneyState == "done":
		// Answered by text since the call was placed.
		ch.Phase, ch.Result = phaseDone, "finished"
		return g.sayThenHangup(d, questionnaire.KeyGoodbye)
	}
	ch.Phase = phaseGreeting
	return g.ask(d, KeyGreeting)
}

// ask says the prompt (template keys) in a Gather.
func (g *dialog) ask(d *doc, keys ...string) error {
	text, err := g.say(keys...)
	if err != nil {
		return err
	}
	d.gather(g.gatherURL, text)
	return nil
}

func (g *dialog) sayThenHangup(d *doc, keys ...string) error {
	text, err := g.say(keys...)
	if err != nil {
		return err
	}
	d.say(text).hangup()
	return nil
}

// silence handles a Gather that timed out: the prompt again, twice at
// most, then goodbye (the call counts as unanswered from there on).
func (g *dialog) silence(ch *store.CallChange, d *doc, prompt string) error {
	ch.NoInput++
	if ch.NoInput >= maxNoInput {
		ch.Phase, ch.Result = phaseDone, "no-input"
		return g.sayThenHangup(d, questionnaire.KeyGoodbye)
	}
	return g.ask(d, KeyNoInput, prompt)
}

func (g *dialog) greetingKey(c store.CallDialog, t turn, ch *store.CallChange, d *doc) error {
	switch k := strings.TrimSpace(t.digits); {
	case k == "":
		return g.silence(ch, d, KeyGreeting)
	case k == questionnaire.DigitKeyRepeat:
		ch.NoInput = 0
		return g.ask(d, KeyGreeting)
	case k == questionnaire.DigitKeyOperator:
		return g.operator(c, ch, d)
	case len(k) == 1 && k >= "1" && k <= "8" && checks(c.IdentityCheck) && c.IdentityResult != identityPassed:
		// The greeting named no one; now ask who this is.
		ch.Phase, ch.NoInput = phaseIdentify, 0
		return g.ask(d, questionnaire.KeyIdentityWho)
	case len(k) == 1 && k >= "1" && k <= "8":
		return g.begin(c, ch, d)
	default:
		ch.NoInput = 0
		return g.ask(d, KeyInvalidOption, KeyGreeting)
	}
}

// begin goes on from the greeting: the introduction and the question the
// journey is waiting on (the first, or where an earlier call stopped).
func (g *dialog) begin(c store.CallDialog, ch *store.CallChange, d *doc) error {
	ch.Phase, ch.NoInput = phaseQuestions, 0
	state, err := conversation(c)
	if err != nil {
		return err
	}
	var keys []string
	if state == nil {
		s, step := g.qn.Begin()
		state = &s
		ch.Conversation, _ = json.Marshal(s)
		keys = step.Messages()
	} else {
		step, err := g.qn.Repeat(*state)
		if err != nil {
			return fmt.Errorf("call %s: %w", c.CallSID, err)
		}
		if len(state.Answers) == 0 && g.qn.Intro != "" {
			keys = append(keys, g.qn.Intro)
		}
		keys = append(keys, step.Prompt)
	}
	return g.ask(d, keys...)
}

func conversation(c store.CallDialog) (*questionnaire.State, error) {
	if len(c.Conversation) == 0 || string(c.Conversation) == "null" {
		return nil, nil
	}
	var s questionnaire.State
	if err := json.Unmarshal(c.Conversation, &s); err != nil {
		return nil, fmt.Errorf("conversation of call %s: %w", c.CallSID, err)
	}
	return &s, nil
}

func (g *dialog) questionKey(c store.CallDialog, t turn, ch *store.CallChange, d *doc) error {
	state, err := conversation(c)
	if err != nil {
		return err
	}
	if state == nil || state.Done {
		ch.Phase = phaseDone
		return g.sayThenHangup(d, questionnaire.KeyGoodbye)
	}
	q := g.qn.Question(state.QuestionID)
	if q == nil {
		return fmt.Errorf("call %s: %w: %q", c.CallSID, questionnaire.ErrUnknownQuestion, state.QuestionID)
	}
	opt, res := q.MatchDigit(t.digits)
	switch res {
	case questionnaire.DigitNone:
		return g.silence(ch, d, q.Prompt)
	case questionnaire.DigitRepeat:
		ch.NoInput = 0
		return g.ask(d, q.Prompt)
	case questionnaire.DigitOperator:
		return g.operator(c, ch, d)
	case questionnaire.DigitInvalid:
		ch.NoInput = 0
		next, step, err := g.qn.NoMatch(*state)
		if err != nil {
			return err
		}
		ch.Conversation, _ = json.Marshal(next)
		ch.Needs = needRows(step)
		if step.Done {
			return g.finish(ch, d, step)
		}
		return g.ask(d, KeyInvalidOption, step.Prompt)
	}
	ch.NoInput = 0
	next, step, err := g.qn.Advance(*state, opt)
	if err != nil {
		return err
	}
	ch.Conversation, _ = json.Marshal(next)
	ch.Answer = &store.AnswerRow{Question: q.ID, Option: opt.Key, Raw: t.digits, Channel: "voice"}
	ch.Needs = needRows(step)
	if len(step.Advice) > 0 {
		// Urgent advice first, on its own, before anything else.
		text, err := g.say(step.Advice...)
		if err != nil {
			return err
		}
		d.say(text).pause()
	}
	if step.Done {
		return g.finish(ch, d, step)
	}
	return g.ask(d, step.Prompt)
}

// finish closes a questionnaire finished on the call (or handed to a
// person after two wrong keys).
func (g *dialog) finish(ch *store.CallChange, d *doc, step questionnaire.Step) error {
	ch.Phase, ch.Result = phaseDone, "finished"
	ch.Outcome, ch.Reason = string(step.Outcome), "questionnaire finished on a call"
	if step.Handover {
		ch.Result, ch.Reason = "handover", "keys not understood on a call: handed to a person"
	}
	return g.sayThenHangup(d, step.Closing, questionnaire.KeyGoodbye)
}

func needRows(step questionnaire.Step) []store.NeedRow {
	var out []store.NeedRow
	for _, n := range step.NewNeeds {
		detail := "pressed " + n.Option + " to " + n.Question + " on a call"
		if n.Category == questionnaire.CategoryUnclearReply {
			detail = "pressed a key that is not an option twice on a call"
		}
		out = append(out, store.NeedRow{Category: string(n.Category), Priority: string(n.Priority), Detail: detail})
	}
	return out
}

// operator connects the caller to the team's line, or promises a call
// back when the campaign has none.
func (g *dialog) operator(c store.CallDialog, ch *store.CallChange, d *doc) error {
	ch.NoInput = 0
	if g.teamPhone == "" {
		return g.callBack(c, ch, d)
	}
	ch.Phase = phaseOperator
	text, err := g.say(questionnaire.KeyOperator)
	if err != nil {
		return err
	}
	d.say(text).dial(g.teamPhone, g.callerID, g.dialURL, g.whisperURL, dialTimeout)
	return nil
}

// dialed learns how the transfer went: a person spoke to the patient
// (they record what was agreed), or nobody answered and a call back is
// promised.
func (g *dialog) dialed(c store.CallDialog, t turn, ch *store.CallChange, d *doc) error {
	// Only a team member who pressed 1 at the whisper took the call:
	// Twilio reports a Dial whose whisper hung up as completed too.
	if (t.dialStatus != "completed" && t.dialStatus != "answered") || !c.TransferAccepted {
		return g.callBack(c, ch, d)
	}
	ch.Phase, ch.Result = phaseDone, "transferred"
	ch.Outcome, ch.Reason = "need", "pressed 0 on a call and spoke to the team"
	detail := "pressed 0 on a call and was put through to the team: record what was agreed"
	if !confirmed(c, ch) {
		detail += " (before the identity check passed: the team member confirms who they spoke to)"
	}
	ch.Needs = append(ch.Needs, store.NeedRow{Category: string(questionnaire.CategoryCallBack), Priority: "low", Detail: detail})
	d.hangup()
	return nil
}

func (g *dialog) callBack(c store.CallDialog, ch *store.CallChange, d *doc) error {
	ch.Phase, ch.Result = phaseDone, "callback"
	ch.Outcome, ch.Reason = "need", "pressed 0 on a call; nobody was free: call back promised"
	detail := "pressed 0 on a call to speak to a person; nobody answered, a call back was promised"
	promise := KeyCallBackPromise
	if !confirmed(c, ch) {
		// Not yet known to be the patient: no advice about feeling worse.
		promise = questionnaire.KeyCallBackPromiseUnconfirmed
		detail += " (before the identity check passed: confirm who you are speaking to)"
	}
	ch.Needs = append(ch.Needs, store.NeedRow{Category: string(questionnaire.CategoryCallBack), Priority: "high", Detail: detail})
	return g.sayThenHangup(d, promise)
}

// e164 turns a UK team number as campaigns hold it ("01603 000000") into
// E.164 for a Dial; "" when it is not a number.
func e164(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return ""
		}
	}
	n := b.String()
	switch {
	case strings.HasPrefix(n, "+") && len(n) >= 8:
		return n
	case strings.HasPrefix(n, "0") && len(n) >= 10:
		return "+44" + n[1:]
	}
	return ""
}
