package escalation

import (
	"regexp"
	"strings"

	"github.com/protectnow/protect/store"
)

// needAnswer matches the detail of a need an answer raised: "pressed 2 to
// wellbeing.medicines on a call", "answered 2 to wellbeing.ok".
var needAnswer = regexp.MustCompile(`^(pressed|answered) (\S+) to (\S+)( on a call)?$`)

// NeedSentence is a need's stored detail as a sentence a handler reads,
// or "" for a need an answer raised: the answer is on the page in words
// (see needText). Details hold no date of birth: a call's identity check
// stores only its tries and result.
func NeedSentence(detail string) string {
	detail = strings.TrimSpace(detail)
	if detail == "" || needAnswer.MatchString(detail) {
		return ""
	}
	s := strings.ToUpper(detail[:1]) + detail[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// needTexts explains each need of an escalation in words, by need id:
// the answer that raised it as the patient saw it, or its detail.
func needTexts(needs []store.EscalationNeed, campaignID *int64, words func(campaignID *int64, question, option, channel string) answerText) map[int64]string {
	out := make(map[int64]string, len(needs))
	for _, n := range needs {
		m := needAnswer.FindStringSubmatch(strings.TrimSpace(n.Detail))
		if m == nil {
			out[n.ID] = NeedSentence(n.Detail)
			continue
		}
		question, option, channel, how := m[3], m[2], "sms", " by text"
		if m[4] != "" {
			channel, how = "voice", " on a call"
		}
		if n.Question != "" {
			question, option = n.Question, n.Option
		}
		w := words(campaignID, question, option, channel)
		out[n.ID] = "Answered “" + w.label + "” to “" + w.question + "”" + how + "."
	}
	return out
}
