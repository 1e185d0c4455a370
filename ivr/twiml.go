// Package ivr is Protect's automated call: it places voice attempts
// through Twilio (an outreach.Caller) and runs the call's keypad dialog as
// TwiML built with twilio-go's twiml package, answering the questionnaire
// with the same engine and storage as SMS.
//
// A call goes:
//
//  1. greeting: who is calling (practice, programme), nothing personal,
//     "to continue, press 1" (any of 1 to 8 goes on; 9 repeats; 0 asks for
//     a person);
//  2. unless the campaign's identity check is off: "if you are <first
//     name>, press 1; if not, press 2" (2 gives the team's number to pass
//     on, opens a call-back need and ends the call), then the day and month
//     of birth (or the year) as four keys ended by #, read back and never
//     stored; a wrong or unusable answer is asked once more, a second ends
//     the call politely with a "could not confirm identity" need. Nothing
//     before the check passes names the patient (but in that question),
//     says a date of birth or anything clinical, and no answer is kept;
//  3. the introduction and each question as a Gather of one digit, with a
//     slow timeout and actionOnEmptyResult so that silence comes back to
//     us: no input repeats the prompt twice, then a polite goodbye; a digit
//     that is not an option is answered "sorry, that is not one of the
//     options" and the question is asked again (a second wrong digit hands
//     the questionnaire to a person, as an unclear SMS reply does); 9
//     repeats; 0 (here or at any step before) dials the team's line, whose
//     team member hears a whisper ("Protect call about a patient in
//     <locality>, press 1 to accept"); if nobody accepts, a call back is
//     promised (a call-back need);
//  4. a closing message (and any urgent advice as soon as it is due).
//
// Numbers are said as <say-as interpret-as="telephone"> in UK grouping
// (spaced digits for a voice without SSML), with a pause between a
// question and its options.
//
// An answering machine gets a short voicemail with no personal or clinical
// detail; a fax machine gets nothing and its number is not called again.
//
// Every webhook is signature-checked by the webhooks package and applied
// once: each action URL carries the attempt and a step number, and the
// store keeps a step log per CallSid with the TwiML answered, replayed if
// Twilio repeats a request.
package ivr

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/twilio/twilio-go/twiml"

	"github.com/protectnow/protect/outreach"
)

// Speech is how calls speak: a voice per language, slowed down for
// listeners who may be elderly or hard of hearing.
type Speech struct {
	// Voices maps a template language ("en", "cy") to the voice that
	// speaks it; DefaultVoices fill the languages it leaves out. A patient
	// whose language has no voice hears the English scripts, since a
	// script read by another language's voice is worse than none.
	Voices map[string]VoiceSpec
	// Rate is the speaking rate, SSML's prosody rate: "x-slow", "slow",
	// "medium" or a percentage from 20% to 200% of the voice's normal
	// speed; empty means DefaultRate, "medium" or "100%" the normal speed.
	// Only Amazon Polly and Google voices take it.
	Rate string
	// GatherTimeout is how long (seconds) a prompt waits for a key press
	// after it has been said.
	GatherTimeout int
}

// VoiceSpec is a Twilio voice and the language tag it speaks.
type VoiceSpec struct {
	// Name is a Twilio voice name such as "Polly.Amy" or "alice".
	Name string
	// Language is a BCP-47 tag such as "en-GB".
	Language string
}

// Defaults for Speech.
const (
	DefaultRate          = "90%"
	DefaultGatherTimeout = 8
)

// DefaultVoices are the voices of the languages Protect's texts can be
// written in that Amazon Polly speaks, British English first.
func DefaultVoices() map[string]VoiceSpec {
	return map[string]VoiceSpec{
		"en": {"Polly.Amy", "en-GB"},
		"cy": {"Polly.Gwyneth", "cy-GB"},
		"pl": {"Polly.Ewa", "pl-PL"},
		"pt": {"Polly.Ines", "pt-PT"},
		"ro": {"Polly.Carmen", "ro-RO"},
		"es": {"Polly.Lucia", "es-ES"},
		"fr": {"Polly.Celine", "fr-FR"},
		"tr": {"Polly.Filiz", "tr-TR"},
	}
}

func (s Speech) withDefaults() Speech {
	voices := DefaultVoices()
	for lang, v := range s.Voices {
		voices[lang] = v
	}
	s.Voices = voices
	if s.Rate == "" {
		s.Rate = DefaultRate
	}
	if s.GatherTimeout <= 0 {
		s.GatherTimeout = DefaultGatherTimeout
	}
	return s
}

// speaks reports whether calls have a voice for language.
func (s Speech) speaks(language string) bool {
	_, ok := s.Voices[language]
	return ok
}

// takesSSML reports whether a Twilio voice reads SSML such as prosody:
// Twilio's basic voices (man, woman, alice) do not.
func takesSSML(voice string) bool {
	return strings.HasPrefix(voice, "Polly.") || strings.HasPrefix(voice, "Google.")
}

// ssml is an SSML element inside a Say (prosody, say-as, break).
// twilio-go's VoiceProsody names the element "Prosody", but SSML elements
// are lower case (as Twilio's other helper libraries write them). An
// element holds text or children, never both: twilio-go writes an
// element's text before its children, so mixed content would be said out
// of order.
type ssml struct {
	name     string
	attrs    map[string]string
	text     string
	children []twiml.Element
}

func (e ssml) GetName() string                                 { return e.name }
func (e ssml) GetText() string                                 { return e.text }
func (e ssml) GetAttr() (map[string]string, map[string]string) { return nil, e.attrs }
func (e ssml) GetInnerElements() []twiml.Element               { return e.children }

// questionPause is the silence between a question and its options, long
// enough for a listener to take the question in.
const questionPause = "1s"

// optionPause is the shorter silence before each option ("Press 2 if...",
// "If you are not...") and between the options, so each is heard apart.
const optionPause = "500ms"

// doc builds one TwiML document.
type doc struct {
	sp  Speech
	els []twiml.Element
	// hidden are the elements left out of the copy kept to replay (the
	// read-back of a date of birth typed).
	hidden map[int]bool
}

// sayEls are the Says of a text, one per language run, each in the voice
// of its language and at the configured rate. Phone numbers and other
// digits are said as telephone numbers, and a question is followed by a
// pause before its options.
func (d *doc) sayEls(text []outreach.Spoken) []twiml.Element {
	els := make([]twiml.Element, 0, len(text))
	for _, t := range text {
		if strings.TrimSpace(t.Text) == "" {
			continue
		}
		v, ok := d.sp.Voices[t.Language]
		if !ok {
			v = d.sp.Voices["en"]
		}
		parts := splitSpeech(t.Text)
		if !takesSSML(v.Name) {
			// A basic voice reads no SSML: digits spaced out, and a Pause
			// verb between a question and its options.
			for i, group := range parts {
				if i > 0 {
					// A Pause verb lasts whole seconds.
					els = append(els, &twiml.VoicePause{Length: "1"})
				}
				var b strings.Builder
				for _, p := range group.parts {
					if p.phone {
						b.WriteString(spacedDigits(p.text))
					} else {
						b.WriteString(p.text)
					}
				}
				els = append(els, &twiml.VoiceSay{Message: b.String(), Voice: v.Name, Language: v.Language})
			}
			continue
		}
		say := &twiml.VoiceSay{Message: t.Text, Voice: v.Name, Language: v.Language}
		slowed := d.sp.Rate != "medium" && d.sp.Rate != "100%"
		plain := len(parts) == 1 && len(parts[0].parts) == 1 && !parts[0].parts[0].phone
		switch {
		case plain && slowed:
			say.Message, say.InnerElements = "", []twiml.Element{ssml{name: "prosody", attrs: map[string]string{"rate": d.sp.Rate}, text: t.Text}}
		case !plain:
			rate := d.sp.Rate
			if !slowed {
				rate = "100%"
			}
			say.Message = ""
			for i, group := range parts {
				if i > 0 {
					say.InnerElements = append(say.InnerElements, ssml{name: "break", attrs: map[string]string{"time": group.pause}})
				}
				for _, p := range group.parts {
					el := ssml{name: "prosody", attrs: map[string]string{"rate": rate}, text: p.text}
					if p.phone {
						el.text, el.children = "", []twiml.Element{ssml{name: "say-as",
							attrs: map[string]string{"interpret-as": "telephone"}, text: p.text}}
					}
					say.InnerElements = append(say.InnerElements, el)
				}
			}
		}
		els = append(els, say)
	}
	return els
}

// speechPart is a run of a script: words, or a number to say as one.
type speechPart struct {
	text  string
	phone bool
}

// number matches a phone number or other run of digits in a script:
// "+441603000111", "01603 000111", "0300 123 4567", "9 9 9", "0 4 0 3".
// Fewer than three digits ("press 1") are words.
var number = regexp.MustCompile(`\+?\d(?:[ -]?\d){2,}`)

// speechGroup is a run of a script said together, and the silence before
// it.
type speechGroup struct {
	pause string
	parts []speechPart
}

// splitSpeech cuts a script into groups: a new one after each question
// mark (the options follow a question) and before each sentence that
// offers a key (the options, "If you are not..."), and each group into
// words and numbers, the numbers written in UK grouping.
func splitSpeech(text string) []speechGroup {
	var groups []speechGroup
	for _, g := range splitPauses(text) {
		var parts []speechPart
		last := 0
		for _, m := range number.FindAllStringIndex(g.text, -1) {
			if m[0] > last {
				parts = append(parts, speechPart{text: g.text[last:m[0]]})
			}
			parts = append(parts, speechPart{text: ukGrouping(g.text[m[0]:m[1]]), phone: true})
			last = m[1]
		}
		if last < len(g.text) {
			parts = append(parts, speechPart{text: g.text[last:]})
		}
		groups = append(groups, speechGroup{pause: g.pause, parts: parts})
	}
	return groups
}

// sentenceEnd is the end of a sentence with more to say after it.
var sentenceEnd = regexp.MustCompile(`[.?!]\s+`)

// keyWord is a single digit on its own: a key to press ("press 2",
// "pwyswch 2"), not part of a number.
var keyWord = regexp.MustCompile(`\b\d\b`)

// offersKey reports whether a sentence tells the listener a key to press:
// it holds a digit on its own once numbers ("1 1 1", "0 4 0 3") are
// taken out.
func offersKey(sentence string) bool {
	return keyWord.MatchString(number.ReplaceAllString(sentence, "#"))
}

type pauseRun struct{ text, pause string }

// splitPauses cuts text after each question mark with more to say (a
// question's pause), and before each sentence that offers a key (an
// option's pause).
func splitPauses(text string) []pauseRun {
	var out []pauseRun
	start, pause := 0, ""
	for _, m := range sentenceEnd.FindAllStringIndex(text, -1) {
		next := text[m[1]:]
		if end := sentenceEnd.FindStringIndex(next); end != nil {
			next = next[:end[0]+1]
		}
		p := ""
		switch {
		case text[m[0]] == '?':
			p = questionPause
		case offersKey(next):
			p = optionPause
		default:
			continue
		}
		out = append(out, pauseRun{text: text[start : m[0]+1], pause: pause})
		start, pause = m[1], p
	}
	return append(out, pauseRun{text: text[start:], pause: pause})
}

// ukGrouping writes a number as a UK phone number is read: 01603 000 111,
// 020 7946 0000, 07700 900 123, 0300 123 4567; +44 numbers in their
// national form; short numbers (999, 111) and anything else as its digits.
func ukGrouping(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	n := b.String()
	if strings.HasPrefix(s, "+44") && len(n) == 12 {
		n = "0" + n[2:]
	}
	group := func(sizes ...int) string {
		var parts []string
		rest := n
		for _, k := range sizes {
			parts = append(parts, rest[:k])
			rest = rest[k:]
		}
		return strings.Join(parts, " ")
	}
	if len(n) != 11 || n[0] != '0' {
		return n
	}
	switch {
	case n[1] == '2':
		return group(3, 4, 4) // 020 7946 0000
	case n[1] == '1' && (n[2] == '1' || n[3] == '1'):
		return group(4, 3, 4) // 0113 496 0000, 0161 496 0000
	case n[1] == '1' || n[1] == '7':
		return group(5, 3, 3) // 01603 000 111, 07700 900 123
	}
	return group(4, 3, 4) // 0300 123 4567, 0800 123 4567
}

// spacedDigits writes a number digit by digit for a voice with no SSML,
// a comma between groups: "0 1 6 0 3, 0 0 0, 1 1 1".
func spacedDigits(grouped string) string {
	var groups []string
	for _, g := range strings.Fields(grouped) {
		groups = append(groups, strings.Join(strings.Split(g, ""), " "))
	}
	return strings.Join(groups, ", ")
}

// say speaks text (nothing when empty).
func (d *doc) say(text []outreach.Spoken) *doc {
	d.els = append(d.els, d.sayEls(text)...)
	return d
}

// pause keeps a second of silence between two things said.
func (d *doc) pause() *doc {
	d.els = append(d.els, &twiml.VoicePause{Length: "1"})
	return d
}

// private says text that must not be kept (the read-back of keys typed),
// then a short pause.
func (d *doc) private(text []outreach.Spoken) *doc {
	if d.hidden == nil {
		d.hidden = map[int]bool{}
	}
	for _, el := range d.sayEls(text) {
		d.hidden[len(d.els)] = true
		d.els = append(d.els, el)
	}
	return d
}

// gatherDigits asks for several keys ended by # (a date or year of
// birth) while prompt is said; # alone, * or silence come back to us too.
func (d *doc) gatherDigits(action string, prompt []outreach.Spoken) *doc {
	return d.gatherKeys(action, prompt, "", "#")
}

// gather asks for one key press while prompt is said; silence is posted
// to action too (actionOnEmptyResult), so we decide what happens.
func (d *doc) gather(action string, prompt []outreach.Spoken) *doc {
	return d.gatherKeys(action, prompt, "1", "")
}

func (d *doc) gatherKeys(action string, prompt []outreach.Spoken, numDigits, finishOnKey string) *doc {
	d.els = append(d.els, &twiml.VoiceGather{
		Input:               "dtmf",
		NumDigits:           numDigits,
		FinishOnKey:         finishOnKey,
		Timeout:             strconv.Itoa(d.sp.GatherTimeout),
		ActionOnEmptyResult: "true",
		Action:              action,
		Method:              "POST",
		InnerElements:       d.sayEls(prompt),
	})
	return d
}

// dial connects the call to number; action learns how it went. The team
// member first hears whisper (a document asking them to press 1 to
// accept) when it is set.
func (d *doc) dial(number, callerID, action, whisper string, timeout int) *doc {
	n := &twiml.VoiceNumber{PhoneNumber: number}
	if whisper != "" {
		n.Url, n.Method = whisper, "POST"
	}
	d.els = append(d.els, &twiml.VoiceDial{
		Action:        action,
		Method:        "POST",
		Timeout:       strconv.Itoa(timeout),
		CallerId:      callerID,
		InnerElements: []twiml.Element{n},
	})
	return d
}

func (d *doc) hangup() *doc {
	d.els = append(d.els, &twiml.VoiceHangup{})
	return d
}

func (d *doc) String() (string, error) {
	out, err := twiml.Voice(d.els)
	if err != nil {
		return "", fmt.Errorf("build TwiML: %w", err)
	}
	return out, nil
}

// stored is the document without its hidden elements.
func (d *doc) stored() (string, error) {
	kept := make([]twiml.Element, 0, len(d.els))
	for i, el := range d.els {
		if !d.hidden[i] {
			kept = append(kept, el)
		}
	}
	return (&doc{sp: d.sp, els: kept}).String()
}
