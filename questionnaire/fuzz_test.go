package questionnaire

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var replySeeds = []string{
	"", " ", "1", " 1 ", "1.", "1)", "(2)", "one", "Two", "option 1", "Yes!", "YES PLEASE", "yes please",
	"no thanks", "no thank you", "not ok", "Not OK.", "no i'm not fine", "yes and no", "yes no", "1 2",
	"2.", "stop", "Stop ", "STOP please", "help", "START", "👍", "❤️ yes ❤️", "ＹＥＳ", "I’m fine",
	"\xff\xfe", "yes\u200dno", "ok\u0301", "İ", "ǅ", "e\u0301 x", "x \u0301y", "a'\u0301 b", "''yes''",
	"getting worse", "mild but getting worse", "no one", "not well", "i am not ok", "12",
}

func FuzzNormalize(f *testing.F) {
	for _, s := range replySeeds {
		f.Add(s)
	}
	qs := Default().Questions
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if again := Normalize(n); again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, again)
		}
		if !utf8.ValidString(n) {
			t.Fatalf("invalid UTF-8 out: %q", n)
		}
		if strings.Contains(n, "  ") {
			t.Fatalf("double space in %q", n)
		}
		if n != "" {
			first, _ := utf8.DecodeRuneInString(n)
			last, _ := utf8.DecodeLastRuneInString(n)
			for _, r := range []rune{first, last} {
				if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					t.Fatalf("%q starts or ends with %q", n, r)
				}
			}
		}
		if ParseKeyword(s) != ParseKeyword(n) {
			t.Fatalf("keyword differs for %q and %q", s, n)
		}
		for i := range qs {
			o1, r1 := qs[i].Match(s)
			o2, r2 := qs[i].Match(n)
			if r1 != r2 || o1.Key != o2.Key {
				t.Fatalf("Match differs for %q and normalised %q", s, n)
			}
		}
		if w := normaliseWord(s); normaliseWord(w) != w {
			t.Fatalf("normaliseWord not idempotent: %q -> %q -> %q", s, w, normaliseWord(w))
		}
	})
}

// overlapping has option words that contain other options' words.
const overlapping = `id: overlap
version: 1
start: q
questions:
  - id: q
    prompt: p
    options:
      - {key: "ok", digit: "1", words: ["yes", "ok", "fine", "all good", "i'm ok"], next: end}
      - {key: "notok", digit: "2", words: ["no", "not ok", "not fine", "not good at all"], next: end}
      - {key: "help", digit: "3", words: ["need help", "help me", "food"], next: end}
`

// occurrences returns the start indexes of p in toks.
func occurrences(toks, p []string) []int {
	var out []int
	for i := 0; i+len(p) <= len(toks); i++ {
		if hasPrefix(toks[i:], p) {
			out = append(out, i)
		}
	}
	return out
}

func FuzzMatch(f *testing.F) {
	for _, s := range replySeeds {
		f.Add(s)
	}
	f.Add("not good at all")
	f.Add("yes i'm ok")
	f.Add("need help with food")
	var qs []*Question
	for _, qn := range []*Questionnaire{Default(), mustLoadF(f, overlapping)} {
		for i := range qn.Questions {
			qs = append(qs, &qn.Questions[i])
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := tokens(Normalize(s))
		for _, q := range qs {
			o, r := q.Match(s)
			if r != MatchOK {
				if o.Key != "" {
					t.Fatalf("%s: %v with option %q", q.ID, r, o.Key)
				}
				continue
			}
			if ParseKeyword(s) != KeywordNone {
				t.Fatalf("%s: keyword %q matched option %q", q.ID, s, o.Key)
			}
			// Spans of the matched option's phrases in the reply.
			covered := make([]bool, len(toks))
			var spans [][2]int
			for _, p := range q.phrases() {
				if q.Options[p.opt].Key != o.Key {
					continue
				}
				for _, i := range occurrences(toks, p.toks) {
					spans = append(spans, [2]int{i, i + len(p.toks)})
					for j := i; j < i+len(p.toks); j++ {
						covered[j] = true
					}
				}
			}
			if len(spans) == 0 {
				t.Fatalf("%s: %q matched %q without any of its words", q.ID, s, o.Key)
			}
			// Every other word is filler.
			for i, tok := range toks {
				if !covered[i] && !filler[tok] {
					t.Fatalf("%s: %q matched %q despite the word %q", q.ID, s, o.Key, tok)
				}
			}
			// No phrase of another option, unless inside a longer
			// phrase of the matched one ("ok" inside "not ok").
			for _, p := range q.phrases() {
				if q.Options[p.opt].Key == o.Key {
					continue
				}
				for _, i := range occurrences(toks, p.toks) {
					inside := false
					for _, sp := range spans {
						if sp[0] <= i && i+len(p.toks) <= sp[1] && sp[1]-sp[0] > len(p.toks) {
							inside = true
						}
					}
					if !inside {
						t.Fatalf("%s: %q matched %q but holds %q of option %q",
							q.ID, s, o.Key, strings.Join(p.toks, " "), q.Options[p.opt].Key)
					}
				}
			}
		}
		// Keypad digits never panic and only match an option's digit.
		d := s
		if len(d) > 2 {
			d = d[:2]
		}
		for _, q := range qs {
			o, r := q.MatchDigit(d)
			if r == DigitOK && o.Digit != strings.TrimSpace(d) {
				t.Fatalf("MatchDigit(%q) = %q", d, o.Digit)
			}
		}
	})
}

func mustLoadF(f *testing.F, src string) *Questionnaire {
	qn, err := Load("seed.yaml", []byte(src), LoadOptions{})
	if err != nil {
		f.Fatal(err)
	}
	return qn
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(overlapping))
	f.Add(DefaultYAML())
	f.Add(Default().Canonical())
	f.Add([]byte(strings.Replace(base, `words: ["no"], next: end}`, `words: ["no"], next: q1}`, 1)))
	f.Add([]byte(strings.Replace(base, "next: end, advice", "next: q1, advice", 1)))
	f.Add([]byte("id: a\nversion: 1\nstart: q\nquestions:\n- {id: q, prompt: p, options: [{key: a, digit: 1, next: q}]}\n"))
	f.Add([]byte(`{"id":"j","version":1,"start":"a","questions":[{"id":"a","prompt":"p","options":[{"key":"y","digit":"1","words":["Yes!"],"next":"end"}]}]}`))
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		qn, err := Load("fuzz.yaml", data, LoadOptions{})
		if err != nil {
			if _, ok := err.(*LoadError); !ok {
				t.Fatalf("error %T is not *LoadError", err)
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if err := qn.Validate(LoadOptions{}); err != nil {
			t.Fatalf("loaded questionnaire fails Validate: %v", err)
		}
		// Independent graph check: every question is reachable from the
		// start and can reach end.
		byID := map[string]*Question{}
		for i := range qn.Questions {
			q := &qn.Questions[i]
			if byID[q.ID] != nil || q.ID == "" || q.ID == End {
				t.Fatalf("bad or duplicate id %q", q.ID)
			}
			byID[q.ID] = q
		}
		reach := map[string]bool{qn.Start: true}
		for changed := true; changed; {
			changed = false
			for id := range reach {
				for _, o := range byID[id].Options {
					if o.Next != End && !reach[o.Next] {
						if byID[o.Next] == nil {
							t.Fatalf("next %q is not a question", o.Next)
						}
						reach[o.Next] = true
						changed = true
					}
				}
			}
		}
		ends := map[string]bool{}
		for changed := true; changed; {
			changed = false
			for _, q := range qn.Questions {
				if ends[q.ID] {
					continue
				}
				for _, o := range q.Options {
					if o.Next == End || ends[o.Next] {
						ends[q.ID] = true
						changed = true
						break
					}
				}
			}
		}
		for _, q := range qn.Questions {
			if !reach[q.ID] {
				t.Fatalf("question %q unreachable", q.ID)
			}
			if !ends[q.ID] {
				t.Fatalf("question %q cannot reach end", q.ID)
			}
			digits := map[string]bool{}
			if len(q.Options) == 0 || len(q.Options) > MaxOptions {
				t.Fatalf("question %q has %d options", q.ID, len(q.Options))
			}
			for _, o := range q.Options {
				if len(o.Digit) != 1 || o.Digit < "1" || o.Digit > "8" || digits[o.Digit] {
					t.Fatalf("question %q: bad digit %q", q.ID, o.Digit)
				}
				digits[o.Digit] = true
				// Each option's own words and digit match it.
				if got, r := q.Match(o.Digit); r != MatchOK || got.Key != o.Key {
					t.Fatalf("question %q: digit %s gives %q %v", q.ID, o.Digit, got.Key, r)
				}
				for _, w := range o.Words {
					if got, r := q.Match(w); r != MatchOK || got.Key != o.Key {
						t.Fatalf("question %q: word %q gives %q %v, want %q", q.ID, w, got.Key, r, o.Key)
					}
				}
			}
		}
		// Canonical form round-trips.
		again, err := Load("canonical.json", qn.Canonical(), LoadOptions{})
		if err != nil {
			t.Fatalf("canonical form does not load: %v\n%s", err, qn.Canonical())
		}
		if again.Checksum() != qn.Checksum() {
			t.Fatalf("checksum changed on reload")
		}
		// The engine always finishes, pressing the highest digit each time.
		s, _ := qn.Begin()
		for i := 0; !s.Done; i++ {
			if i > qn.maxAnswers() {
				t.Fatal("engine did not finish")
			}
			q := qn.Question(s.QuestionID)
			s, _, err = qn.Advance(s, q.Options[len(q.Options)-1])
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}
