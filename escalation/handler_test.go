package escalation_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/protectnow/protect/escalation"
)

func TestCheckSMS(t *testing.T) {
	tests := []struct {
		name, body, want, err string
	}{
		{"plain", "Hello, we will call you today.", "Hello, we will call you today.", ""},
		{"windows line breaks made plain, space trimmed", "  Hello\r\nBye \n", "Hello\nBye", ""},
		{"918 characters", strings.Repeat("a", 918), strings.Repeat("a", 918), ""},
		{"919 characters", strings.Repeat("a", 919), "", "must be 918 characters or fewer"},
		{"918 characters of two bytes", strings.Repeat("é", 918), strings.Repeat("é", 918), ""},
		{"bell", "call\x07 us", "", "control character (U+0007)"},
		{"tab", "call\tus", "", "control character (U+0009)"},
		{"zero-width joiner", "call\u200dus", "", "control character (U+200D)"},
		{"empty", " \r\n ", "", "Write the text to send"},
		{"invalid UTF-8", "caf\xe9", "", "cannot be sent"},
	}
	for _, tc := range tests {
		got, err := escalation.CheckSMS(tc.body)
		var inv *escalation.InvalidError
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: %q, %v", tc.name, got, err)
		case tc.err != "" && (!errors.As(err, &inv) || !strings.Contains(inv.Msg, tc.err)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.err)
		}
	}
}

func TestQuestionText(t *testing.T) {
	tests := []struct{ sms, want string }{
		{"Are you feeling unwell? Reply 1 for yes or 2 for no.", "Are you feeling unwell?"},
		{"Do you need help getting food or shopping? Reply 1 for yes or 2 for no.", "Do you need help getting food or shopping?"},
		{"Reply 1 if you have chest pain. Reply 2 if you are getting worse.", ""}, // all options: no question
		{"Press 1 if you feel unwell. Press 2 if you do not.", ""},
		{"A question without instructions", "A question without instructions"},
	}
	for _, tc := range tests {
		if got := escalation.QuestionText(tc.sms); got != tc.want {
			t.Errorf("QuestionText(%q) = %q, want %q", tc.sms, got, tc.want)
		}
	}
}
