package templates

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLint(t *testing.T) {
	long := strings.Repeat("Please reply to this message. ", 14) // 420 characters: 3 parts
	tests := []struct {
		name    string
		channel Channel
		body    string
		opts    LintOptions
		want    []WarningCode
		text    string // the Text of the first warning, if set
		message string // a substring of some warning's message, if set
	}{
		{name: "unknown channel", channel: "email", body: "Hi", want: []WarningCode{CodeChannel}},
		{name: "empty", channel: ChannelSMS, body: " \n ", want: []WarningCode{CodeEmpty}},
		{name: "clean SMS", channel: ChannelSMS, body: "Hello ((first_name)), please reply YES or NO.", want: nil},
		{name: "syntax error", channel: ChannelSMS, body: "Hello ((first_name", want: []WarningCode{CodeSyntax}},

		{name: "https link", channel: ChannelSMS, body: "Read https://www.nhs.uk/flu/ today", want: []WarningCode{CodeLink}, text: "https://www.nhs.uk/flu/"},
		{name: "www link", channel: ChannelSMS, body: "See www.example.co.uk.", want: []WarningCode{CodeLink}, text: "www.example.co.uk"},
		{name: "bare domain", channel: ChannelSMS, body: "Visit nhs.uk/flu.", want: []WarningCode{CodeLink}, text: "nhs.uk/flu"},
		{name: "bare domain in optional text", channel: ChannelSMS, body: "((repeat_attempt??See gov.uk))", want: []WarningCode{CodeLink}, text: "gov.uk"},
		{name: "bit.ly", channel: ChannelSMS, body: "Book at bit.ly/3xYz now", want: []WarningCode{CodeLinkShortener}, text: "bit.ly/3xYz"},
		{name: "shortener with scheme", channel: ChannelSMS, body: "Book: https://tinyurl.com/abc", want: []WarningCode{CodeLinkShortener}},
		{name: "t.co", channel: ChannelSMS, body: "See t.co/x", want: []WarningCode{CodeLinkShortener}},
		{name: "email is not a link", channel: ChannelSMS, body: "Email help@nhs.net", want: nil},
		{name: "abbreviations are not links", channel: ChannelSMS, body: "e.g. at 9.30am Mon.-Fri. Dr.Smith etc. it.At once", want: nil},

		{name: "smart quote forces unicode", channel: ChannelSMS, body: "It’s fine",
			want: []WarningCode{CodeUnicodeChar, CodeUnicode}, text: "’", message: `replace it with "'"`},
		{name: "unicode each character once", channel: ChannelSMS, body: "‘a’ ‘b’ ŵ",
			want: []WarningCode{CodeUnicodeChar, CodeUnicodeChar, CodeUnicodeChar, CodeUnicode}, message: "no GSM replacement"},
		{name: "unicode costs a part", channel: ChannelSMS, body: digits(100) + "’",
			want: []WarningCode{CodeUnicodeChar, CodeUnicode}, message: "with GSM replacements it would take 1"},
		{name: "invisible character", channel: ChannelSMS, body: "Hi\u200B",
			want: []WarningCode{CodeUnicodeChar, CodeUnicode}, message: "invisible"},
		{name: "unicode from sample values", channel: ChannelSMS, body: "Hi ((first_name))",
			opts: LintOptions{Sample: map[string]string{"first_name": "Zoë"}}, want: []WarningCode{CodeUnicode}, message: "sample values"},
		{name: "too long", channel: ChannelSMS, body: long, want: []WarningCode{CodeSMSLength}, message: "takes 3 parts"},
		{name: "long but allowed", channel: ChannelSMS, body: long, opts: LintOptions{MaxFragments: 3}, want: nil},
		{name: "samples measured", channel: ChannelSMS, body: "((a))",
			opts: LintOptions{MaxFragments: 1, Sample: map[string]string{"a": digits(161)}}, want: []WarningCode{CodeSMSLength}},
		{name: "optional text counted unless sample hides it", channel: ChannelSMS, body: "((f??" + digits(200) + "))",
			opts: LintOptions{MaxFragments: 1}, want: []WarningCode{CodeSMSLength}},
		{name: "optional text hidden by sample", channel: ChannelSMS, body: "Hi((f??" + digits(200) + "))",
			opts: LintOptions{MaxFragments: 1, Sample: map[string]string{"f": "no"}}, want: nil},

		{name: "voice script", channel: ChannelVoice, body: "Hello ((first_name)). Press 1 for yes.",
			opts: LintOptions{Sample: map[string]string{"first_name": "Ann"}}, want: []WarningCode{CodeSpeechDuration}, message: "about 4s to say"},
		{name: "voice markup", channel: ChannelVoice, body: "Say <break time='1s'/> this",
			want: []WarningCode{CodeMarkup, CodeSpeechDuration}, text: "<"},
		{name: "voice link", channel: ChannelVoice, body: "Go to nhs.uk.",
			want: []WarningCode{CodeLink, CodeSpeechDuration}, message: "read aloud"},
		{name: "voice too long", channel: ChannelVoice, body: strings.Repeat("word ", 200),
			want: []WarningCode{CodeSpeechDuration, CodeSpeechLength}, message: "more than the maximum of 45s"},
		{name: "voice long but allowed", channel: ChannelVoice, body: strings.Repeat("word ", 200),
			opts: LintOptions{MaxSpeech: 2 * time.Minute}, want: []WarningCode{CodeSpeechDuration}},
		{name: "voice empty with samples", channel: ChannelVoice, body: "((repeat_attempt??Hello))",
			opts: LintOptions{Sample: map[string]string{"repeat_attempt": "no"}}, want: []WarningCode{CodeEmpty}},
		{name: "voice unicode is fine", channel: ChannelVoice, body: "It’s Zoë – bye.", want: []WarningCode{CodeSpeechDuration}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := Lint(tt.channel, tt.body, tt.opts)
			var codes []WarningCode
			for _, w := range ws {
				codes = append(codes, w.Code)
				if w.Message == "" || w.Severity == "" {
					t.Errorf("incomplete warning %+v", w)
				}
				if (w.Offset < 0) != (w.Line == 0) {
					t.Errorf("offset and line disagree: %+v", w)
				}
				if w.Offset >= 0 && w.Text != "" && !strings.HasPrefix(tt.body[w.Offset:], w.Text) {
					t.Errorf("warning text %q not at offset %d", w.Text, w.Offset)
				}
			}
			if !reflect.DeepEqual(codes, tt.want) {
				t.Fatalf("codes = %v, want %v\n%+v", codes, tt.want, ws)
			}
			if tt.text != "" && ws[0].Text != tt.text {
				t.Errorf("Text = %q, want %q", ws[0].Text, tt.text)
			}
			if tt.message != "" {
				found := false
				for _, w := range ws {
					found = found || strings.Contains(w.Message, tt.message)
				}
				if !found {
					t.Errorf("no message contains %q: %+v", tt.message, ws)
				}
			}
		})
	}
}

func TestLintSeverities(t *testing.T) {
	tests := []struct {
		body string
		code WarningCode
		want Severity
	}{
		{"bit.ly/x", CodeLinkShortener, SeverityError},
		{"nhs.uk", CodeLink, SeverityWarning},
		{"((x", CodeSyntax, SeverityError},
		{"’", CodeUnicode, SeverityWarning},
	}
	for _, tt := range tests {
		for _, w := range Lint(ChannelSMS, tt.body, LintOptions{}) {
			if w.Code == tt.code && w.Severity != tt.want {
				t.Errorf("%q: %s severity %s, want %s", tt.body, w.Code, w.Severity, tt.want)
			}
		}
	}
	for _, w := range Lint(ChannelVoice, "Hello.", LintOptions{}) {
		if w.Code == CodeSpeechDuration && w.Severity != SeverityInfo {
			t.Errorf("speech duration severity %s", w.Severity)
		}
	}
}
