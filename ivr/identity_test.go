package ivr

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templates"
)

// The patient of the identity tests: born on 23 November 1948 (not the
// 4th of March the date prompt gives as its example).
const (
	patientName = "Margaret"
	patientDDMM = "2311"
)

var patientDOB = time.Date(1948, time.November, 23, 0, 0, 0, 0, time.UTC)

// checking is a call of a campaign that checks identity, at phase.
func checking(check, phase string) store.CallDialog {
	return store.CallDialog{CallSID: "CA" + strings.Repeat("0", 32), AttemptID: 7, Phase: phase, JourneyState: "contacting",
		IdentityCheck: check, DateOfBirth: patientDOB, GivenName: patientName}
}

// play applies turns in order, carrying the call's state as the store
// does, and returns every change.
func play(t *testing.T, g *dialog, c store.CallDialog, turns ...turn) []store.CallChange {
	t.Helper()
	var out []store.CallChange
	for _, tn := range turns {
		ch, err := g.decide(c, tn)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ch)
		c.Phase, c.NoInput, c.IdentityTries, c.IdentityResult = ch.Phase, ch.NoInput, ch.IdentityTries, ch.IdentityResult
		if ch.Conversation != nil {
			c.Conversation = ch.Conversation
		}
	}
	return out
}

func keys(ds ...string) []turn {
	out := make([]turn, len(ds))
	for i, d := range ds {
		out[i] = turn{kind: "gather", digits: d}
	}
	return out
}

// saidKeys lists the template keys said by a document (fakeSay), Says
// inside Gathers included, and the read-back (as "readback").
func saidKeys(t *testing.T, doc string) (verbs []string, said []string) {
	t.Helper()
	var walk func(n node)
	walk = func(n node) {
		if n.XMLName.Local == "Say" {
			text, _ := n.spoken()
			if strings.HasPrefix(text, "You entered") {
				said = append(said, "readback")
			} else {
				said = append(said, keysOf(text)...)
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	for _, v := range parse(t, doc) {
		verbs = append(verbs, v.XMLName.Local)
		walk(v)
	}
	return verbs, said
}

// idCase is a path through the check: turns from a phase, and the last
// document, state and needs it must end with.
type idCase struct {
	name   string
	check  string
	phase  string
	turns  []turn
	team   string
	verbs  []string // of the last document
	said   []string // keys said by the last document
	phase2 string
	result string
	tries  int
	idRes  string
	needs  []string
}

func TestIdentityCheck(t *testing.T) {
	const (
		who    = questionnaire.KeyIdentityWho
		dob    = questionnaire.KeyIdentityDOB
		year   = questionnaire.KeyIdentityYear
		retry  = questionnaire.KeyIdentityRetry
		failed = questionnaire.KeyIdentityFailed
		other  = questionnaire.KeyIdentityNotPatient
		intro  = "wellbeing.intro"
		ok     = "wellbeing.ok"
	)
	tests := []idCase{
		{"greeting: 1 asks who answered, naming no one before", outreach.IdentityDOB, phaseGreeting, keys("1"), "",
			[]string{"Gather"}, []string{who}, phaseIdentify, "", 0, "", nil},
		{"an unknown setting checks too", "", phaseGreeting, keys("1"), "",
			[]string{"Gather"}, []string{who}, phaseIdentify, "", 0, "", nil},
		{"check off: straight to the questions", outreach.IdentityOff, phaseGreeting, keys("1"), "",
			[]string{"Gather"}, []string{intro, ok}, phaseQuestions, "", 0, "", nil},
		{"the patient presses 1: date of birth asked", outreach.IdentityDOB, phaseIdentify, keys("1"), "",
			[]string{"Gather"}, []string{dob}, phaseVerify, "", 0, "", nil},
		{"year check: year of birth asked", outreach.IdentityYear, phaseIdentify, keys("1"), "",
			[]string{"Gather"}, []string{year}, phaseVerify, "", 0, "", nil},
		{"someone else presses 2: team number, call back, no question", outreach.IdentityDOB, phaseIdentify, keys("2"), "01603 000000",
			[]string{"Say", "Hangup"}, []string{other}, phaseDone, "not-patient", 0, identityNotPatient, []string{"call-back"}},
		{"who: 9 repeats", outreach.IdentityDOB, phaseIdentify, keys("9"), "",
			[]string{"Gather"}, []string{who}, phaseIdentify, "", 0, "", nil},
		{"who: 7 is not an option", outreach.IdentityDOB, phaseIdentify, keys("7"), "",
			[]string{"Gather"}, []string{KeyInvalidOption, who}, phaseIdentify, "", 0, "", nil},
		{"who: silence once, asked again", outreach.IdentityDOB, phaseIdentify, keys(""), "",
			[]string{"Gather"}, []string{KeyNoInput, who}, phaseIdentify, "", 0, "", nil},
		{"who: silence twice, a failed check", outreach.IdentityDOB, phaseIdentify, keys("", ""), "",
			[]string{"Say", "Hangup"}, []string{failed}, phaseDone, "identity-failed", 0, identityFailed, []string{"identity-unconfirmed"}},
		{"who: a wrong key twice, a failed check", outreach.IdentityDOB, phaseIdentify, keys("7", "*"), "",
			[]string{"Say", "Hangup"}, []string{failed}, phaseDone, "identity-failed", 0, identityFailed, []string{"identity-unconfirmed"}},
		{"who: a wrong key then silence, a failed check", outreach.IdentityDOB, phaseIdentify, keys("5", ""), "",
			[]string{"Say", "Hangup"}, []string{failed}, phaseDone, "identity-failed", 0, identityFailed, []string{"identity-unconfirmed"}},
		{"who: a wrong key, 9, then 1 goes on", outreach.IdentityDOB, phaseIdentify, keys("5", "9", "1"), "",
			[]string{"Gather"}, []string{dob}, phaseVerify, "", 0, "", nil},
		{"who: 0 dials the team", outreach.IdentityDOB, phaseIdentify, keys("0"), "01603 000000",
			[]string{"Say", "Dial"}, []string{questionnaire.KeyOperator}, phaseOperator, "", 0, "", nil},
		{"who: 0 with no team line: call back, no advice", outreach.IdentityDOB, phaseIdentify, keys("0"), "",
			[]string{"Say", "Hangup"}, []string{questionnaire.KeyCallBackPromiseUnconfirmed}, phaseDone, "callback", 0, "", []string{"call-back"}},
		{"right date: read back, then the introduction and first question", outreach.IdentityDOB, phaseVerify, keys(patientDDMM), "",
			[]string{"Say", "Gather"}, []string{"readback", intro, ok}, phaseQuestions, "", 1, identityPassed, nil},
		{"right year", outreach.IdentityYear, phaseVerify, keys("1948"), "",
			[]string{"Say", "Gather"}, []string{"readback", intro, ok}, phaseQuestions, "", 1, identityPassed, nil},
		{"wrong date once: read back and asked again", outreach.IdentityDOB, phaseVerify, keys("2310"), "",
			[]string{"Say", "Gather"}, []string{"readback", retry, dob}, phaseVerify, "", 1, "", nil},
		{"wrong then right", outreach.IdentityDOB, phaseVerify, keys("2310", patientDDMM), "",
			[]string{"Say", "Gather"}, []string{"readback", intro, ok}, phaseQuestions, "", 2, identityPassed, nil},
		{"wrong date twice: failed politely, escalated", outreach.IdentityDOB, phaseVerify, keys("2310", "2411"), "",
			[]string{"Say", "Say", "Hangup"}, []string{"readback", failed}, phaseDone, "identity-failed", 2, identityFailed,
			[]string{"identity-unconfirmed"}},
		{"day and month of birth do not pass a year check", outreach.IdentityYear, phaseVerify, keys(patientDDMM, "1949"), "",
			[]string{"Say", "Say", "Hangup"}, []string{"readback", failed}, phaseDone, "identity-failed", 2, identityFailed,
			[]string{"identity-unconfirmed"}},
		{"verify: 9 repeats without a try", outreach.IdentityDOB, phaseVerify, keys("9"), "",
			[]string{"Gather"}, []string{dob}, phaseVerify, "", 0, "", nil},
		{"verify: 0 dials the team", outreach.IdentityDOB, phaseVerify, keys("0"), "01603 000000",
			[]string{"Say", "Dial"}, []string{questionnaire.KeyOperator}, phaseOperator, "", 0, "", nil},
		{"after a passed check, no team line: the full call-back promise", outreach.IdentityDOB, phaseVerify, keys(patientDDMM, "0"), "",
			[]string{"Say", "Hangup"}, []string{KeyCallBackPromise}, phaseDone, "callback", 1, identityPassed, []string{"call-back"}},
	}
	// Bad input: asked again (nothing read back), then a failed check.
	for _, bad := range []string{"*", "", "231", "23111", "3102", "0011", "2313", "00", "23*1"} {
		tests = append(tests, idCase{fmt.Sprintf("bad input %q: asked again", bad), outreach.IdentityDOB, phaseVerify, keys(bad), "",
			[]string{"Gather"}, []string{retry, dob}, phaseVerify, "", 1, "", nil},
			idCase{fmt.Sprintf("bad input %q twice: failed", bad), outreach.IdentityDOB, phaseVerify, keys(bad, bad), "",
				[]string{"Say", "Hangup"}, []string{failed}, phaseDone, "identity-failed", 2, identityFailed, []string{"identity-unconfirmed"}})
	}
	for _, bad := range []string{"1899", "2027", "194", "19488"} {
		tests = append(tests, idCase{fmt.Sprintf("bad year %q: asked again", bad), outreach.IdentityYear, phaseVerify, keys(bad), "",
			[]string{"Gather"}, []string{retry, year}, phaseVerify, "", 1, "", nil})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := testDialog(tt.team)
			chs := play(t, g, checking(tt.check, tt.phase), tt.turns...)
			ch := chs[len(chs)-1]
			verbs, said := saidKeys(t, ch.TwiML)
			if !slices.Equal(verbs, tt.verbs) || !slices.Equal(said, tt.said) {
				t.Errorf("verbs %v said %v, want %v %v\n%s", verbs, said, tt.verbs, tt.said, ch.TwiML)
			}
			if ch.Phase != tt.phase2 || ch.Result != tt.result || ch.IdentityTries != tt.tries || ch.IdentityResult != tt.idRes {
				t.Errorf("phase %q result %q tries %d identity %q, want %q %q %d %q",
					ch.Phase, ch.Result, ch.IdentityTries, ch.IdentityResult, tt.phase2, tt.result, tt.tries, tt.idRes)
			}
			var cats []string
			for _, c := range chs {
				for _, n := range c.Needs {
					cats = append(cats, n.Category)
				}
				if c.Answer != nil {
					t.Errorf("an answer recorded during the check: %+v", c.Answer)
				}
				for _, n := range c.Needs {
					if strings.Contains(n.Detail, patientDDMM) || strings.Contains(n.Detail, "1948") {
						t.Errorf("need detail holds the date of birth: %s", n.Detail)
					}
				}
			}
			if !slices.Equal(cats, tt.needs) {
				t.Errorf("needs %v, want %v", cats, tt.needs)
			}
			for _, v := range parse(t, ch.TwiML) {
				if v.XMLName.Local == "Gather" && ch.Phase == phaseVerify {
					// Several keys ended by #: no numDigits.
					if v.attr("numDigits") != "" || v.attr("finishOnKey") != "#" || v.attr("actionOnEmptyResult") != "true" {
						t.Errorf("date of birth Gather %v", v.Attrs)
					}
				}
			}
			if tt.phase == phaseVerify && !chs[0].Private {
				t.Error("a step at the date of birth is not private")
			}
			for _, c := range chs {
				// What was typed is read back to the caller, never kept.
				if c.Private && strings.Contains(c.StoredTwiML, "You entered") || !c.Private && strings.Contains(c.TwiML, "You entered") {
					t.Errorf("the read-back is kept to replay: %s", c.StoredTwiML)
				}
			}
		})
	}
}

func TestBirthAnswer(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		check, digits string
		ok            bool
	}{
		{outreach.IdentityDOB, "0403", true},
		{outreach.IdentityDOB, "2902", true},
		{outreach.IdentityDOB, "3112", true},
		{outreach.IdentityDOB, "3002", false},
		{outreach.IdentityDOB, "3104", false},
		{outreach.IdentityDOB, "0001", false},
		{outreach.IdentityDOB, "0113", false},
		{outreach.IdentityDOB, "403", false},
		{outreach.IdentityDOB, "04031", false},
		{outreach.IdentityDOB, "*403", false},
		{outreach.IdentityDOB, "", false},
		{outreach.IdentityYear, "1948", true},
		{outreach.IdentityYear, "2026", true},
		{outreach.IdentityYear, "2027", false},
		{outreach.IdentityYear, "1899", false},
	}
	for _, tt := range tests {
		if _, ok := birthAnswer(tt.check, tt.digits, now); ok != tt.ok {
			t.Errorf("birthAnswer(%s, %q) = %v, want %v", tt.check, tt.digits, ok, tt.ok)
		}
	}
	for in, want := range map[string]string{"0403": "the 4th of March", "2111": "the 21st of November", "1212": "the 12th of December",
		"2302": "the 23rd of February", "0101": "the 1st of January"} {
		g := testDialog("")
		if got := g.readBack(outreach.IdentityDOB, in)[0].Text; got != "You entered "+want+"." {
			t.Errorf("read-back of %s: %q", in, got)
		}
	}
	// A Welsh call hears the date in Welsh; the year, with no Welsh
	// wording yet, in English.
	cy := testDialog("")
	cy.lang = "cy"
	for in, want := range map[string]string{"0403": "Fe wnaethoch chi nodi'r 4 o Fawrth.", "2301": "Fe wnaethoch chi nodi'r 23 o Ionawr.",
		"0112": "Fe wnaethoch chi nodi'r 1 o Ragfyr."} {
		if got := cy.readBack(outreach.IdentityDOB, in)[0]; got.Text != want || got.Language != "cy" {
			t.Errorf("Welsh read-back of %s: %+v", in, got)
		}
	}
	if got := cy.readBack(outreach.IdentityYear, "1948")[0]; got.Language != "en" || got.Text != "You entered nineteen forty-eight." {
		t.Errorf("Welsh call, year read-back: %+v", got)
	}
	for y, want := range map[int]string{1948: "nineteen forty-eight", 1905: "nineteen oh five", 1900: "nineteen hundred",
		2005: "two thousand and five", 2000: "two thousand", 2012: "twenty twelve"} {
		if got := yearWords(y); got != want {
			t.Errorf("yearWords(%d) = %q, want %q", y, got, want)
		}
	}
}

// realSay renders template keys with the shipped English voice scripts,
// as the engine does.
func realSay(t *testing.T, vals outreach.Values) func(keys ...string) ([]outreach.Spoken, error) {
	texts := questionnaire.DefaultTexts()
	return func(keys ...string) ([]outreach.Spoken, error) {
		var parts []string
		for _, k := range keys {
			src, ok := texts.Voice(k)
			if !ok {
				t.Fatalf("no voice text for %s", k)
			}
			b, err := templates.Parse(src)
			if err != nil {
				return nil, err
			}
			s, err := b.RenderVoice(vals)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		}
		return []outreach.Spoken{{Text: strings.Join(parts, " "), Language: "en"}}, nil
	}
}

// walkText visits everything a document says: the text of Says (in
// Gathers too) and of the SSML inside them; inSayAs reports text inside
// a <say-as>, n is the element holding the text.
func walkText(n node, inSay, inSayAs bool, visit func(text string, inSayAs bool, n node)) {
	inSay = inSay || n.XMLName.Local == "Say"
	if inSay && strings.TrimSpace(n.Text) != "" {
		visit(n.Text, inSayAs, n)
	}
	for _, c := range n.Children {
		walkText(c, inSay, inSayAs || c.XMLName.Local == "say-as", visit)
	}
}

// digitRun is three or more digits, spaced or not: a number to say as one.
var digitRun = regexp.MustCompile(`\d(?:[ -]?\d){2,}`)

// TestNothingDisclosedBeforeTheCheck plays every path of the check with
// the shipped scripts and parses each document: before the check passes
// nothing says a name (but the first name in "If you are <name>"), the
// date of birth or a clinical word; every number is in a say-as
// telephone, in UK grouping.
func TestNothingDisclosedBeforeTheCheck(t *testing.T) {
	vals := outreach.PatientValues(patientName, "Castle Practice", "01603 222333", "Norfolk Protect", "01603 000111")
	whoSentence := regexp.MustCompile(`If you are (not )?` + patientName + `,`)
	dobLeaks := regexp.MustCompile(`(?i)1948|2311|23 ?11|23rd|november|nineteen forty`)
	paths := []struct {
		name  string
		team  string
		check string
		turns []turn
	}{
		{"right person", "01603 000111", outreach.IdentityDOB, append([]turn{{kind: "answer", answeredBy: "human"}}, keys("1", "1", patientDDMM)...)},
		{"right person, year", "01603 000111", outreach.IdentityYear, append([]turn{{kind: "answer"}}, keys("9", "1", "9", "1", "1948")...)},
		{"carer presses 2", "01603 000111", outreach.IdentityDOB, append([]turn{{kind: "answer"}}, keys("1", "2")...)},
		{"wrong date twice", "01603 000111", outreach.IdentityDOB, append([]turn{{kind: "answer"}}, keys("1", "1", "0403", "2310")...)},
		{"bad input twice", "01603 000111", outreach.IdentityDOB, append([]turn{{kind: "answer"}}, keys("1", "1", "*", "12345")...)},
		{"silence at who", "01603 000111", outreach.IdentityDOB, append([]turn{{kind: "answer"}}, keys("1", "", "", "")...)},
		{"silence at the date", "01603 000111", outreach.IdentityDOB, append([]turn{{kind: "answer"}}, keys("1", "1", "", "")...)},
		{"wrong keys at who", "01603 000111", outreach.IdentityDOB, append([]turn{{kind: "answer"}}, keys("1", "5", "*", "1", "9", "0")...)},
		{"0 at the greeting, nobody answers", "01603 000111", outreach.IdentityDOB,
			[]turn{{kind: "answer"}, {kind: "gather", digits: "0"}, {kind: "dial", dialStatus: "no-answer"}}},
		{"0 at who, no team line", "", outreach.IdentityDOB, append([]turn{{kind: "answer"}}, keys("1", "0")...)},
		{"0 at the date, not accepted", "01603 000111", outreach.IdentityDOB,
			[]turn{{kind: "answer"}, {kind: "gather", digits: "1"}, {kind: "gather", digits: "1"}, {kind: "gather", digits: "0"},
				{kind: "dial", dialStatus: "completed"}}},
		{"voicemail", "01603 000111", outreach.IdentityDOB, []turn{{kind: "answer", answeredBy: "machine_end_beep"}}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			g := testDialog(p.team)
			g.say = realSay(t, vals)
			c := checking(p.check, "")
			passed := false
			for i, ch := range play(t, g, c, p.turns...) {
				for _, v := range parse(t, ch.TwiML) {
					walkText(v, false, false, func(text string, inSayAs bool, n node) {
						if inSayAs {
							if n.attr("interpret-as") != "telephone" || !ukGrouped(text) {
								t.Errorf("step %d: number %q said as %v", i, text, n.Attrs)
							}
							return
						}
						if m := digitRun.FindString(text); m != "" {
							t.Errorf("step %d: number %q not in a say-as: %q", i, m, text)
						}
						if passed {
							return
						}
						if strings.Contains(whoSentence.ReplaceAllString(text, ""), patientName) {
							t.Errorf("step %d: the name said before the check passed: %q", i, text)
						}
						if m, _ := questionnaire.ClinicalWord(text); m != "" {
							t.Errorf("step %d: %q said before the check passed: %q", i, m, text)
						}
						if m := dobLeaks.FindString(text); m != "" && !strings.HasPrefix(text, "You entered") {
							t.Errorf("step %d: the date of birth said before the check passed: %q", i, text)
						}
					})
				}
				if ch.IdentityResult == identityPassed {
					passed = true
				}
			}
			if want := strings.HasPrefix(p.name, "right person"); passed != want {
				t.Errorf("check passed %v, want %v", passed, want)
			}
		})
	}
}

// ukGrouped reports whether a number is written as a UK number is read.
func ukGrouped(s string) bool {
	return regexp.MustCompile(`^(\d{3}|0\d{4} \d{3} \d{3}|0\d{3} \d{3} \d{4}|02\d \d{4} \d{4}|\d{4})$`).MatchString(s)
}

func TestUKGrouping(t *testing.T) {
	for in, want := range map[string]string{
		"+441603000111": "01603 000 111", "01603 000111": "01603 000 111", "020 7946 0000": "020 7946 0000",
		"+447700900123": "07700 900 123", "0300 123 4567": "0300 123 4567", "0113 496 0000": "0113 496 0000",
		"0161 496 0000": "0161 496 0000", "9 9 9": "999", "1 1 1": "111", "0 4 0 3": "0403",
	} {
		if got := ukGrouping(in); got != want {
			t.Errorf("ukGrouping(%q) = %q, want %q", in, got, want)
		}
	}
}

// Numbers are said as telephone numbers (spaced digits for a voice
// without SSML), and a question is followed by a pause before its
// options.
func TestNumbersAndPauses(t *testing.T) {
	text := []outreach.Spoken{{Text: "Are you OK? Press 1 if you are. Or call 01603 000111, or 9 9 9.", Language: "en"}}
	out, err := (&doc{sp: Speech{}.withDefaults()}).say(text).String()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<break time="1s"`, `<say-as interpret-as="telephone">01603 000 111</say-as>`,
		`<say-as interpret-as="telephone">999</say-as>`, `rate="90%"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in %s", want, out)
		}
	}
	if i, j := strings.Index(out, "Are you OK?"), strings.Index(out, "<break"); i < 0 || j < i || strings.Index(out, "Press 1") < j {
		t.Errorf("the pause is not between the question and its options: %s", out)
	}
	basic := Speech{Voices: map[string]VoiceSpec{"en": {"alice", "en-GB"}}}.withDefaults()
	out, err = (&doc{sp: basic}).say(text).String()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"0 1 6 0 3, 0 0 0, 1 1 1", "9 9 9", "<Pause"} {
		if !strings.Contains(out, want) {
			t.Errorf("basic voice: no %s in %s", want, out)
		}
	}
	if strings.Contains(out, "say-as") || strings.Contains(out, "prosody") {
		t.Errorf("basic voice given SSML: %s", out)
	}
}
