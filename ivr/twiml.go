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
//  2. the introduction and each question as a Gather of one digit, with a
//     slow timeout and actionOnEmptyResult so that silence comes back to
//     us: no input repeats the prompt twice, then a polite goodbye; a digit
//     that is not an option is answered "sorry, that is not one of the
//     options" and the question is asked again (a second wrong digit hands
//     the questionnaire to a person, as an unclear SMS reply does); 9
//     repeats; 0 dials the team's line and, if nobody answers, promises a
//     call back (a call-back need);
//  3. a closing message (and any urgent advice as soon as it is due).
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

// prosody is SSML's <prosody> inside a Say. twilio-go's VoiceProsody
// names the element "Prosody", but SSML elements are lower case (as
// Twilio's other helper libraries write them).
type prosody struct{ rate, text string }

func (p prosody) GetName() string { return "prosody" }
func (p prosody) GetText() string { return p.text }
func (p prosody) GetAttr() (map[string]string, map[string]string) {
	return nil, map[string]string{"Rate": p.rate}
}
func (p prosody) GetInnerElements() []twiml.Element { return nil }

// doc builds one TwiML document.
type doc struct {
	sp  Speech
	els []twiml.Element
}

// sayEls are the Says of a text, one per language run, each in the voice
// of its language and at the configured rate.
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
		say := &twiml.VoiceSay{Message: t.Text, Voice: v.Name, Language: v.Language}
		if takesSSML(v.Name) && d.sp.Rate != "medium" && d.sp.Rate != "100%" {
			say.Message, say.InnerElements = "", []twiml.Element{prosody{rate: d.sp.Rate, text: t.Text}}
		}
		els = append(els, say)
	}
	return els
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

// gather asks for one key press while prompt is said; silence is posted
// to action too (actionOnEmptyResult), so we decide what happens.
func (d *doc) gather(action string, prompt []outreach.Spoken) *doc {
	d.els = append(d.els, &twiml.VoiceGather{
		Input:               "dtmf",
		NumDigits:           "1",
		Timeout:             strconv.Itoa(d.sp.GatherTimeout),
		ActionOnEmptyResult: "true",
		Action:              action,
		Method:              "POST",
		InnerElements:       d.sayEls(prompt),
	})
	return d
}

// dial connects the call to number; action learns how it went.
func (d *doc) dial(number, callerID, action string, timeout int) *doc {
	d.els = append(d.els, &twiml.VoiceDial{
		Action:        action,
		Method:        "POST",
		Timeout:       strconv.Itoa(timeout),
		CallerId:      callerID,
		InnerElements: []twiml.Element{&twiml.VoiceNumber{PhoneNumber: number}},
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
