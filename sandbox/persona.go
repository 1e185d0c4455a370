package sandbox

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// How a persona's telephone reacts to a call (VoiceBehaviour.Answer).
const (
	AnswerHuman    = "human"     // answers and listens; presses Digits
	AnswerBusy     = "busy"      // the call ends "busy"
	AnswerNoAnswer = "no-answer" // rings out: "no-answer"
	AnswerFailed   = "failed"    // the carrier fails the call: "failed"
	AnswerMachine  = "machine"   // voicemail: AnsweredBy=machine_start with MachineDetection; never presses keys
	AnswerFax      = "fax"       // a fax machine: AnsweredBy=fax with MachineDetection; the call ends after the first document
)

// Persona is a simulated patient, keyed by E.164 number.
type Persona struct {
	// Number is the persona's E.164 number, e.g. "+447700900123".
	Number string
	// Label says what the persona is for; it shows in logs and tests.
	Label string

	// CreateError, when non-zero, fails message creation synchronously with
	// this Twilio code (21211 invalid number, 21614 not a mobile, 21610
	// unsubscribed). 21211 fails calls too.
	CreateError int
	// DeliveryError, when non-zero, ends an accepted message with this
	// ErrorCode (30003, 30005, 30006...) in its final status callback.
	DeliveryError int
	// DeliveryStatus is the final status with DeliveryError: "undelivered"
	// (default: queued, sent, undelivered) or "failed" (queued, failed).
	DeliveryStatus string

	// Replies are the persona's SMS answers, one per message received, in
	// order. Once they are used up the persona is silent. A reply of STOP
	// (or another opt-out keyword) unsubscribes the persona from the sender.
	Replies []string
	// OnlyQuestions makes the persona answer only messages that ask for a
	// reply (they contain "?" or "reply"), so confirmations do not use up
	// the script.
	OnlyQuestions bool
	// ReplyDelay overrides Config.ReplyDelay for this persona.
	ReplyDelay time.Duration
	// Late multiplies the reply delay by Config.LateReplyFactor.
	Late bool

	// Voice is how the persona answers calls.
	Voice VoiceBehaviour
}

// VoiceBehaviour describes a persona's telephone.
type VoiceBehaviour struct {
	// Answer is one of the Answer* constants; empty means AnswerHuman.
	Answer string
	// Digits are pressed at each <Gather> in turn, one entry per Gather.
	// An empty entry, or a Gather after the script is used up, lets the
	// Gather time out.
	Digits []string
	// HangupAfter, when > 0, makes the persona hang up while the Nth
	// <Gather> prompt plays, without pressing anything.
	HangupAfter int
	// DialStatus overrides Config.DialCallStatus for a <Dial> on this call
	// ("completed", "no-answer", "busy", "failed"). A <Number url> whisper
	// is played to the persona of the number dialled (a team member, who
	// accepts by pressing the key it asks for, with their Digits) when the
	// Dial would complete.
	DialStatus string
	// Identify is the key pressed when a call asks "If you are <name>,
	// press 1. If not, press 2" (a Gather whose prompt says "If you are"):
	// "" presses 1 when BirthDate is set; "2" is someone else answering (a
	// carer). It uses no entry of Digits. A persona with neither Identify
	// nor BirthDate answers the check with its Digits, like any Gather
	// (to play bad input, silence or a wrong date).
	Identify string
	// BirthDate ("1948-03-04"), when set, is typed at a Gather that takes
	// several keys ended by # (a Gather without numDigits): the year
	// ("1948#") when its prompt asks for a year, else the day and month
	// ("0403#"). Such Gathers then use no entry of Digits.
	BirthDate string
}

func (p Persona) replyDelay(cfg Config) time.Duration {
	d := cfg.ReplyDelay
	if p.ReplyDelay > 0 {
		d = p.ReplyDelay
	}
	if p.Late {
		d *= time.Duration(cfg.LateReplyFactor)
	}
	return d
}

func (p Persona) wantsToAnswer(body string) bool {
	if !p.OnlyQuestions {
		return true
	}
	return strings.Contains(body, "?") || strings.Contains(strings.ToLower(body), "reply")
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// testRange matches the UK drama mobile numbers 07700 900000-900999.
var testRange = regexp.MustCompile(`^\+447700900([0-9]{3})$`)

// fineReplies answer the shipped wellbeing check as someone who is fine:
// "1" (yes, I am OK) to the first question, "2" (no) to every later one.
func fineReplies() []string { return append([]string{"1"}, repeat("2", 9)...) }

// fineKeys press 1 to go on past a call's greeting, then answer as
// fineReplies.
func fineKeys() []string { return append([]string{"1"}, fineReplies()...) }

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// DefaultPersona is the behaviour of a number without a configured persona.
// A default persona in 07700 900000-900999 knows its DefaultBirthDate.
func DefaultPersona(number string) Persona {
	p := defaultPersona(number)
	p.Voice.BirthDate = DefaultBirthDate(number)
	return p
}

// defaultPersona is the behaviour of a number without a configured persona.
// See the package documentation for the table. Numbers that are not E.164
// are invalid (21211); E.164 numbers outside 07700 900000-900999 receive
// messages and never reply, and answer calls without pressing anything.
func defaultPersona(number string) Persona {
	if !e164.MatchString(number) {
		return Persona{Number: number, Label: "invalid", CreateError: 21211}
	}
	m := testRange.FindStringSubmatch(number)
	if m == nil {
		return Persona{Number: number, Label: "unknown: silent"}
	}
	nnn := m[1]
	p := Persona{Number: number, OnlyQuestions: true}
	switch nnn {
	case "990":
		p.Label, p.CreateError = "unsubscribed", 21610
		p.Voice = VoiceBehaviour{Digits: fineKeys()}
		return p
	case "991":
		p.Label, p.DeliveryError = "unknown handset", 30005
		p.Voice.Answer = AnswerNoAnswer
		return p
	case "992":
		p.Label, p.DeliveryError, p.DeliveryStatus = "failed", 30003, "failed"
		p.Voice.Answer = AnswerFailed
		return p
	case "993":
		p.Label = "fax"
		p.Voice.Answer = AnswerFax
		return p
	case "994":
		p.Label, p.Replies = "hangs up", []string{"1"}
		p.Voice.HangupAfter = 1
		return p
	case "995":
		p.Label, p.Replies = "confused then fine", append([]string{"maybe"}, fineReplies()...)
		p.Voice.Digits = append([]string{"9"}, fineKeys()...)
		return p
	}
	switch nnn[2] {
	case '0':
		p.Label, p.Replies = "fine", fineReplies()
		p.Voice.Digits = fineKeys()
	case '1':
		p.Label, p.Replies = "needs help", repeat("2", 10)
		p.Voice.Digits = repeat("2", 10)
	case '2':
		p.Label, p.Replies = "free text", []string{"Not too bad thanks but I have run out of my tablets"}
	case '3':
		p.Label, p.Replies, p.Late = "late", fineReplies(), true
		p.Voice.Answer = AnswerMachine
	case '4':
		p.Label = "silent"
		p.Voice.Answer = AnswerNoAnswer
	case '5':
		p.Label, p.Replies = "stop", []string{"STOP"}
		p.Voice.Answer = AnswerBusy
	case '6':
		p.Label, p.DeliveryError = "landline", 30006
		p.Voice.Digits = fineKeys()
	case '7':
		p.Label, p.DeliveryError = "unreachable", 30003
		p.Voice.Answer = AnswerNoAnswer
	case '8':
		p.Label, p.CreateError = "invalid", 21211
	case '9':
		p.Label, p.CreateError = "not a mobile", 21614
		p.Voice = VoiceBehaviour{Digits: fineKeys()}
	}
	return p
}

// DefaultBirthDate is the date of birth a default persona of 07700 900nnn
// types when a call checks who answered: 1930 + nnn mod 60, month 1 +
// nnn mod 12, day 1 + nnn mod 28 (07700 900100 was born on 17 May 1970).
// The demo cohort (examples/demo-cohort.csv) uses these dates. It is ""
// for other numbers.
func DefaultBirthDate(number string) string {
	m := testRange.FindStringSubmatch(number)
	if m == nil {
		return ""
	}
	n, _ := strconv.Atoi(m[1])
	return fmt.Sprintf("%04d-%02d-%02d", 1930+n%60, 1+n%12, 1+n%28)
}

// optOutKeywords and optInKeywords are Twilio's default keywords.
var (
	optOutKeywords = map[string]bool{"STOP": true, "STOPALL": true, "UNSUBSCRIBE": true, "CANCEL": true, "END": true, "QUIT": true}
	optInKeywords  = map[string]bool{"START": true, "YES": true, "UNSTOP": true}
	helpKeywords   = map[string]bool{"HELP": true, "INFO": true}
)

// keyword returns Twilio's OptOutType for an inbound body, or "".
func keyword(body string) string {
	k := strings.ToUpper(strings.TrimSpace(body))
	switch {
	case optOutKeywords[k]:
		return "STOP"
	case optInKeywords[k]:
		return "START"
	case helpKeywords[k]:
		return "HELP"
	}
	return ""
}
