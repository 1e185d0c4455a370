package templateadmin

import (
	"strings"
	"testing"

	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/templates"
)

// TestCheckBeforeIdentity: an edit of a script said before the identity
// check, or of the first text, cannot name the patient (but in "If you
// are ((first_name))") or mention health; the same edit of a question
// can.
func TestCheckBeforeIdentity(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		ch      templates.Channel
		body    string
		problem string // part of a problem message; "" when the body is OK
		line    int
		column  int
	}{
		{name: "who question names the patient", key: questionnaire.KeyIdentityWho, ch: "voice",
			body: "If you are ((first_name)), press 1. If not, press 2."},
		{name: "greeting names the patient", key: questionnaire.KeyGreeting, ch: "voice",
			body: "Hello ((first_name)), this is ((practice_name)).", problem: "((first_name)) cannot be used here", line: 1, column: 7},
		{name: "first name in the retry", key: questionnaire.KeyIdentityRetry, ch: "voice",
			body: "Sorry ((first_name)), try again.", problem: `only the question "system.identity_who"`},
		{name: "first name in the failed-check goodbye", key: questionnaire.KeyIdentityFailed, ch: "voice",
			body: "Goodbye ((first_name)).", problem: "may not name the patient"},
		{name: "clinical word in the greeting", key: questionnaire.KeyGreeting, ch: "voice",
			body: "Hello from ((practice_name)).\nWe are calling about your medicines.", problem: `"medicines" cannot be said here`, line: 2, column: 27},
		{name: "111 in the unconfirmed call-back promise", key: questionnaire.KeyCallBackPromiseUnconfirmed, ch: "voice",
			body: "Someone will call back. If you feel worse, call 1 1 1.", problem: "may not mention health"},
		{name: "health in the who question", key: questionnaire.KeyIdentityWho, ch: "voice",
			body: "If you are ((first_name)), press 1 for your health check.", problem: `"health"`},
		{name: "vaccination in the date of birth prompt", key: questionnaire.KeyIdentityDOB, ch: "voice",
			body: "Before your vaccination, enter the day and month you were born.", problem: `"vaccination"`},
		{name: "clinical word in the goodbye", key: questionnaire.KeyGoodbye, ch: "voice",
			body: "Goodbye, and take care of your diabetes.", problem: `"diabetes"`},
		{name: "voicemail", key: questionnaire.KeyVoicemail, ch: "voice",
			body: "Please call ((practice_name)) about your screening.", problem: `"screening"`},
		{name: "nameless placeholders are fine", key: questionnaire.KeyIdentityNotPatient, ch: "voice",
			body: "Please ask them to call ((practice_name)) on ((team_phone)) for ((programme_name))."},
		{name: "a question may be clinical", key: "wellbeing.medicines", ch: "voice",
			body: "((first_name)), do you have your medicines? Press 1 for yes."},
		{name: "the SMS greeting key is not said", key: questionnaire.KeyGoodbye, ch: "sms",
			body: "Goodbye, and take care of your diabetes."},
		{name: "first text names a condition", key: "wellbeing.intro", ch: "sms",
			body: "Hello ((first_name)), ((practice_name)) is checking on people with cancer.", problem: `"cancer" cannot be in the first text`},
		{name: "first text, Covid in capitals", key: "wellbeing.intro", ch: "sms",
			body: "((practice_name)): COVID support for you.", problem: `"COVID"`},
		{name: "first text names the practice and programme", key: "wellbeing.intro", ch: "sms",
			body: "Hello ((first_name)), this is ((practice_name)) for ((programme_name)). Reply STOP to opt out."},
		{name: "the intro said after the check may be clinical", key: "wellbeing.intro", ch: "voice",
			body: "Thank you. A few questions about your health."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.key, tt.ch, "en", tt.body, Limits{})
			if tt.problem == "" {
				if !r.OK {
					t.Fatalf("problems %+v, want none", r.Problems)
				}
				return
			}
			if r.OK {
				t.Fatalf("OK, want a problem with %q", tt.problem)
			}
			var found *Problem
			for i, p := range r.Problems {
				if strings.Contains(p.Message, tt.problem) {
					found = &r.Problems[i]
				}
			}
			if found == nil {
				t.Fatalf("problems %+v lack %q", r.Problems, tt.problem)
			}
			if tt.line != 0 && (found.Line != tt.line || found.Column != tt.column) {
				t.Errorf("at line %d column %d, want %d:%d", found.Line, found.Column, tt.line, tt.column)
			}
		})
	}
}

// TestBeforeIdentityKeysAreVoiceKeys: every key said before the check is a
// shipped voice text, so the list cannot drift from the scripts.
func TestBeforeIdentityKeysAreVoiceKeys(t *testing.T) {
	texts, _ := questionnaire.DefaultTextsFor("en")
	for _, key := range questionnaire.BeforeIdentityCheckKeys() {
		if _, ok := texts.Voice(key); !ok {
			t.Errorf("%s has no shipped voice text", key)
		}
	}
}
