package templates

import (
	"errors"
	"fmt"
	"strings"
)

// Channel is the way a template reaches someone.
type Channel string

// The channels Protect uses.
const (
	ChannelSMS   Channel = "sms"
	ChannelVoice Channel = "voice"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool { return c == ChannelSMS || c == ChannelVoice }

// Purpose says what a template is for; each purpose has its own set of
// allowed placeholders (see RegistryFor).
type Purpose string

// The template purposes Protect knows. Voice purposes are said in calls;
// the rest are sent by SMS. Alert goes to staff, every other purpose to
// patients.
const (
	PurposeInvitation    Purpose = "invitation"
	PurposeQuestion      Purpose = "question"
	PurposeReminder      Purpose = "reminder"
	PurposeThanks        Purpose = "thanks"
	PurposeUrgentAdvice  Purpose = "urgent_advice"
	PurposeHelp          Purpose = "help"
	PurposeOptOut        Purpose = "opt_out"
	PurposeOptIn         Purpose = "opt_in"
	PurposeNotUnderstood Purpose = "not_understood"
	PurposeVoiceGreeting Purpose = "voice_greeting"
	PurposeVoicePrompt   Purpose = "voice_prompt"
	PurposeVoicemail     Purpose = "voicemail"
	PurposeVoiceGoodbye  Purpose = "voice_goodbye"
	PurposeAlert         Purpose = "alert"
)

// Purposes returns every known purpose in a stable order.
func Purposes() []Purpose {
	return []Purpose{
		PurposeInvitation, PurposeQuestion, PurposeReminder, PurposeThanks,
		PurposeUrgentAdvice, PurposeHelp, PurposeOptOut, PurposeOptIn,
		PurposeNotUnderstood, PurposeVoiceGreeting, PurposeVoicePrompt,
		PurposeVoicemail, PurposeVoiceGoodbye, PurposeAlert,
	}
}

// Valid reports whether p is a known purpose.
func (p Purpose) Valid() bool {
	for _, q := range Purposes() {
		if p == q {
			return true
		}
	}
	return false
}

// Channel returns the channel templates of this purpose are written for,
// or "" for an unknown purpose.
func (p Purpose) Channel() Channel {
	switch p {
	case PurposeVoiceGreeting, PurposeVoicePrompt, PurposeVoicemail, PurposeVoiceGoodbye:
		return ChannelVoice
	}
	if p.Valid() {
		return ChannelSMS
	}
	return ""
}

// Kind says how a placeholder may be used.
type Kind string

// Placeholder kinds.
const (
	// KindText is replaced by its value: ((first_name)).
	KindText Kind = "text"
	// KindFlag is a yes/no value that controls optional text:
	// ((repeat_attempt??We tried to call you yesterday. )).
	KindFlag Kind = "flag"
)

// Placeholder describes one name a template may use.
type Placeholder struct {
	// Name is the normalised name (see NormaliseName).
	Name string
	// Kind says whether the placeholder is a value or a yes/no flag.
	Kind Kind
	// Description tells a comms lead what the value will be.
	Description string
	// Example is a realistic sample value used for previews and length
	// estimates; for a flag, "yes" or "no".
	Example string
}

// Registry is an immutable set of allowed placeholders.
type Registry struct {
	list  []Placeholder
	index map[string]int
}

// ErrInvalidRegistry is matched by errors from NewRegistry.
var ErrInvalidRegistry = errors.New("invalid placeholder registry")

// NewRegistry builds a registry. Names are normalised; a name that is not
// valid, an unknown kind or a duplicate is an error.
func NewRegistry(placeholders ...Placeholder) (*Registry, error) {
	r := &Registry{index: make(map[string]int, len(placeholders))}
	for _, p := range placeholders {
		name, err := NormaliseName(p.Name)
		if err != nil {
			return nil, fmt.Errorf("%w: placeholder %q: %w", ErrInvalidRegistry, p.Name, err)
		}
		if p.Kind != KindText && p.Kind != KindFlag {
			return nil, fmt.Errorf("%w: placeholder %q has unknown kind %q", ErrInvalidRegistry, name, p.Kind)
		}
		if _, dup := r.index[name]; dup {
			return nil, fmt.Errorf("%w: placeholder %q is listed twice", ErrInvalidRegistry, name)
		}
		p.Name = name
		r.index[name] = len(r.list)
		r.list = append(r.list, p)
	}
	return r, nil
}

// Lookup finds a placeholder by name, in any case or spelling that
// normalises to the same name.
func (r *Registry) Lookup(name string) (Placeholder, bool) {
	if r == nil {
		return Placeholder{}, false
	}
	n, _, reason := normaliseName(name)
	if reason != "" {
		return Placeholder{}, false
	}
	i, ok := r.index[n]
	if !ok {
		return Placeholder{}, false
	}
	return r.list[i], true
}

// Placeholders returns a copy of the registry's placeholders in the order
// they were given.
func (r *Registry) Placeholders() []Placeholder {
	if r == nil {
		return nil
	}
	return append([]Placeholder(nil), r.list...)
}

// Samples returns each placeholder's Example keyed by name, ready for a
// preview Render or LintOptions.Sample.
func (r *Registry) Samples() map[string]string {
	m := make(map[string]string)
	if r == nil {
		return m
	}
	for _, p := range r.list {
		m[p.Name] = p.Example
	}
	return m
}

// Placeholders shared by templates addressed to a known patient.
func patientPlaceholders() []Placeholder {
	return []Placeholder{
		{Name: "first_name", Kind: KindText, Description: "The patient's first name", Example: "Margaret"},
		{Name: "last_name", Kind: KindText, Description: "The patient's last name", Example: "Smith"},
		{Name: "practice_name", Kind: KindText, Description: "The name of the patient's GP practice", Example: "Riverside Medical Centre"},
		{Name: "programme_name", Kind: KindText, Description: "The name of the programme", Example: "Protect NoW"},
		{Name: "team_phone", Kind: KindText, Description: "The phone number of the team running the campaign", Example: "01603 123456"},
		{Name: "campaign_name", Kind: KindText, Description: "The name of the campaign", Example: "Flu vaccination"},
		{Name: "repeat_attempt", Kind: KindFlag, Description: "Yes when we have tried to contact the patient before in this campaign", Example: "no"},
	}
}

// Keyword replies (HELP, STOP, START) can go to numbers we do not know, so
// they get no patient details.
func keywordPlaceholders() []Placeholder {
	return []Placeholder{
		{Name: "programme_name", Kind: KindText, Description: "The name of the programme", Example: "Protect NoW"},
		{Name: "team_phone", Kind: KindText, Description: "The phone number of the team running the programme", Example: "01603 123456"},
	}
}

func questionPlaceholders() []Placeholder {
	return []Placeholder{
		{Name: "question_number", Kind: KindText, Description: "The number of this question, starting at 1", Example: "2"},
		{Name: "question_count", Kind: KindText, Description: "How many questions there are", Example: "4"},
	}
}

// RegistryFor returns the placeholders allowed in templates of purpose p.
//
// Choices made for confidentiality: a voicemail can be heard by anyone in
// the household, so it gets neither the last name nor the campaign name
// (which can reveal a condition, e.g. "Cervical screening"); staff alerts
// carry no patient details at all, only what a handler needs to open the
// console.
func RegistryFor(p Purpose) (*Registry, error) {
	var ps []Placeholder
	switch p {
	case PurposeInvitation, PurposeReminder, PurposeThanks, PurposeNotUnderstood,
		PurposeVoiceGreeting, PurposeVoiceGoodbye:
		ps = patientPlaceholders()
	case PurposeQuestion, PurposeVoicePrompt:
		ps = append(patientPlaceholders(), questionPlaceholders()...)
	case PurposeUrgentAdvice:
		ps = append(patientPlaceholders(), Placeholder{
			Name: "out_of_hours", Kind: KindFlag,
			Description: "Yes when the patient's GP practice is closed", Example: "no",
		})
	case PurposeHelp, PurposeOptOut, PurposeOptIn:
		ps = keywordPlaceholders()
	case PurposeVoicemail:
		for _, ph := range patientPlaceholders() {
			if ph.Name != "last_name" && ph.Name != "campaign_name" {
				ps = append(ps, ph)
			}
		}
	case PurposeAlert:
		ps = []Placeholder{
			{Name: "team_name", Kind: KindText, Description: "The team the escalation is routed to", Example: "Clinical surveillance"},
			{Name: "need", Kind: KindText, Description: "The kind of need reported", Example: "medicines"},
			{Name: "priority", Kind: KindText, Description: "The escalation's priority", Example: "high"},
			{Name: "locality", Kind: KindText, Description: "The patient's locality", Example: "Norwich"},
			{Name: "reference", Kind: KindText, Description: "The escalation reference to look up in the console", Example: "ESC-20417"},
			{Name: "waiting_count", Kind: KindText, Description: "How many escalations are waiting for the team", Example: "3"},
			{Name: "urgent", Kind: KindFlag, Description: "Yes when the escalation is urgent", Example: "yes"},
		}
	default:
		return nil, fmt.Errorf("%w: unknown template purpose %q", ErrInvalidRegistry, string(p))
	}
	return NewRegistry(ps...)
}

// ErrUnknownPlaceholder is matched by a *CheckError.
var ErrUnknownPlaceholder = errors.New("template uses placeholders that are not allowed")

// Problem is one placeholder a template may not use as written.
type Problem struct {
	// Name is the normalised name.
	Name string
	// Offset, Line and Column locate its first use in the body.
	Offset, Line, Column int
	// Reason is a plain-English explanation.
	Reason string
}

// CheckError lists every problem Check found, in order of first use.
type CheckError struct {
	// Problems has at least one entry.
	Problems []Problem
}

// Error implements error, naming every problem in one message.
func (e *CheckError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = fmt.Sprintf("line %d, column %d: %s", p.Line, p.Column, p.Reason)
	}
	return strings.Join(msgs, "; ")
}

// Is reports whether target is ErrUnknownPlaceholder.
func (e *CheckError) Is(target error) bool { return target == ErrUnknownPlaceholder }

// Check parses body and checks every placeholder against allowed: it is the
// check to run when a template is saved. It returns a *ParseError if the
// body does not parse, a *CheckError listing every unknown or misused
// placeholder (each name once), or nil. A nil registry allows nothing.
func Check(body string, allowed *Registry) error {
	b, err := Parse(body)
	if err != nil {
		return err
	}
	return CheckBody(b, allowed)
}

// CheckBody is Check for an already parsed body.
func CheckBody(b *Body, allowed *Registry) error {
	var problems []Problem
	reported := make(map[string]bool)
	for _, part := range b.parts {
		if part.Kind == PartText || reported[part.Name] {
			continue
		}
		var reason string
		ph, ok := allowed.Lookup(part.Name)
		switch {
		case !ok:
			reason = fmt.Sprintf("((%s)) is not a placeholder this template can use", part.Name)
			if names := allowed.names(); len(names) > 0 {
				reason += " (allowed: " + strings.Join(names, ", ") + ")"
			}
		case part.Kind == PartPlaceholder && ph.Kind == KindFlag:
			reason = fmt.Sprintf("%s is a yes/no flag: use it for optional text, as in ((%s??text))", part.Name, part.Name)
		case part.Kind == PartOptional && ph.Kind != KindFlag:
			reason = fmt.Sprintf("%s is not a yes/no flag, so it cannot control optional text", part.Name)
		default:
			continue
		}
		reported[part.Name] = true
		line, col := lineCol(b.source, part.Offset)
		problems = append(problems, Problem{Name: part.Name, Offset: part.Offset, Line: line, Column: col, Reason: reason})
	}
	if len(problems) == 0 {
		return nil
	}
	return &CheckError{Problems: problems}
}

func (r *Registry) names() []string {
	if r == nil {
		return nil
	}
	names := make([]string, len(r.list))
	for i, p := range r.list {
		names[i] = p.Name
	}
	return names
}
