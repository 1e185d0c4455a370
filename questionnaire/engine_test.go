package questionnaire

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// path is one route through an acyclic questionnaire: the options chosen.
type path []struct {
	q *Question
	o Option
}

func allPaths(qn *Questionnaire) []path {
	var out []path
	var walk func(id string, p path)
	walk = func(id string, p path) {
		q := qn.Question(id)
		for _, o := range q.Options {
			np := append(slices.Clone(p), struct {
				q *Question
				o Option
			}{q, o})
			if o.Next == End {
				out = append(out, np)
			} else {
				walk(o.Next, np)
			}
		}
	}
	walk(qn.Start, nil)
	return out
}

func (p path) String() string {
	var parts []string
	for _, s := range p {
		parts = append(parts, s.q.ID+"="+s.o.Key)
	}
	return strings.Join(parts, " ")
}

// TestDefaultEveryPath walks every path of the default questionnaire, once
// answering by SMS text (the digit, then the first word) and once by keypad,
// round-tripping the state through JSON between replies as a caller would.
func TestDefaultEveryPath(t *testing.T) {
	qn := Default()
	paths := allPaths(qn)
	if len(paths) < 20 {
		t.Fatalf("only %d paths", len(paths))
	}
	for _, mode := range []string{"sms-digit", "sms-word", "voice"} {
		for _, p := range paths {
			t.Run(mode+"/"+p.String(), func(t *testing.T) {
				s, st := qn.Begin()
				if st.Intro != "wellbeing.intro" || st.Prompt != "wellbeing.ok" || s.QuestionID != "ok" {
					t.Fatalf("Begin = %+v %+v", s, st)
				}
				var wantNeeds []ReportedNeed
				var gotNeeds []ReportedNeed
				for i, step := range p {
					if s.QuestionID != step.q.ID || st.QuestionID != step.q.ID || st.Prompt != step.q.Prompt {
						t.Fatalf("at %d: waiting for %q / %q prompt %q, want %q", i, s.QuestionID, st.QuestionID, st.Prompt, step.q.ID)
					}
					q := qn.Question(s.QuestionID)
					var o Option
					switch mode {
					case "sms-digit":
						var r MatchResult
						o, r = q.Match(step.o.Digit + ".")
						if r != MatchOK {
							t.Fatalf("Match(%q) = %v", step.o.Digit, r)
						}
					case "sms-word":
						var r MatchResult
						o, r = q.Match(strings.ToUpper(step.o.Words[0]) + " please")
						if r != MatchOK {
							t.Fatalf("Match(%q) = %v", step.o.Words[0], r)
						}
					case "voice":
						var r DigitResult
						o, r = q.MatchDigit(step.o.Digit)
						if r != DigitOK {
							t.Fatalf("MatchDigit(%q) = %v", step.o.Digit, r)
						}
					}
					if o.Key != step.o.Key {
						t.Fatalf("matched %q, want %q", o.Key, step.o.Key)
					}
					var err error
					s, st, err = qn.Advance(s, o)
					if err != nil {
						t.Fatal(err)
					}
					s = jsonRoundTrip(t, s)
					if step.o.Need != nil {
						wantNeeds = append(wantNeeds, ReportedNeed{Need: *step.o.Need, Question: step.q.ID, Option: step.o.Key})
					}
					gotNeeds = append(gotNeeds, st.NewNeeds...)
					if step.o.Advice != "" {
						if !slices.Equal(st.Advice, []string{step.o.Advice}) || st.Messages()[0] != step.o.Advice {
							t.Errorf("advice %v, messages %v; want %q first", st.Advice, st.Messages(), step.o.Advice)
						}
					} else if len(st.Advice) != 0 {
						t.Errorf("unexpected advice %v", st.Advice)
					}
					if last := i == len(p)-1; last != st.Done || last != s.Done {
						t.Fatalf("at %d of %d: done = %v/%v", i, len(p), st.Done, s.Done)
					}
				}
				if !reflect.DeepEqual(gotNeeds, wantNeeds) || !reflect.DeepEqual(s.Needs, wantNeeds) {
					t.Errorf("needs %+v / %+v, want %+v", gotNeeds, s.Needs, wantNeeds)
				}
				wantOutcome, wantClosing := OutcomeFine, "wellbeing.end_fine"
				if len(wantNeeds) > 0 {
					wantOutcome, wantClosing = OutcomeNeed, "wellbeing.end_need"
				}
				if s.Outcome != wantOutcome || st.Outcome != wantOutcome || st.Closing != wantClosing || st.Handover {
					t.Errorf("end: %+v %+v; want %s %s", s, st, wantOutcome, wantClosing)
				}
				if len(s.Answers) != len(p) || s.QuestionID != "" || st.Prompt != "" || s.Retries != 0 {
					t.Errorf("final state %+v", s)
				}
				if _, _, err := qn.Advance(s, p[0].o); !errors.Is(err, ErrFinished) {
					t.Errorf("Advance after end: %v", err)
				}
			})
		}
	}
}

func jsonRoundTrip(t *testing.T, s State) State {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// answer drives the default questionnaire with SMS replies.
func answer(t *testing.T, qn *Questionnaire, replies ...string) (State, Step) {
	t.Helper()
	s, st := qn.Begin()
	for _, r := range replies {
		q := qn.Question(s.QuestionID)
		if q == nil {
			t.Fatalf("no question for %q in state %+v", r, s)
		}
		var err error
		if o, res := q.Match(r); res == MatchOK {
			s, st, err = qn.Advance(s, o)
		} else {
			s, st, err = qn.NoMatch(s)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return s, st
}

func TestAllFine(t *testing.T) {
	s, st := answer(t, Default(), "yes", "no", "no thanks", "No", "no")
	if !s.Done || s.Outcome != OutcomeFine || st.Closing != "wellbeing.end_fine" || len(s.Needs) != 0 {
		t.Fatalf("%+v %+v", s, st)
	}
	if got := st.Messages(); !slices.Equal(got, []string{"wellbeing.end_fine"}) {
		t.Errorf("messages %v", got)
	}
}

func TestEmergency(t *testing.T) {
	s, st := answer(t, Default(), "1", "1", "1", "1", "1")
	if !s.Done || s.Outcome != OutcomeNeed {
		t.Fatalf("not finished: %+v", s)
	}
	if got := st.Messages(); !slices.Equal(got, []string{"advice.urgent_999", "wellbeing.end_need"}) {
		t.Errorf("messages %v", got)
	}
	want := []Need{
		{Category: CategoryClinicalUrgent, Priority: PriorityUrgent},
		{Category: CategoryMedicines, Priority: PriorityHigh},
		{Category: CategoryFood, Priority: PriorityNormal},
	}
	if got := MergeNeeds(s.Needs); !reflect.DeepEqual(got, want) {
		t.Errorf("MergeNeeds = %+v, want %+v", got, want)
	}
	if len(st.NewNeeds) != 1 || st.NewNeeds[0].Category != CategoryClinicalUrgent {
		t.Errorf("new needs %+v", st.NewNeeds)
	}
}

func TestNotUnderstoodOnceThenAnswered(t *testing.T) {
	qn := Default()
	s, st := answer(t, qn, "maybe")
	if s.Done || !st.Reask || s.Retries != 1 || s.QuestionID != "ok" {
		t.Fatalf("%+v %+v", s, st)
	}
	if got := st.Messages(); !slices.Equal(got, []string{KeyNotUnderstood, "wellbeing.ok"}) {
		t.Errorf("messages %v", got)
	}
	s, st = answer(t, qn, "maybe", "yes")
	if s.Retries != 0 || s.QuestionID != "food" || st.Prompt != "wellbeing.food" {
		t.Fatalf("%+v %+v", s, st)
	}
	// Retries are per question: one unclear reply on each is fine.
	s, _ = answer(t, qn, "maybe", "yes", "hmm", "no", "eh", "no")
	if s.Done || s.QuestionID != "unwell" || s.Retries != 0 {
		t.Fatalf("%+v", s)
	}
}

func TestNotUnderstoodTwiceHandsOver(t *testing.T) {
	qn := Default()
	cases := []struct {
		replies  []string
		question string
		priority Priority
		needs    int
	}{
		{[]string{"who is this", "???"}, "ok", PriorityHigh, 1},
		{[]string{"yes", "yes", "yes", "yes", "I have a cough", "yes"}, "symptoms", PriorityUrgent, 3},
		{[]string{"yes", "no", "no", "not sure", "yes and no"}, "unwell", PriorityUrgent, 1},
	}
	for _, c := range cases {
		s, st := answer(t, qn, c.replies...)
		if !s.Done || !st.Handover || s.Outcome != OutcomeNeed || st.Outcome != OutcomeNeed {
			t.Fatalf("%v: %+v %+v", c.replies, s, st)
		}
		if got := st.Messages(); !slices.Equal(got, []string{KeyHandover}) {
			t.Errorf("%v: messages %v", c.replies, got)
		}
		last := s.Needs[len(s.Needs)-1]
		if len(s.Needs) != c.needs || last.Category != CategoryUnclearReply || last.Priority != c.priority || last.Question != c.question {
			t.Errorf("%v: needs %+v", c.replies, s.Needs)
		}
		if !reflect.DeepEqual(st.NewNeeds, []ReportedNeed{last}) {
			t.Errorf("%v: new needs %+v", c.replies, st.NewNeeds)
		}
		if _, _, err := qn.NoMatch(s); !errors.Is(err, ErrFinished) {
			t.Errorf("NoMatch after end: %v", err)
		}
	}
}

func TestReprompt(t *testing.T) {
	qn := mustLoad(t, strings.Replace(base, "    prompt: t.q1\n", "    prompt: t.q1\n    reprompt: t.q1again\n", 1))
	s, _ := qn.Begin()
	_, st, err := qn.NoMatch(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Messages(); !slices.Equal(got, []string{"t.q1again"}) || !st.Reask {
		t.Errorf("messages %v", got)
	}
}

func TestRepeat(t *testing.T) {
	qn := Default()
	s, _ := answer(t, qn, "yes", "maybe")
	st, err := qn.Repeat(s)
	if err != nil || st.Prompt != "wellbeing.food" || st.QuestionID != "food" || st.Reask || st.Done {
		t.Fatalf("%+v %v", st, err)
	}
	if s.Retries != 1 {
		t.Error("retries lost")
	}
	if _, err := qn.Repeat(State{QuestionID: "gone"}); !errors.Is(err, ErrUnknownQuestion) {
		t.Errorf("Repeat unknown: %v", err)
	}
	if _, err := qn.Repeat(State{Done: true}); !errors.Is(err, ErrFinished) {
		t.Errorf("Repeat finished: %v", err)
	}
}

func TestAdvanceErrors(t *testing.T) {
	qn := Default()
	s, _ := qn.Begin()
	foodYes, _ := qn.Question("food").Option("yes")
	if _, _, err := qn.Advance(s, foodYes); !errors.Is(err, ErrNotAnOption) {
		// food "yes" and ok "yes" share key and digit, but not next.
		t.Errorf("option of another question with the same key: %v", err)
	}
	emergency, _ := qn.Question("symptoms").Option("emergency")
	if _, _, err := qn.Advance(s, emergency); !errors.Is(err, ErrNotAnOption) {
		t.Errorf("foreign option: %v", err)
	}
	if _, _, err := qn.Advance(s, Option{Key: "yes", Digit: "3"}); !errors.Is(err, ErrNotAnOption) {
		t.Errorf("wrong digit: %v", err)
	}
	if _, _, err := qn.Advance(State{QuestionID: "nope"}, foodYes); !errors.Is(err, ErrUnknownQuestion) {
		t.Errorf("unknown question: %v", err)
	}
	if _, _, err := qn.NoMatch(State{QuestionID: "nope"}); !errors.Is(err, ErrUnknownQuestion) {
		t.Errorf("NoMatch unknown question: %v", err)
	}
}

func TestAdvanceDoesNotModifyInput(t *testing.T) {
	qn := Default()
	s, _ := answer(t, qn, "no", "yes")
	s.Answers = slices.Grow(s.Answers, 10) // spare capacity would expose aliasing
	s.Needs = slices.Grow(s.Needs, 10)
	before := fmt.Sprintf("%+v", s)
	q := qn.Question(s.QuestionID)
	o1, _ := q.Match("1")
	o2, _ := q.Match("2")
	a, _, _ := qn.Advance(s, o1)
	b, _, _ := qn.Advance(s, o2)
	if fmt.Sprintf("%+v", s) != before {
		t.Errorf("input state changed")
	}
	if len(a.Needs) != 3 || len(b.Needs) != 2 || a.Answers[2].Option != "yes" || b.Answers[2].Option != "no" {
		t.Errorf("branches share storage: %+v / %+v", a, b)
	}
}

func TestStateJSON(t *testing.T) {
	s, _ := answer(t, Default(), "no", "yes", "hmm")
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"question_id":"medicines","answers":[{"question":"ok","option":"no"},{"question":"food","option":"yes"}],` +
		`"needs":[{"category":"call-back","priority":"normal","question":"ok","option":"no"},{"category":"food","priority":"normal","question":"food","option":"yes"}],"retries":1}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}

func TestMergeNeeds(t *testing.T) {
	got := MergeNeeds([]ReportedNeed{
		{Need: Need{Category: CategoryCallBack, Priority: PriorityNormal}},
		{Need: Need{Category: CategoryCallBack, Priority: PriorityLow}},
		{Need: Need{Category: CategoryFood, Priority: PriorityNormal}},
		{Need: Need{Category: CategoryClinical, Priority: PriorityHigh}},
		{Need: Need{Category: CategoryClinical, Priority: PriorityNormal}},
	})
	want := []Need{
		{Category: CategoryClinical, Priority: PriorityHigh},
		{Category: CategoryCallBack, Priority: PriorityNormal},
		{Category: CategoryFood, Priority: PriorityNormal},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if len(MergeNeeds(nil)) != 0 {
		t.Error("nil")
	}
}

func TestDefaultIsACopy(t *testing.T) {
	a := Default()
	a.Questions[0].Options[0].Words[0] = "changed"
	a.Questions[0].Options[1].Need.Priority = PriorityLow
	b := Default()
	if b.Questions[0].Options[0].Words[0] == "changed" || b.Questions[0].Options[1].Need.Priority == PriorityLow {
		t.Fatal("Default shares storage between calls")
	}
	if a.Checksum() == b.Checksum() {
		t.Error("checksum did not change")
	}
}
