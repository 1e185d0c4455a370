package questionnaire

import (
	"slices"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"Yes!", "yes"},
		{" 1 ", "1"},
		{"1.", "1"},
		{"1)", "1"},
		{"(1)", "1"},
		{"#2", "2"},
		{"YES   PLEASE", "yes please"},
		{"yes\tplease\n", "yes please"},
		{"  no, thank you!! ", "no, thank you"},
		{"👍", ""},
		{"Yes 👍🏽", "yes"},
		{"❤️ yes ❤️", "yes"},
		{"ＹＥＳ", "yes"},                    // full width
		{"１", "1"},                        // full width digit
		{"yes\u3000please", "yes please"}, // ideographic space
		{"I’m fine", "i'm fine"},
		{"ok\u200b", "ok"}, // zero-width space
		{"\"stop\"", "stop"},
		{"...", ""},
		{"Not OK.", "not ok"},
		{"\xff yes \xfe", "yes"},
	}
	for _, c := range cases {
		if got := Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := Normalize(Normalize(c.in)); got != c.want {
			t.Errorf("Normalize not idempotent on %q: %q", c.in, got)
		}
	}
}

func TestParseKeyword(t *testing.T) {
	cases := []struct {
		in   string
		want Keyword
	}{
		{"STOP", KeywordStop}, {"stop", KeywordStop}, {"Stop ", KeywordStop}, {" stop.", KeywordStop},
		{"STOP!", KeywordStop}, {"StopAll", KeywordStop}, {"UNSUBSCRIBE", KeywordStop}, {"cancel", KeywordStop},
		{"End", KeywordStop}, {"quit", KeywordStop}, {"REVOKE", KeywordStop}, {"optout", KeywordStop},
		{"START", KeywordStart}, {"unstop", KeywordStart}, {"Start.", KeywordStart},
		{"HELP", KeywordHelp}, {"help?", KeywordHelp}, {"info", KeywordHelp},
		// Whole-body rule, as Twilio: no keyword inside a longer reply.
		{"STOP please", KeywordNone}, {"please stop", KeywordNone}, {"stop stop", KeywordNone},
		{"opt out", KeywordNone}, {"help me", KeywordNone}, {"yes", KeywordNone}, {"", KeywordNone},
		{"stopp", KeywordNone}, {"s t o p", KeywordNone}, {"1", KeywordNone},
	}
	for _, c := range cases {
		if got := ParseKeyword(c.in); got != c.want {
			t.Errorf("ParseKeyword(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := Keywords(KeywordStop); len(got) != 8 {
		t.Errorf("Keywords(stop) = %v", got)
	}
	if got := Keywords(KeywordStart); !slices.Equal(got, []string{"start", "unstop"}) {
		t.Errorf("Keywords(start) = %v", got)
	}
	if got := Keywords(KeywordHelp); !slices.Equal(got, []string{"help", "info"}) {
		t.Errorf("Keywords(help) = %v", got)
	}
}

func TestMatch(t *testing.T) {
	qn := Default()
	ok := qn.Question("ok")
	unwell := qn.Question("unwell")
	symptoms := qn.Question("symptoms")
	cases := []struct {
		q    *Question
		in   string
		key  string // "" when not matched
		want MatchResult
	}{
		{ok, "1", "yes", MatchOK},
		{ok, " 1 ", "yes", MatchOK},
		{ok, "1.", "yes", MatchOK},
		{ok, "1)", "yes", MatchOK},
		{ok, "(2)", "no", MatchOK},
		{ok, "2.", "no", MatchOK},
		{ok, "one", "yes", MatchOK},
		{ok, "Two", "no", MatchOK},
		{ok, "option 1", "yes", MatchOK},
		{ok, "Option 2 please", "no", MatchOK},
		{ok, "Yes!", "yes", MatchOK},
		{ok, "YES PLEASE", "yes", MatchOK},
		{ok, "yes please", "yes", MatchOK},
		{ok, "yes thanks", "yes", MatchOK},
		{ok, "Yes, thank you x", "yes", MatchOK},
		{ok, "y", "yes", MatchOK},
		{ok, "Yeah", "yes", MatchOK},
		{ok, "ok", "yes", MatchOK},
		{ok, "OK thanks", "yes", MatchOK},
		{ok, "I'm fine thanks", "yes", MatchOK},
		{ok, "I’m OK", "yes", MatchOK},
		{ok, "im ok", "yes", MatchOK},
		{ok, "All good 👍", "yes", MatchOK},
		{ok, "1 yes", "yes", MatchOK},
		{ok, "yes yes", "yes", MatchOK},
		{ok, "hi yes", "yes", MatchOK},
		{ok, "ＹＥＳ", "yes", MatchOK},
		{ok, "no", "no", MatchOK},
		{ok, "No thanks", "no", MatchOK},
		{ok, "no thank you", "no", MatchOK},
		{ok, "Not OK", "no", MatchOK}, // "not ok" is a word of option "no"
		{ok, "not ok.", "no", MatchOK},
		{ok, "not really", "no", MatchOK},
		{ok, "I'm not well", "no", MatchOK},
		// Never matched silently.
		{ok, "not ok at all", "", MatchUnclear},
		{ok, "no i'm not fine", "no", MatchOK},  // "no" and "not fine" are both option "no"
		{ok, "no i'm fine", "", MatchAmbiguous}, // "no" and "fine"
		{ok, "yes im not ok", "", MatchAmbiguous},
		{ok, "fine not", "", MatchUnclear},
		{ok, "no im not", "", MatchUnclear},
		{ok, "yes and no", "", MatchAmbiguous},
		{ok, "yes no", "", MatchAmbiguous},
		{ok, "1 2", "", MatchAmbiguous},
		{ok, "1 or 2", "", MatchAmbiguous},
		{ok, "no one", "", MatchAmbiguous},
		{ok, "yes but i need food", "", MatchUnclear},
		{ok, "ok but lonely", "", MatchUnclear},
		{ok, "not sure", "", MatchNone},
		{ok, "i am not ok", "no", MatchOK},
		{ok, "12", "", MatchNone},
		{ok, "1st", "", MatchNone},
		{ok, "3", "", MatchNone},
		{ok, "9", "", MatchNone},
		{ok, "0", "", MatchNone},
		{ok, "yess", "", MatchNone},
		{ok, "", "", MatchNone},
		{ok, "   ", "", MatchNone},
		{ok, "👍", "", MatchNone},
		{ok, "please", "", MatchNone},
		{ok, "thank you", "", MatchNone},
		{ok, "stop", "", MatchNone},
		{ok, "Stop ", "", MatchNone},
		{ok, "STOP please", "", MatchNone},
		{ok, "help", "", MatchNone},
		{ok, "who is this?", "", MatchNone},
		{unwell, "yes", "yes", MatchOK},
		{unwell, "not well", "yes", MatchOK},
		{unwell, "I'm fine", "no", MatchOK},
		{unwell, "ok", "", MatchNone},
		{unwell, "poorly", "yes", MatchOK},
		{unwell, "chest pain", "", MatchNone},
		{unwell, "not unwell", "", MatchUnclear},
		{symptoms, "1", "emergency", MatchOK},
		{symptoms, "3", "coping", MatchOK},
		{symptoms, "three", "coping", MatchOK},
		{symptoms, "getting worse", "worse", MatchOK},
		{symptoms, "yes", "", MatchNone},
		{symptoms, "4", "", MatchNone},
		{symptoms, "1 or 2", "", MatchAmbiguous},
		{symptoms, "mild but getting worse", "", MatchAmbiguous},
	}
	for _, c := range cases {
		o, r := c.q.Match(c.in)
		if r != c.want || o.Key != c.key {
			t.Errorf("%s.Match(%q) = %q, %v; want %q, %v", c.q.ID, c.in, o.Key, r, c.key, c.want)
		}
	}
}

func TestMatchDigit(t *testing.T) {
	q := Default().Question("symptoms")
	cases := []struct {
		in   string
		key  string
		want DigitResult
	}{
		{"1", "emergency", DigitOK},
		{"2", "worse", DigitOK},
		{"3", "coping", DigitOK},
		{" 3 ", "coping", DigitOK},
		{"4", "", DigitInvalid},
		{"8", "", DigitInvalid},
		{"9", "", DigitRepeat},
		{"0", "", DigitOperator},
		{"", "", DigitNone},
		{"*", "", DigitInvalid},
		{"#", "", DigitInvalid},
		{"12", "", DigitInvalid},
		{"one", "", DigitInvalid},
	}
	for _, c := range cases {
		o, r := q.MatchDigit(c.in)
		if r != c.want || o.Key != c.key {
			t.Errorf("MatchDigit(%q) = %q, %v; want %q, %v", c.in, o.Key, r, c.key, c.want)
		}
	}
}

func TestStrings(t *testing.T) {
	if KeywordStop.String() != "stop" || KeywordNone.String() != "none" {
		t.Error("Keyword.String")
	}
	if MatchAmbiguous.String() != "ambiguous" || MatchResult(99).String() != "none" {
		t.Error("MatchResult.String")
	}
	if DigitOperator.String() != "operator" || DigitInvalid.String() != "invalid" {
		t.Error("DigitResult.String")
	}
}
