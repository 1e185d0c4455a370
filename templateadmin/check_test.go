package templateadmin

import (
	"strings"
	"testing"

	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/templates"
)

// Every shipped text, English and Welsh, must pass the check a comms lead's
// edit gets: otherwise the first edit of a seeded template would fail on
// text nobody changed.
func TestShippedTextsPassCheck(t *testing.T) {
	for _, lang := range questionnaire.DefaultTextLanguages() {
		texts, _ := questionnaire.DefaultTextsFor(lang)
		for _, key := range texts.Keys() {
			for _, ch := range []templates.Channel{templates.ChannelSMS, templates.ChannelVoice} {
				body, ok := texts.SMS(key)
				if ch == templates.ChannelVoice {
					body, ok = texts.Voice(key)
				}
				if !ok {
					continue
				}
				r := Check(key, ch, lang, body, Limits{})
				if !r.OK || r.Preview == "" {
					t.Errorf("%s %s %s: %+v", lang, key, ch, r.Problems)
				}
				if ch == templates.ChannelSMS && lang == "en" && r.SMS.Encoding != string(templates.GSM7) {
					t.Errorf("%s %s: English SMS should be GSM-7, got %s", key, ch, r.SMS.Encoding)
				}
			}
		}
	}
}

func TestPurposeFor(t *testing.T) {
	tests := []struct {
		key  string
		ch   templates.Channel
		want templates.Purpose
	}{
		{"wellbeing.intro", templates.ChannelSMS, templates.PurposeInvitation},
		{"wellbeing.intro", templates.ChannelVoice, templates.PurposeVoiceGreeting},
		{"wellbeing.ok", templates.ChannelSMS, templates.PurposeQuestion},
		{"wellbeing.ok", templates.ChannelVoice, templates.PurposeVoicePrompt},
		{"wellbeing.end_fine", templates.ChannelSMS, templates.PurposeThanks},
		{"advice.urgent_999", templates.ChannelSMS, templates.PurposeUrgentAdvice},
		{"advice.urgent_999", templates.ChannelVoice, templates.PurposeUrgentAdvice},
		{"system.help", templates.ChannelSMS, templates.PurposeHelp},
		{"system.opt_out", templates.ChannelSMS, templates.PurposeOptOut},
		{"system.opt_in", templates.ChannelSMS, templates.PurposeOptIn},
		{"system.voicemail", templates.ChannelVoice, templates.PurposeVoicemail},
		{"system.goodbye", templates.ChannelVoice, templates.PurposeVoiceGoodbye},
		{"system.reminder", templates.ChannelSMS, templates.PurposeReminder},
		{"system.not_understood", templates.ChannelSMS, templates.PurposeNotUnderstood},
		{"system.handover", templates.ChannelSMS, templates.PurposeThanks},
		{"flu.question_1", templates.ChannelSMS, templates.PurposeQuestion},
	}
	for _, tt := range tests {
		if got := PurposeFor(tt.key, tt.ch); got != tt.want {
			t.Errorf("PurposeFor(%s, %s) = %s, want %s", tt.key, tt.ch, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		key       string
		ch        templates.Channel
		body      string
		ok        bool
		problem   string // part of a problem message
		notice    string // a notice code
		preview   string
		fragments int
		unicode   string // the characters forcing Unicode
		gsmBody   string
		speech    bool
	}{
		{name: "plain", key: "wellbeing.ok", ch: "sms", body: "Are you OK, ((first_name))? Reply 1 or 2.", ok: true,
			preview: "Are you OK, Margaret? Reply 1 or 2.", fragments: 1},
		{name: "case-insensitive names", key: "wellbeing.ok", ch: "sms", body: "Hi ((First Name)) at ((PRACTICE-NAME))", ok: true,
			preview: "Hi Margaret at Riverside Medical Centre", fragments: 1},
		{name: "unknown placeholder", key: "wellbeing.ok", ch: "sms", body: "Hi ((nickname))", problem: "((nickname)) is not a placeholder"},
		{name: "registry name the engine does not fill", key: "wellbeing.ok", ch: "sms", body: "Question ((question_number))", problem: "question_number"},
		{name: "voicemail keeps last name out", key: "system.voicemail", ch: "voice", body: "Hello ((last_name))", problem: "last_name"},
		{name: "keyword reply has no first name", key: "system.help", ch: "sms", body: "Hi ((first_name))", problem: "first_name"},
		{name: "syntax", key: "wellbeing.ok", ch: "sms", body: "Hi ((first_name"},
		{name: "empty", key: "wellbeing.ok", ch: "sms", body: "  ", problem: "empty"},
		{name: "shortener", key: "wellbeing.ok", ch: "sms", body: "See bit.ly/abc", problem: "shortener"},
		{name: "link warns", key: "wellbeing.ok", ch: "sms", body: "See https://www.nhs.uk/conditions for advice.", ok: true, notice: "link", fragments: 1},
		{name: "smart quotes", key: "wellbeing.ok", ch: "sms", body: "We\u2019re checking \u2014 reply 1.", ok: true, notice: "unicode",
			fragments: 1, unicode: "\u2019\u2014", gsmBody: "We're checking - reply 1."},
		{name: "too long", key: "wellbeing.ok", ch: "sms", body: strings.Repeat("Reply 1 for yes. ", 25), ok: true, notice: "sms_length", fragments: 3},
		{name: "voice", key: "wellbeing.ok", ch: "voice", body: "Press 1 if you are OK, ((first_name)).", ok: true,
			preview: "Press 1 if you are OK, Margaret.", speech: true},
		{name: "unknown channel", key: "wellbeing.ok", ch: "fax", body: "Hi", problem: "unknown channel"},
		{name: "too big", key: "wellbeing.ok", ch: "sms", body: strings.Repeat("x", MaxBodyLength+1), problem: "the most is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.key, tt.ch, "en", tt.body, Limits{})
			if r.OK != tt.ok {
				t.Fatalf("OK = %v, problems %+v", r.OK, r.Problems)
			}
			if tt.problem != "" {
				found := false
				for _, p := range r.Problems {
					found = found || strings.Contains(p.Message, tt.problem)
				}
				if !found {
					t.Errorf("problems %+v lack %q", r.Problems, tt.problem)
				}
			}
			if tt.notice != "" {
				found := false
				for _, n := range r.Notices {
					found = found || n.Code == tt.notice
				}
				if !found {
					t.Errorf("notices %+v lack %q", r.Notices, tt.notice)
				}
			}
			if tt.preview != "" && r.Preview != tt.preview {
				t.Errorf("preview %q, want %q", r.Preview, tt.preview)
			}
			if tt.fragments > 0 && (r.SMS == nil || r.SMS.Fragments != tt.fragments) {
				t.Errorf("sms %+v, want %d fragments", r.SMS, tt.fragments)
			}
			if tt.unicode != "" {
				var got strings.Builder
				for _, u := range r.SMS.UnicodeChars {
					got.WriteString(u.Char)
					if !u.HasReplacement || u.Line != 1 || u.Column < 1 {
						t.Errorf("unicode char %+v", u)
					}
				}
				if got.String() != tt.unicode || r.SMS.Encoding != string(templates.UCS2) {
					t.Errorf("unicode chars %q (%s), want %q", got.String(), r.SMS.Encoding, tt.unicode)
				}
			}
			if r.SMS != nil && r.SMS.GSMBody != tt.gsmBody {
				t.Errorf("GSM body %q, want %q", r.SMS.GSMBody, tt.gsmBody)
			}
			if tt.speech != (r.SpeechSeconds > 0) {
				t.Errorf("speech %v", r.SpeechSeconds)
			}
			if r.OK && len(r.Placeholders) == 0 && tt.ch.Valid() {
				t.Error("no placeholders listed")
			}
		})
	}
}
