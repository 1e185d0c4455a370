package escalation

import (
	"testing"

	"github.com/protectnow/protect/store"
)

// TestNeedTexts: each need reads as a sentence; one an answer raised says
// the answer in words, never the question's id.
func TestNeedTexts(t *testing.T) {
	words := func(_ *int64, question, option, channel string) answerText {
		if question == "wellbeing.medicines" && option == "2" {
			return answerText{question: "Do you have the medicines you need?", label: "No"}
		}
		return answerText{question: readable(question), label: readable(option)}
	}
	tests := []struct {
		name string
		need store.EscalationNeed
		want string
	}{
		{"a key pressed", store.EscalationNeed{ID: 1, Detail: "pressed 2 to wellbeing.medicines on a call", Question: "wellbeing.medicines", Option: "2"},
			"Answered “No” to “Do you have the medicines you need?” on a call."},
		{"a text reply, answer not linked", store.EscalationNeed{ID: 2, Detail: "answered 2 to wellbeing.medicines"},
			"Answered “No” to “Do you have the medicines you need?” by text."},
		{"identity check failed", store.EscalationNeed{ID: 3, Detail: "could not confirm who answered the call (2 tries at the date of birth check): reach the patient another way; nothing was asked or said"},
			"Could not confirm who answered the call (2 tries at the date of birth check): reach the patient another way; nothing was asked or said."},
		{"already a sentence", store.EscalationNeed{ID: 4, Detail: "Reply not understood twice."}, "Reply not understood twice."},
		{"no detail", store.EscalationNeed{ID: 5}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := needTexts([]store.EscalationNeed{tc.need}, nil, words)[tc.need.ID]
			if got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
	if s := NeedSentence("pressed 2 to wellbeing.ok on a call"); s != "" {
		t.Errorf("an answer's need reads %q in the thread: the answer is on the page", s)
	}
}
