package questionnaire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// base is a valid two-question file; rejection cases edit it.
const base = `id: test
version: 1
start: q1
questions:
  - id: q1
    prompt: t.q1
    options:
      - {key: "yes", digit: "1", words: ["yes", "ok"], next: q2}
      - {key: "no", digit: "2", words: ["no"], next: q2, need: {category: food, priority: normal}}
  - id: q2
    prompt: t.q2
    options:
      - {key: "yes", digit: "1", words: ["yes"], next: end, advice: t.advice}
      - {key: "no", digit: "2", words: ["no"], next: end}
`

func mustLoad(t *testing.T, src string) *Questionnaire {
	t.Helper()
	qn, err := Load("test.yaml", []byte(src), LoadOptions{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return qn
}

func TestLoadValid(t *testing.T) {
	qn := mustLoad(t, base)
	if qn.ID != "test" || qn.Version != 1 || len(qn.Questions) != 2 {
		t.Fatalf("unexpected %+v", qn)
	}
	if qn.EndFine != KeyEndFine || qn.EndNeed != KeyEndNeed {
		t.Errorf("default closings not set: %q %q", qn.EndFine, qn.EndNeed)
	}
	if qn.Questions[0].UnclearPriority != PriorityHigh {
		t.Errorf("default unclear priority = %q", qn.Questions[0].UnclearPriority)
	}
	want := []string{KeyEndFine, KeyEndNeed, KeyHandover, KeyNotUnderstood, "t.advice", "t.q1", "t.q2"}
	if got := qn.TemplateKeys(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("TemplateKeys = %v, want %v", got, want)
	}
}

func TestLoadJSON(t *testing.T) {
	src := `{"id":"j","version":2,"start":"a","questions":[{"id":"a","prompt":"p.a","options":[
		{"key":"y","digit":"1","words":["Yes!","  OK  "],"next":"end"},
		{"key":"n","digit":"2","next":"end"}]}]}`
	qn, err := Load("j.json", []byte(src), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := qn.Questions[0].Options[0].Words; strings.Join(got, "|") != "yes|ok" {
		t.Errorf("words not normalised: %q", got)
	}
	// Tab-indented JSON, as json.MarshalIndent writes it.
	indented, err := json.MarshalIndent(Default(), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load("indented.json", indented, LoadOptions{}); err != nil {
		t.Errorf("tab-indented JSON: %v", err)
	}
	// Duplicate keys are rejected, not silently overwritten.
	if _, err := Load("dup.json", []byte(`{"id":"a","id":"b"}`), LoadOptions{}); err == nil || !strings.Contains(err.Error(), "already defined") {
		t.Errorf("duplicate JSON key: %v", err)
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	for _, qn := range []*Questionnaire{mustLoad(t, base), Default()} {
		again, err := Load("canonical.json", qn.Canonical(), LoadOptions{})
		if err != nil {
			t.Fatalf("reload canonical: %v", err)
		}
		if again.Checksum() != qn.Checksum() {
			t.Errorf("checksum changed on reload: %s != %s", again.Checksum(), qn.Checksum())
		}
	}
	// Cosmetic differences (case, spacing of words) do not change the checksum.
	a := mustLoad(t, base)
	b := mustLoad(t, strings.Replace(base, `words: ["yes", "ok"]`, `words: ["YES", " Ok! "]`, 1))
	if a.Checksum() != b.Checksum() {
		t.Error("checksum depends on word spelling before normalisation")
	}
	c := mustLoad(t, strings.Replace(base, `priority: normal`, `priority: high`, 1))
	if a.Checksum() == c.Checksum() {
		t.Error("checksum did not change with a priority")
	}
	if !strings.HasPrefix(a.Checksum(), "sha256:") || len(a.Checksum()) != 7+64 {
		t.Errorf("checksum format %q", a.Checksum())
	}
}

func TestLoadRejects(t *testing.T) {
	type want struct{ question, option, reason string }
	cases := []struct {
		name string
		src  string
		opts LoadOptions
		want []want
	}{
		{"empty file", "", LoadOptions{}, []want{{"", "", "file is empty"}}},
		{"not yaml", "id: [", LoadOptions{}, []want{{"", "", "cannot read file"}}},
		{"unknown field", strings.Replace(base, "version: 1", "version: 1\ncolour: red", 1), LoadOptions{},
			[]want{{"", "", `unknown field "colour" in the questionnaire`}}},
		{"unknown option field", strings.Replace(base, `next: end, advice`, `nxt: end, advice`, 1), LoadOptions{},
			[]want{{"", "", `unknown field "nxt" in an option`}}},
		{"two documents", base + "---\nid: x\n", LoadOptions{}, []want{{"", "", "more than one document"}}},
		{"missing id", strings.Replace(base, "id: test\n", "", 1), LoadOptions{}, []want{{"", "", "has no id"}}},
		{"bad version", strings.Replace(base, "version: 1", "version: 0", 1), LoadOptions{}, []want{{"", "", "version must be"}}},
		{"missing start", strings.Replace(base, "start: q1\n", "", 1), LoadOptions{}, []want{{"", "", "start is missing"}}},
		{"unknown start", strings.Replace(base, "start: q1", "start: q9", 1), LoadOptions{}, []want{{"", "", `start "q9" is not a question`}}},
		{"no questions", "id: a\nversion: 1\nstart: q\nquestions: []\n", LoadOptions{}, []want{{"", "", "no questions"}}},
		{"duplicate question id", strings.Replace(base, "id: q2", "id: q1", 1), LoadOptions{}, []want{{"q1", "", "question id is used twice"}, {"q1", "yes", `next "q2" is not a question`}, {"q1", "no", `next "q2" is not a question`}}},
		{"question id end", strings.Replace(strings.Replace(base, "id: q2", "id: end", 1), "next: q2", "next: end", -1), LoadOptions{},
			[]want{{"end", "", "reserved"}}},
		{"question without id", strings.Replace(base, "  - id: q2\n", "  - id: \"\"\n", 1), LoadOptions{},
			[]want{{"#2", "", "question has no id"}, {"q1", "yes", `next "q2" is not a question`}, {"q1", "no", `next "q2" is not a question`}}},
		{"next missing", strings.Replace(base, `words: ["no"], next: q2, `, `words: ["no"], `, 1), LoadOptions{},
			[]want{{"q1", "no", "option leads nowhere: next is missing"}}},
		{"next unknown", strings.Replace(base, `words: ["no"], next: q2`, `words: ["no"], next: q3`, 1), LoadOptions{},
			[]want{{"q1", "no", `option leads nowhere: next "q3" is not a question`}}},
		{"unreachable question", base + `  - id: q3
    prompt: t.q3
    options:
      - {key: "a", digit: "1", next: end}
`, LoadOptions{}, []want{{"q3", "", "no option leads to this question"}}},
		{"loop without exit", strings.Replace(strings.Replace(base, "next: end, advice", "next: q1, advice", 1), `words: ["no"], next: end`, `words: ["no"], next: q2`, 1), LoadOptions{},
			[]want{{"q1", "", "loop with no way out"}, {"q2", "", "loop with no way out"}}},
		{"duplicate digit", strings.Replace(base, `{key: "no", digit: "2", words: ["no"], next: end}`, `{key: "no", digit: "1", words: ["no"], next: end}`, 1), LoadOptions{},
			[]want{{"q2", "no", `digit 1 is also used by option "yes"`}}},
		{"digit 9 reserved", strings.Replace(base, `{key: "no", digit: "2", words: ["no"], next: end}`, `{key: "no", digit: "9", words: ["no"], next: end}`, 1), LoadOptions{},
			[]want{{"q2", "no", "digit 9 is reserved"}}},
		{"digit 0 reserved", strings.Replace(base, `{key: "no", digit: "2", words: ["no"], next: end}`, `{key: "no", digit: "0", words: ["no"], next: end}`, 1), LoadOptions{},
			[]want{{"q2", "no", "digit 0 is reserved"}}},
		{"digit not a digit", strings.Replace(base, `{key: "no", digit: "2", words: ["no"], next: end}`, `{key: "no", digit: "12", words: ["no"], next: end}`, 1), LoadOptions{},
			[]want{{"q2", "no", `digit "12" must be one of 1 to 8`}}},
		{"missing digit", strings.Replace(base, `{key: "no", digit: "2", words: ["no"], next: end}`, `{key: "no", words: ["no"], next: end}`, 1), LoadOptions{},
			[]want{{"q2", "no", "option has no digit"}}},
		{"duplicate option key", strings.Replace(base, `{key: "no", digit: "2", words: ["no"], next: end}`, `{key: "yes", digit: "2", words: ["no"], next: end}`, 1), LoadOptions{},
			[]want{{"q2", "yes", "option key is used twice"}}},
		{"one word two options", strings.Replace(base, `words: ["no"], next: end`, `words: ["no", "Yes!"], next: end`, 1), LoadOptions{},
			[]want{{"q2", "no", `word "yes" also means option "yes"`}}},
		{"word listed twice", strings.Replace(base, `words: ["yes", "ok"]`, `words: ["yes", "OK", "ok."]`, 1), LoadOptions{},
			[]want{{"q1", "yes", `word "ok" is listed twice`}}},
		{"keyword as word", strings.Replace(base, `words: ["yes", "ok"]`, `words: ["yes", "Stop"]`, 1), LoadOptions{},
			[]want{{"q1", "yes", `word "stop" is reserved: it is the stop keyword`}}},
		{"help as word", strings.Replace(base, `words: ["yes", "ok"]`, `words: ["yes", "INFO"]`, 1), LoadOptions{},
			[]want{{"q1", "yes", `word "info" is reserved: it is the help keyword`}}},
		{"digit as word", strings.Replace(base, `words: ["yes", "ok"]`, `words: ["yes", "2"]`, 1), LoadOptions{},
			[]want{{"q1", "yes", `word "2" contains a digit`}}},
		{"digit name in word", strings.Replace(base, `words: ["yes", "ok"]`, `words: ["yes", "option two"]`, 1), LoadOptions{},
			[]want{{"q1", "yes", `word "option two" contains a digit`}}},
		{"filler word", strings.Replace(base, `words: ["yes", "ok"]`, `words: ["yes", "thank you"]`, 1), LoadOptions{},
			[]want{{"q1", "yes", "made only of filler words"}}},
		{"empty word", strings.Replace(base, `words: ["yes", "ok"]`, `words: ["yes", "!!"]`, 1), LoadOptions{},
			[]want{{"q1", "yes", `word "!!" has no letter or digit`}}},
		{"no options", strings.Replace(base, "    prompt: t.q2\n    options:\n      - {key: \"yes\", digit: \"1\", words: [\"yes\"], next: end, advice: t.advice}\n      - {key: \"no\", digit: \"2\", words: [\"no\"], next: end}\n", "    prompt: t.q2\n    options: []\n", 1), LoadOptions{},
			[]want{{"q2", "", "question has no options"}}},
		{"too many options", `id: a
version: 1
start: q
questions:
  - id: q
    prompt: p
    options:
      - {key: a, digit: "1", next: end}
      - {key: b, digit: "2", next: end}
      - {key: c, digit: "3", next: end}
      - {key: d, digit: "4", next: end}
      - {key: e, digit: "5", next: end}
      - {key: f, digit: "6", next: end}
      - {key: g, digit: "7", next: end}
      - {key: h, digit: "8", next: end}
      - {key: i, digit: "8", next: end}
`, LoadOptions{}, []want{{"q", "", "a keypad allows at most 8"}, {"q", "i", "digit 8 is also used"}}},
		{"no prompt", strings.Replace(base, "    prompt: t.q2\n", "", 1), LoadOptions{},
			[]want{{"q2", "", "prompt has no template key"}}},
		{"prompt template missing", base, LoadOptions{TemplateExists: func(k string) (bool, error) { return k != "t.q2", nil }},
			[]want{{"q2", "", `prompt template "t.q2" does not exist`}}},
		{"advice template missing", base, LoadOptions{TemplateExists: func(k string) (bool, error) { return k != "t.advice", nil }},
			[]want{{"q2", "yes", `advice template "t.advice" does not exist`}}},
		{"closing template missing", base, LoadOptions{TemplateExists: func(k string) (bool, error) { return k != KeyEndNeed, nil }},
			[]want{{"", "", `end_need template "system.end_need" does not exist`}}},
		{"bad template key", strings.Replace(base, "prompt: t.q1", "prompt: \"t q1\"", 1), LoadOptions{},
			[]want{{"q1", "", `prompt template key "t q1" is not valid`}}},
		{"unknown category", strings.Replace(base, "category: food", "category: transport", 1), LoadOptions{},
			[]want{{"q1", "no", `need category "transport" is not known`}}},
		{"custom categories", base, LoadOptions{Categories: []Category{"clinical"}},
			[]want{{"q1", "no", `need category "food" is not known`}}},
		{"unknown priority", strings.Replace(base, "priority: normal", "priority: asap", 1), LoadOptions{},
			[]want{{"q1", "no", `need priority "asap" is not one of`}}},
		{"missing priority", strings.Replace(base, ", priority: normal", "", 1), LoadOptions{},
			[]want{{"q1", "no", `need priority "" is not one of`}}},
		{"unknown unclear priority", strings.Replace(base, "    prompt: t.q1\n", "    prompt: t.q1\n    unclear_priority: soon\n", 1), LoadOptions{},
			[]want{{"q1", "", `unclear_priority "soon"`}}},
		{"bad question id", strings.Replace(strings.Replace(base, "id: q2", "id: \"q 2\"", 1), "next: q2", "next: \"q 2\"", -1), LoadOptions{},
			[]want{{"q 2", "", "question id is not valid"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			qn, err := Load("bad.yaml", []byte(c.src), c.opts)
			if err == nil {
				t.Fatalf("loaded, want rejection; got %+v", qn)
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T %v is not *LoadError", err, err)
			}
			if le.File != "bad.yaml" || !strings.HasPrefix(err.Error(), "bad.yaml: ") {
				t.Errorf("file not named: %q", err.Error())
			}
			if len(le.Problems) != len(c.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(le.Problems), len(c.want), err)
			}
			for _, w := range c.want {
				found := false
				for _, p := range le.Problems {
					if p.Question == w.question && p.Option == w.option && strings.Contains(p.Reason, w.reason) {
						found = true
					}
				}
				if !found {
					t.Errorf("missing problem %+v in:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadErrorListsAll(t *testing.T) {
	src := strings.Replace(strings.Replace(base, "version: 1", "version: 0", 1), "category: food", "category: x", 1)
	_, err := Load("two.yaml", []byte(src), LoadOptions{})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, s := range []string{"two.yaml: 2 problems:", "version must be", `question "q1": option "no": need category "x"`} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q lacks %q", msg, s)
		}
	}
}

func TestLoadTooLarge(t *testing.T) {
	_, err := Load("big.yaml", make([]byte, MaxFileSize+1), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v", err)
	}
}

func TestLoopWithExitIsAllowed(t *testing.T) {
	// q2 can go back to q1, but q2 also ends: not a loop without exit.
	src := strings.Replace(base, `words: ["no"], next: end}`, `words: ["no"], next: q1}`, 1)
	qn := mustLoad(t, src)
	s, _ := qn.Begin()
	// Going round the loop is bounded by the engine.
	var st Step
	var err error
	for i := 0; i < 100 && !s.Done; i++ {
		q := qn.Question(s.QuestionID)
		o, _ := q.MatchDigit("2")
		s, st, err = qn.Advance(s, o)
		if err != nil {
			t.Fatal(err)
		}
	}
	if !s.Done || !st.Handover || s.Outcome != OutcomeNeed {
		t.Fatalf("loop not stopped: %+v %+v", s, st)
	}
	if len(s.Answers) != qn.maxAnswers() {
		t.Errorf("stopped after %d answers, want %d", len(s.Answers), qn.maxAnswers())
	}
}

func TestValidateBuiltInCode(t *testing.T) {
	qn := &Questionnaire{ID: "code", Version: 1, Start: "a", EndFine: "x", EndNeed: "y",
		Questions: []Question{{ID: "a", Prompt: "p", UnclearPriority: PriorityLow, Options: []Option{
			{Key: "y", Digit: "1", Words: []string{"Yes"}, Next: End},
			{Key: "n", Digit: "2", Words: []string{"YES!"}, Next: End},
		}}}}
	err := qn.Validate(LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), `word "yes" also means option "y"`) {
		t.Fatalf("got %v", err)
	}
	qn.Questions[0].Options[1].Words = []string{"No"}
	if err := qn.Validate(LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if o, r := qn.Questions[0].Match("no thanks"); r != MatchOK || o.Key != "n" {
		t.Errorf("unnormalised words do not match: %v %v", o.Key, r)
	}
}
