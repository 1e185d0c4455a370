package ivr

import (
	"encoding/json"
	"encoding/xml"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
)

// node is a parsed TwiML element.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []node     `xml:",any"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func parse(t *testing.T, doc string) []node {
	t.Helper()
	var root node
	if err := xml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatalf("TwiML does not parse: %v\n%s", err, doc)
	}
	if root.XMLName.Local != "Response" {
		t.Fatalf("root is %s", root.XMLName.Local)
	}
	return root.Children
}

// shape is what a test expects of a document: the verbs in order, and for
// each Say (inside a Gather too) the template keys said.
type shape struct {
	verbs []string   // e.g. "Gather", "Say", "Dial", "Hangup", "Pause"
	said  [][]string // keys of each Say, in order
}

// fakeSay renders keys as "[key]" so tests see which texts were said.
func fakeSay(keys ...string) ([]outreach.Spoken, error) {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("[" + k + "]")
	}
	return []outreach.Spoken{{Text: b.String(), Language: "en"}}, nil
}

// spoken is what a Say says: its text, or the text of the prosody
// elements that set the speaking rate (numbers in them in a say-as).
func (n node) spoken() (text, rate string) {
	if len(n.Children) == 0 || n.Children[0].XMLName.Local != "prosody" {
		return n.Text, ""
	}
	var b strings.Builder
	for _, c := range n.Children {
		b.WriteString(c.Text)
		for _, sa := range c.Children {
			b.WriteString(sa.Text)
		}
	}
	return b.String(), n.Children[0].attr("rate")
}

func keysOf(s string) []string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	return strings.Split(s, "][")
}

func check(t *testing.T, doc string, want shape) []node {
	t.Helper()
	verbs := parse(t, doc)
	var names []string
	var said [][]string
	var sayCheck func(n node)
	sayCheck = func(n node) {
		if n.XMLName.Local == "Say" {
			text, rate := n.spoken()
			said = append(said, keysOf(text))
			if n.attr("voice") != "Polly.Amy" || n.attr("language") != "en-GB" || rate != DefaultRate {
				t.Errorf("Say without the configured voice, language and rate: %v %q", n.Attrs, rate)
			}
		}
		for _, c := range n.Children {
			sayCheck(c)
		}
	}
	for _, v := range verbs {
		names = append(names, v.XMLName.Local)
		sayCheck(v)
		if v.XMLName.Local == "Gather" {
			for attr, val := range map[string]string{"numDigits": "1", "timeout": "8", "actionOnEmptyResult": "true", "input": "dtmf", "method": "POST"} {
				if v.attr(attr) != val {
					t.Errorf("Gather %s = %q, want %q", attr, v.attr(attr), val)
				}
			}
			if len(v.Children) != 1 || v.Children[0].XMLName.Local != "Say" {
				t.Errorf("Gather must hold the prompt: %+v", v.Children)
			}
		}
	}
	if !slices.Equal(names, want.verbs) {
		t.Errorf("verbs %v, want %v\n%s", names, want.verbs, doc)
	}
	if !slices.EqualFunc(said, want.said, func(a, b []string) bool { return slices.Equal(a, b) }) {
		t.Errorf("said %v, want %v", said, want.said)
	}
	return verbs
}

const testWhisperURL = "https://gw.example/webhooks/twilio/voice/whisper?attempt=7&call=CA00"

func testDialog(team string) *dialog {
	return &dialog{qn: questionnaire.Default(), sp: Speech{}.withDefaults(), say: fakeSay,
		gatherURL:  "https://gw.example/webhooks/twilio/voice/gather?attempt=7&seq=3",
		dialURL:    "https://gw.example/webhooks/twilio/voice/dial?attempt=7&seq=3",
		whisperURL: testWhisperURL,
		teamPhone:  e164(team), callerID: "+441603111111",
		now: func() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }}
}

// atQuestion is a call of a campaign that makes no identity check (the
// questionnaire's paths); identity_test.go covers the check.
func atQuestion(t *testing.T, phase, question string, answers int) store.CallDialog {
	t.Helper()
	c := store.CallDialog{CallSID: "CA" + strings.Repeat("0", 32), AttemptID: 7, Phase: phase, JourneyState: "contacting",
		IdentityCheck: outreach.IdentityOff}
	if question != "" {
		s := questionnaire.State{QuestionID: question}
		for range answers {
			s.Answers = append(s.Answers, questionnaire.Answer{Question: "ok", Option: "yes"})
		}
		c.Conversation, _ = json.Marshal(s)
	}
	return c
}

// accepted marks a call's transfer as accepted at the whisper.
func accepted(c store.CallDialog) store.CallDialog {
	c.TransferAccepted = true
	return c
}

func TestDialogPaths(t *testing.T) {
	const (
		greet  = KeyGreeting
		intro  = "wellbeing.intro"
		ok     = "wellbeing.ok"
		food   = "wellbeing.food"
		noIn   = KeyNoInput
		bad    = KeyInvalidOption
		bye    = questionnaire.KeyGoodbye
		vm     = questionnaire.KeyVoicemail
		oper   = questionnaire.KeyOperator
		cbk    = KeyCallBackPromise
		handov = questionnaire.KeyHandover
	)
	tests := []struct {
		name    string
		call    store.CallDialog
		turn    turn
		team    string
		want    shape
		phase   string
		result  string
		outcome string
		noInput int
		answer  string   // option key recorded
		needs   []string // categories recorded
	}{
		{"human answers: greeting, nothing personal", atQuestion(t, "", "", 0), turn{kind: "answer", answeredBy: "human"}, "",
			shape{[]string{"Gather"}, [][]string{{greet}}}, "greeting", "", "", 0, "", nil},
		{"no AMD result: greeting", atQuestion(t, "", "", 0), turn{kind: "answer"}, "",
			shape{[]string{"Gather"}, [][]string{{greet}}}, "greeting", "", "", 0, "", nil},
		{"machine after the beep: voicemail", atQuestion(t, "", "", 0), turn{kind: "answer", answeredBy: "machine_end_beep"}, "",
			shape{[]string{"Say", "Hangup"}, [][]string{{vm}}}, "done", "voicemail", "", 0, "", nil},
		{"machine start: voicemail", atQuestion(t, "", "", 0), turn{kind: "answer", answeredBy: "machine_start"}, "",
			shape{[]string{"Say", "Hangup"}, [][]string{{vm}}}, "done", "voicemail", "", 0, "", nil},
		{"fax: hang up", atQuestion(t, "", "", 0), turn{kind: "answer", answeredBy: "fax"}, "",
			shape{[]string{"Hangup"}, nil}, "done", "fax", "", 0, "", nil},
		{"greeting: 1 goes on with intro and first question", atQuestion(t, "greeting", "", 0), turn{kind: "gather", digits: "1"}, "",
			shape{[]string{"Gather"}, [][]string{{intro, ok}}}, "questions", "", "", 0, "", nil},
		{"greeting after an unanswered SMS: intro and waiting question", atQuestion(t, "greeting", "ok", 0), turn{kind: "gather", digits: "1"}, "",
			shape{[]string{"Gather"}, [][]string{{intro, ok}}}, "questions", "", "", 0, "", nil},
		{"greeting after a call cut short: resumes at the question", atQuestion(t, "greeting", "food", 1), turn{kind: "gather", digits: "1"}, "",
			shape{[]string{"Gather"}, [][]string{{food}}}, "questions", "", "", 0, "", nil},
		{"greeting: 9 repeats", atQuestion(t, "greeting", "", 0), turn{kind: "gather", digits: "9"}, "",
			shape{[]string{"Gather"}, [][]string{{greet}}}, "greeting", "", "", 0, "", nil},
		{"greeting: star is not an option", atQuestion(t, "greeting", "", 0), turn{kind: "gather", digits: "*"}, "",
			shape{[]string{"Gather"}, [][]string{{bad, greet}}}, "greeting", "", "", 0, "", nil},
		{"greeting: silence repeats", atQuestion(t, "greeting", "", 0), turn{kind: "gather"}, "",
			shape{[]string{"Gather"}, [][]string{{noIn, greet}}}, "greeting", "", "", 1, "", nil},
		{"question: first silence repeats", atQuestion(t, "questions", "ok", 0), turn{kind: "gather"}, "",
			shape{[]string{"Gather"}, [][]string{{noIn, ok}}}, "questions", "", "", 1, "", nil},
		{"question: 9 repeats, nothing recorded", atQuestion(t, "questions", "food", 1), turn{kind: "gather", digits: "9"}, "",
			shape{[]string{"Gather"}, [][]string{{food}}}, "questions", "", "", 0, "", nil},
		{"question: invalid digit", atQuestion(t, "questions", "ok", 0), turn{kind: "gather", digits: "7"}, "",
			shape{[]string{"Gather"}, [][]string{{bad, ok}}}, "questions", "", "", 0, "", nil},
		{"question: 0 dials the team", atQuestion(t, "questions", "ok", 0), turn{kind: "gather", digits: "0"}, "01603 000000",
			shape{[]string{"Say", "Dial"}, [][]string{{oper}}}, "operator", "", "", 0, "", nil},
		{"greeting: 0 dials the team", atQuestion(t, "greeting", "", 0), turn{kind: "gather", digits: "0"}, "01603 000000",
			shape{[]string{"Say", "Dial"}, [][]string{{oper}}}, "operator", "", "", 0, "", nil},
		{"0 without a team line: call back promised", atQuestion(t, "questions", "ok", 0), turn{kind: "gather", digits: "0"}, "",
			shape{[]string{"Say", "Hangup"}, [][]string{{cbk}}}, "done", "callback", "need", 0, "", []string{"call-back"}},
		{"transfer accepted at the whisper", accepted(atQuestion(t, "operator", "ok", 0)), turn{kind: "dial", dialStatus: "completed"}, "01603 000000",
			shape{[]string{"Hangup"}, nil}, "done", "transferred", "need", 0, "", []string{"call-back"}},
		{"transfer completed but not accepted at the whisper: call back", atQuestion(t, "operator", "ok", 0), turn{kind: "dial", dialStatus: "completed"}, "01603 000000",
			shape{[]string{"Say", "Hangup"}, [][]string{{cbk}}}, "done", "callback", "need", 0, "", []string{"call-back"}},
		{"transfer not answered: call back", atQuestion(t, "operator", "ok", 0), turn{kind: "dial", dialStatus: "no-answer"}, "01603 000000",
			shape{[]string{"Say", "Hangup"}, [][]string{{cbk}}}, "done", "callback", "need", 0, "", []string{"call-back"}},
		{"transfer busy: call back", atQuestion(t, "operator", "ok", 0), turn{kind: "dial", dialStatus: "busy"}, "01603 000000",
			shape{[]string{"Say", "Hangup"}, [][]string{{cbk}}}, "done", "callback", "need", 0, "", []string{"call-back"}},
		{"a late request after the end hangs up", atQuestion(t, "done", "", 0), turn{kind: "gather", digits: "1"}, "",
			shape{[]string{"Hangup"}, nil}, "done", "", "", 0, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := testDialog(tt.team)
			ch, err := g.decide(tt.call, tt.turn)
			if err != nil {
				t.Fatal(err)
			}
			verbs := check(t, ch.TwiML, tt.want)
			if ch.Phase != tt.phase || ch.Result != tt.result || ch.Outcome != tt.outcome || ch.NoInput != tt.noInput {
				t.Errorf("phase %q result %q outcome %q no-input %d, want %q %q %q %d",
					ch.Phase, ch.Result, ch.Outcome, ch.NoInput, tt.phase, tt.result, tt.outcome, tt.noInput)
			}
			if got := ""; ch.Answer != nil {
				if got = ch.Answer.Option; got != tt.answer || ch.Answer.Channel != "voice" {
					t.Errorf("answer %+v, want %q", ch.Answer, tt.answer)
				}
			} else if tt.answer != "" {
				t.Errorf("no answer, want %q", tt.answer)
			}
			var cats []string
			for _, n := range ch.Needs {
				cats = append(cats, n.Category)
			}
			if !slices.Equal(cats, tt.needs) {
				t.Errorf("needs %v, want %v", cats, tt.needs)
			}
			for _, v := range verbs {
				switch v.XMLName.Local {
				case "Gather":
					if v.attr("action") != g.gatherURL {
						t.Errorf("Gather action %q", v.attr("action"))
					}
				case "Dial":
					if v.attr("action") != g.dialURL || v.attr("callerId") != "+441603111111" ||
						len(v.Children) != 1 || v.Children[0].XMLName.Local != "Number" || v.Children[0].Text != "+441603000000" ||
						v.Children[0].attr("url") != testWhisperURL {
						t.Errorf("Dial %+v", v)
					}
				}
			}
		})
	}
}

// TestEveryOption presses each option of each question of the default
// questionnaire and checks what is recorded and said next.
func TestEveryOption(t *testing.T) {
	qn := questionnaire.Default()
	for _, q := range qn.Questions {
		for _, o := range q.Options {
			t.Run(q.ID+"/"+o.Key, func(t *testing.T) {
				g := testDialog("01603 000000")
				c := atQuestion(t, "questions", q.ID, 1)
				ch, err := g.decide(c, turn{kind: "gather", digits: o.Digit})
				if err != nil {
					t.Fatal(err)
				}
				if ch.Answer == nil || ch.Answer.Question != q.ID || ch.Answer.Option != o.Key || ch.Answer.Raw != o.Digit {
					t.Fatalf("answer %+v", ch.Answer)
				}
				var want shape
				if o.Advice != "" {
					want.verbs = append(want.verbs, "Say", "Pause")
					want.said = append(want.said, []string{o.Advice})
				}
				if o.Next == questionnaire.End {
					closing := qn.EndFine
					if o.Need != nil {
						closing = qn.EndNeed
					}
					want.verbs = append(want.verbs, "Say", "Hangup")
					want.said = append(want.said, []string{closing, questionnaire.KeyGoodbye})
					if ch.Outcome == "" || ch.Result != "finished" {
						t.Errorf("finished questionnaire: outcome %q result %q", ch.Outcome, ch.Result)
					}
				} else {
					want.verbs = append(want.verbs, "Gather")
					want.said = append(want.said, []string{qn.Question(o.Next).Prompt})
				}
				check(t, ch.TwiML, want)
				if (o.Need != nil) != (len(ch.Needs) == 1) {
					t.Errorf("needs %+v for option with need %v", ch.Needs, o.Need)
				}
				var s questionnaire.State
				if err := json.Unmarshal(ch.Conversation, &s); err != nil || len(s.Answers) != 2 {
					t.Errorf("conversation %s: %v", ch.Conversation, err)
				}
			})
		}
	}
}

// TestSequences plays several turns, carrying the call's state, for the
// paths that take more than one step: silence three times, two wrong keys.
func TestSequences(t *testing.T) {
	tests := []struct {
		name    string
		start   store.CallDialog
		digits  []string
		last    shape
		result  string
		outcome string
		needs   []string
	}{
		{"silence at the greeting: twice repeated then goodbye", atQuestion(t, "greeting", "", 0), []string{"", "", ""},
			shape{[]string{"Say", "Hangup"}, [][]string{{questionnaire.KeyGoodbye}}}, "no-input", "", nil},
		{"silence at a question: twice repeated then goodbye", atQuestion(t, "questions", "food", 1), []string{"", "", ""},
			shape{[]string{"Say", "Hangup"}, [][]string{{questionnaire.KeyGoodbye}}}, "no-input", "", nil},
		{"silence counter resets on a key", atQuestion(t, "questions", "ok", 0), []string{"", "", "9", "", ""},
			shape{[]string{"Gather"}, [][]string{{KeyNoInput, "wellbeing.ok"}}}, "", "", nil},
		{"two wrong keys hand over to a person", atQuestion(t, "questions", "unwell", 1), []string{"5", "6"},
			shape{[]string{"Say", "Hangup"}, [][]string{{questionnaire.KeyHandover, questionnaire.KeyGoodbye}}}, "handover", "need", []string{"unclear-reply"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := testDialog("")
			c := tt.start
			var ch store.CallChange
			for _, d := range tt.digits {
				var err error
				ch, err = g.decide(c, turn{kind: "gather", digits: d})
				if err != nil {
					t.Fatal(err)
				}
				c.Phase, c.NoInput = ch.Phase, ch.NoInput
				if ch.Conversation != nil {
					c.Conversation = ch.Conversation
				}
			}
			check(t, ch.TwiML, tt.last)
			var cats []string
			for _, n := range ch.Needs {
				cats = append(cats, n.Category)
			}
			if ch.Result != tt.result || ch.Outcome != tt.outcome || !slices.Equal(cats, tt.needs) {
				t.Errorf("result %q outcome %q needs %v, want %q %q %v", ch.Result, ch.Outcome, cats, tt.result, tt.outcome, tt.needs)
			}
		})
	}
}

func TestActionURLsNameAttemptAndStep(t *testing.T) {
	v := New(Options{PublicURL: "https://gw.example/"})
	u, err := url.Parse(v.url("gather", 42, 5))
	if err != nil || u.Path != "/webhooks/twilio/voice/gather" || u.Query().Get("attempt") != "42" || u.Query().Get("seq") != "5" {
		t.Fatalf("%v %v", u, err)
	}
	for in, want := range map[string]string{"01603 000000": "+441603000000", "+44 1603 000000": "+441603000000",
		"(01603) 000-000": "+441603000000", "ext 12": "", "": "", "0300 123 4567": "+443001234567"} {
		if got := e164(in); got != want {
			t.Errorf("e164(%q) = %q, want %q", in, got, want)
		}
	}
}
