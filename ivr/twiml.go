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

	"github.com/twilio/twilio-go/twiml"
)

// Speech is how calls speak: a Twilio voice and a language.
type Speech struct {
	// Voice is a Twilio voice name such as "Polly.Amy" or "alice".
	Voice string
	// Language is a BCP-47 tag such as "en-GB".
	Language string
	// GatherTimeout is how long (seconds) a prompt waits for a key press
	// after it has been said.
	GatherTimeout int
}

// Defaults for Speech.
const (
	DefaultVoice         = "Polly.Amy"
	DefaultLanguage      = "en-GB"
	DefaultGatherTimeout = 8
)

func (s Speech) withDefaults() Speech {
	if s.Voice == "" {
		s.Voice = DefaultVoice
	}
	if s.Language == "" {
		s.Language = DefaultLanguage
	}
	if s.GatherTimeout <= 0 {
		s.GatherTimeout = DefaultGatherTimeout
	}
	return s
}

// doc builds one TwiML document.
type doc struct {
	sp  Speech
	els []twiml.Element
}

func (d *doc) sayEl(text string) *twiml.VoiceSay {
	return &twiml.VoiceSay{Message: text, Voice: d.sp.Voice, Language: d.sp.Language}
}

// say speaks text (nothing when empty).
func (d *doc) say(text string) *doc {
	if text != "" {
		d.els = append(d.els, d.sayEl(text))
	}
	return d
}

// pause keeps a second of silence between two things said.
func (d *doc) pause() *doc {
	d.els = append(d.els, &twiml.VoicePause{Length: "1"})
	return d
}

// gather asks for one key press while prompt is said; silence is posted
// to action too (actionOnEmptyResult), so we decide what happens.
func (d *doc) gather(action, prompt string) *doc {
	d.els = append(d.els, &twiml.VoiceGather{
		Input:               "dtmf",
		NumDigits:           "1",
		Timeout:             strconv.Itoa(d.sp.GatherTimeout),
		ActionOnEmptyResult: "true",
		Action:              action,
		Method:              "POST",
		InnerElements:       []twiml.Element{d.sayEl(prompt)},
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
