package questionnaire

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
)

// Template keys the engine and its callers use beyond those named in a
// questionnaire file. DefaultTexts has a text for each.
const (
	// KeyNotUnderstood is sent or said before the question is asked again
	// after a reply that was not understood (unless the question has a
	// Reprompt).
	KeyNotUnderstood = "system.not_understood"
	// KeyHandover closes the questionnaire after a second reply that was
	// not understood: a person will read it.
	KeyHandover = "system.handover"
	// KeyEndFine is the default closing message when no need was reported.
	KeyEndFine = "system.end_fine"
	// KeyEndNeed is the default closing message when a need was reported.
	KeyEndNeed = "system.end_need"
	// KeyHelp answers HELP and INFO.
	KeyHelp = "system.help"
	// KeyOptOut confirms STOP and the other opt-out keywords.
	KeyOptOut = "system.opt_out"
	// KeyOptIn confirms START and UNSTOP.
	KeyOptIn = "system.opt_in"
	// KeyOperator is said before connecting a caller who pressed 0.
	KeyOperator = "system.operator"
	// KeyVoicemail is left on an answering machine: no personal or
	// clinical detail.
	KeyVoicemail = "system.voicemail"
	// KeyGoodbye is said before hanging up.
	KeyGoodbye = "system.goodbye"
	// KeyReminder opens a second or later attempt, before the question
	// still waiting for an answer.
	KeyReminder = "system.reminder"
	// KeyGreeting opens a call: who is calling and how to go on, nothing
	// personal.
	KeyGreeting = "system.greeting"
	// KeyInvalidOption is said before a question is asked again after a
	// key that is not one of its options.
	KeyInvalidOption = "system.invalid_option"
	// KeyNoInput is said before a prompt is repeated after silence.
	KeyNoInput = "system.no_input"
	// KeyCallBackPromise is said when a caller pressed 0 and nobody at the
	// team's line answered.
	KeyCallBackPromise = "system.callback_promise"
)

// SystemTemplateKeys returns the template keys a caller needs whatever the
// questionnaire: the keyword replies, the voice operator, voicemail and
// goodbye messages, and the engine's defaults.
func SystemTemplateKeys() []string {
	return []string{KeyCallBackPromise, KeyCallBackPromiseUnconfirmed, KeyEndFine, KeyEndNeed, KeyGoodbye, KeyGreeting,
		KeyHandover, KeyHelp, KeyIdentityDOB, KeyIdentityFailed, KeyIdentityNotPatient, KeyIdentityRetry, KeyIdentityWho,
		KeyIdentityYear, KeyInvalidOption, KeyNoInput, KeyNotUnderstood, KeyOperator, KeyOptIn, KeyOptOut, KeyReminder,
		KeyVoicemail}
}

// Voice scripts of a call's identity check. Nothing said before the check
// passes may hold a name (but the first name in KeyIdentityWho), a date
// of birth or anything clinical.
const (
	// KeyIdentityWho asks "if you are <first name>, press 1; if not, 2".
	KeyIdentityWho = "system.identity_who"
	// KeyIdentityDOB asks for the day and month of birth (DDMM, then #).
	KeyIdentityDOB = "system.identity_dob"
	// KeyIdentityYear asks for the year of birth (YYYY, then #).
	KeyIdentityYear = "system.identity_year"
	// KeyIdentityRetry asks once more after a wrong or unusable answer.
	KeyIdentityRetry = "system.identity_retry"
	// KeyIdentityFailed ends a call whose check failed, politely.
	KeyIdentityFailed = "system.identity_failed"
	// KeyIdentityNotPatient gives someone who is not the patient the
	// team's number to pass on, and ends the call.
	KeyIdentityNotPatient = "system.identity_not_patient"
	// KeyCallBackPromiseUnconfirmed is KeyCallBackPromise for a caller not
	// yet confirmed to be the patient: no advice about feeling worse.
	KeyCallBackPromiseUnconfirmed = "system.callback_promise_unconfirmed"
)

// Outcome is how a finished questionnaire ended.
type Outcome string

// Outcomes. The zero value means not finished.
const (
	OutcomeNone Outcome = ""
	// OutcomeFine: finished and no need was reported.
	OutcomeFine Outcome = "fine"
	// OutcomeNeed: finished and at least one need was reported, including
	// an unclear-reply need raised by the engine.
	OutcomeNeed Outcome = "need"
)

// Answer is one accepted answer.
type Answer struct {
	Question string `json:"question"`
	Option   string `json:"option"`
}

// ReportedNeed is a need reported by an answer, or raised by the engine
// (CategoryUnclearReply, Option "").
type ReportedNeed struct {
	Need
	Question string `json:"question"`
	Option   string `json:"option,omitempty"`
}

// State is a patient's progress through a questionnaire. It is a plain
// value: store it as JSON (for example in a jsonb column) between replies,
// with the questionnaire's ID, version and checksum, and pass it back.
type State struct {
	// QuestionID is the question waiting for an answer; "" when Done.
	QuestionID string `json:"question_id,omitempty"`
	// Answers are the accepted answers, oldest first.
	Answers []Answer `json:"answers,omitempty"`
	// Needs are all needs reported so far, oldest first.
	Needs []ReportedNeed `json:"needs,omitempty"`
	// Retries counts replies to the current question that were not
	// understood.
	Retries int `json:"retries,omitempty"`
	// Done is true once the questionnaire has finished.
	Done bool `json:"done,omitempty"`
	// Outcome is set when Done.
	Outcome Outcome `json:"outcome,omitempty"`
}

// Step tells the caller what to send (SMS) or say (voice) next. Send the
// keys from Messages in order; on a call, say them and Gather one digit
// while saying Prompt.
type Step struct {
	// Intro is the questionnaire's intro key, only from Begin.
	Intro string `json:"intro,omitempty"`
	// Advice are template keys of advice to give at once, before anything
	// else (for example "advice.urgent_999").
	Advice []string `json:"advice,omitempty"`
	// NewNeeds are needs reported by this answer. Escalate them now; do not
	// wait for the questionnaire to finish (the patient may stop replying
	// or opt out).
	NewNeeds []ReportedNeed `json:"new_needs,omitempty"`
	// Reask is true when the same question is asked again because the
	// reply was not understood.
	Reask bool `json:"reask,omitempty"`
	// NotUnderstood is KeyNotUnderstood when Reask and the question has no
	// Reprompt; it goes before Prompt.
	NotUnderstood string `json:"not_understood,omitempty"`
	// QuestionID is the question now waiting for an answer; "" when Done.
	QuestionID string `json:"question_id,omitempty"`
	// Prompt is the template key of that question (its Reprompt when
	// re-asking, if it has one).
	Prompt string `json:"prompt,omitempty"`
	// Handover is true when a reply was not understood twice: the
	// questionnaire stops and a person must read the replies (a
	// CategoryUnclearReply need is in NewNeeds).
	Handover bool `json:"handover,omitempty"`
	// Done is true when the questionnaire has finished.
	Done bool `json:"done,omitempty"`
	// Outcome is the final outcome when Done.
	Outcome Outcome `json:"outcome,omitempty"`
	// Closing is the template key of the closing message when Done.
	Closing string `json:"closing,omitempty"`
}

// Messages returns the step's template keys in the order to send or say
// them: intro, advice, not-understood, prompt, closing.
func (s Step) Messages() []string {
	var out []string
	for _, k := range append(append([]string{s.Intro}, s.Advice...), s.NotUnderstood, s.Prompt, s.Closing) {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

// Errors returned by the engine. They mean the caller's state does not fit
// the questionnaire (for example the questionnaire changed under a stored
// state, or an option of another question was passed), never a patient
// error.
var (
	ErrFinished        = errors.New("questionnaire: already finished")
	ErrUnknownQuestion = errors.New("questionnaire: state refers to an unknown question")
	ErrNotAnOption     = errors.New("questionnaire: option does not belong to the current question")
)

// Begin returns the state at the start question and the first step: the
// intro and the first prompt.
func (qn *Questionnaire) Begin() (State, Step) {
	s := State{QuestionID: qn.Start}
	st := Step{Intro: qn.Intro, QuestionID: qn.Start}
	if q := qn.Question(qn.Start); q != nil {
		st.Prompt = q.Prompt
	}
	return s, st
}

// Repeat returns the step that asks the current question again without
// changing the state: voice digit 9, or resending a question.
func (qn *Questionnaire) Repeat(s State) (Step, error) {
	if s.Done {
		return Step{}, ErrFinished
	}
	q := qn.Question(s.QuestionID)
	if q == nil {
		return Step{}, fmt.Errorf("%w: %q", ErrUnknownQuestion, s.QuestionID)
	}
	return Step{QuestionID: q.ID, Prompt: q.Prompt}, nil
}

// maxAnswers bounds a run through a questionnaire with loops.
func (qn *Questionnaire) maxAnswers() int { return 4*len(qn.Questions) + 4 }

// Advance records the answer opt to the current question and moves on. A
// need on the option is added to the state and returned in Step.NewNeeds;
// advice is returned in Step.Advice; then the next question is asked or, at
// End, the questionnaire finishes with OutcomeFine if no need was ever
// reported and OutcomeNeed otherwise. opt must be an option of the current
// question, as returned by Match or MatchDigit (an equal option of another
// question is refused with ErrNotAnOption). The given state is not
// modified.
//
// A questionnaire with loops that a patient keeps going round finishes
// after 4 answers per question with an unclear-reply need, so that a person
// looks at it.
func (qn *Questionnaire) Advance(s State, opt Option) (State, Step, error) {
	if s.Done {
		return s, Step{}, ErrFinished
	}
	q := qn.Question(s.QuestionID)
	if q == nil {
		return s, Step{}, fmt.Errorf("%w: %q", ErrUnknownQuestion, s.QuestionID)
	}
	o, ok := q.Option(opt.Key)
	if !ok || !reflect.DeepEqual(o, opt) {
		return s, Step{}, fmt.Errorf("%w: %q is not an option of %q", ErrNotAnOption, opt.Key, q.ID)
	}
	ns := s.copy()
	ns.Retries = 0
	ns.Answers = append(ns.Answers, Answer{Question: q.ID, Option: o.Key})
	var st Step
	if o.Need != nil {
		rn := ReportedNeed{Need: *o.Need, Question: q.ID, Option: o.Key}
		ns.Needs = append(ns.Needs, rn)
		st.NewNeeds = append(st.NewNeeds, rn)
	}
	if o.Advice != "" {
		st.Advice = append(st.Advice, o.Advice)
	}
	next := qn.Question(o.Next)
	switch {
	case o.Next == End:
		qn.finish(&ns, &st, false)
	case next == nil:
		return s, Step{}, fmt.Errorf("%w: %q (next of %q in %q)", ErrUnknownQuestion, o.Next, o.Key, q.ID)
	case len(ns.Answers) >= qn.maxAnswers():
		rn := ReportedNeed{Need: Need{Category: CategoryUnclearReply, Priority: PriorityHigh}, Question: next.ID}
		ns.Needs = append(ns.Needs, rn)
		st.NewNeeds = append(st.NewNeeds, rn)
		qn.finish(&ns, &st, true)
	default:
		ns.QuestionID = next.ID
		st.QuestionID = next.ID
		st.Prompt = next.Prompt
	}
	return ns, st, nil
}

// NoMatch handles a reply to the current question that was not understood:
// a text that Match did not match, or an invalid or missing keypad press.
// The first time, the question is asked again (Step.Reask). The second
// time, the questionnaire stops asking: it finishes with OutcomeNeed and a
// CategoryUnclearReply need with the question's UnclearPriority, and
// Step.Handover asks the caller to put the replies before a person. Needs
// reported earlier are kept.
func (qn *Questionnaire) NoMatch(s State) (State, Step, error) {
	if s.Done {
		return s, Step{}, ErrFinished
	}
	q := qn.Question(s.QuestionID)
	if q == nil {
		return s, Step{}, fmt.Errorf("%w: %q", ErrUnknownQuestion, s.QuestionID)
	}
	ns := s.copy()
	ns.Retries++
	var st Step
	if ns.Retries < 2 {
		st.Reask = true
		st.QuestionID = q.ID
		if q.Reprompt != "" {
			st.Prompt = q.Reprompt
		} else {
			st.NotUnderstood = KeyNotUnderstood
			st.Prompt = q.Prompt
		}
		return ns, st, nil
	}
	p := q.UnclearPriority
	if !p.Valid() {
		p = PriorityHigh
	}
	rn := ReportedNeed{Need: Need{Category: CategoryUnclearReply, Priority: p}, Question: q.ID}
	ns.Needs = append(ns.Needs, rn)
	st.NewNeeds = []ReportedNeed{rn}
	qn.finish(&ns, &st, true)
	return ns, st, nil
}

func (qn *Questionnaire) finish(s *State, st *Step, handover bool) {
	s.Done = true
	s.QuestionID = ""
	s.Outcome = OutcomeFine
	st.Closing = qn.EndFine
	if len(s.Needs) > 0 {
		s.Outcome = OutcomeNeed
		st.Closing = qn.EndNeed
	}
	if handover {
		st.Handover = true
		st.Closing = KeyHandover
	}
	st.Done = true
	st.Outcome = s.Outcome
	st.QuestionID = ""
	st.Prompt = ""
}

func (s State) copy() State {
	c := s
	c.Answers = append([]Answer(nil), s.Answers...)
	c.Needs = append([]ReportedNeed(nil), s.Needs...)
	return c
}

// MergeNeeds returns one need per category, at the most pressing priority
// reported for it, most pressing first (then by category name).
func MergeNeeds(needs []ReportedNeed) []Need {
	best := map[Category]Priority{}
	for _, n := range needs {
		if p, ok := best[n.Category]; !ok || n.Priority.Rank() < p.Rank() {
			best[n.Category] = n.Priority
		}
	}
	out := make([]Need, 0, len(best))
	for c, p := range best {
		out = append(out, Need{Category: c, Priority: p})
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := out[i].Priority.Rank(), out[j].Priority.Rank(); ri != rj {
			return ri < rj
		}
		return out[i].Category < out[j].Category
	})
	return out
}
