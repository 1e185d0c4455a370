package questionnaire

import (
	"strings"
	"unicode"
)

// Keyword is an SMS keyword that applies whatever question is open.
type Keyword int

// Keywords. KeywordNone is the zero value.
const (
	KeywordNone  Keyword = iota
	KeywordStop          // opt out: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT
	KeywordStart         // opt back in: START, UNSTOP
	KeywordHelp          // help text: HELP, INFO
)

// String returns "none", "stop", "start" or "help".
func (k Keyword) String() string {
	switch k {
	case KeywordStop:
		return "stop"
	case KeywordStart:
		return "start"
	case KeywordHelp:
		return "help"
	}
	return "none"
}

// keywords maps each reserved word, lower case, to its keyword.
var keywords = map[string]Keyword{
	"stop": KeywordStop, "stopall": KeywordStop, "unsubscribe": KeywordStop,
	"cancel": KeywordStop, "end": KeywordStop, "quit": KeywordStop,
	"revoke": KeywordStop, "optout": KeywordStop,
	"start": KeywordStart, "unstop": KeywordStart,
	"help": KeywordHelp, "info": KeywordHelp,
}

// Keywords returns the reserved keyword words, lower case, for one keyword.
func Keywords(k Keyword) []string {
	var out []string
	for _, w := range []string{"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "start", "unstop", "help", "info"} {
		if keywords[w] == k {
			out = append(out, w)
		}
	}
	return out
}

func keywordOf(normalised string) Keyword { return keywords[normalised] }

// ParseKeyword returns the keyword that the whole reply is, after Normalize:
// "STOP", " Stop. " and "stop!" are KeywordStop, but "stop please" and
// "please stop" are KeywordNone. This follows Twilio's whole-body rule, so
// our opt-out state stays in step with the carrier's. Check keywords before
// Question.Match.
func ParseKeyword(text string) Keyword {
	n := Normalize(text)
	if len(n) > 16 {
		return KeywordNone
	}
	return keywords[n]
}

// Normalize prepares an SMS reply for matching: it folds full-width forms
// to ASCII and curly apostrophes to "'", lower-cases, drops control and
// format characters and emoji variation selectors, collapses runs of white
// space into one space, and strips everything that is not a letter or a
// digit from both ends (spaces, punctuation, symbols, emoji). Punctuation
// inside the text is kept. Invalid UTF-8 becomes U+FFFD. Normalize is
// idempotent.
func Normalize(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	space := false
	for _, r := range text {
		r = fold(unicode.ToLower(fold(r)))
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Variation_Selector, r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimFunc(b.String(), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// fold maps full-width ASCII to ASCII, the ideographic space to a space and
// typographic apostrophes to "'".
func fold(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFEE0
	case r == 0x3000:
		return ' '
	case r == '\u2018', r == '\u2019', r == '\u02BC', r == '\u2032', r == '`', r == '\u00B4':
		return '\''
	}
	return r
}

// tokens splits normalised text into words: runs of letters, digits,
// combining marks and inner apostrophes.
func tokens(n string) []string {
	f := strings.FieldsFunc(n, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '\'')
	})
	out := f[:0]
	for _, t := range f {
		t = strings.Trim(t, "'")
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

// normaliseWord is the form in which option words are stored and compared:
// its tokens joined by single spaces.
func normaliseWord(w string) string { return strings.Join(tokens(Normalize(w)), " ") }

var digitWords = [10]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// hasDigitToken reports whether a normalised word contains a token that
// is a digit or a digit's name.
func hasDigitToken(w string) bool {
	for _, t := range strings.Fields(w) {
		if isDigitToken(t) {
			return true
		}
	}
	return false
}

// isDigitToken reports whether a normalised word is one digit or a digit's
// English name.
func isDigitToken(w string) bool {
	if len(w) == 1 && w[0] >= '0' && w[0] <= '9' {
		return true
	}
	for _, d := range digitWords {
		if w == d {
			return true
		}
	}
	return false
}

// filler words are ignored around an option's words: "yes please", "no
// thank you", "i'm fine thanks", "option 2". The list is short on purpose:
// any other word makes a reply unclear.
var filler = map[string]bool{
	"please": true, "pls": true, "plz": true,
	"thanks": true, "thank": true, "you": true, "thankyou": true, "thanx": true, "thx": true, "ta": true, "cheers": true,
	"x": true, "xx": true, "xxx": true,
	"hi": true, "hello": true,
	"i": true, "i'm": true, "im": true, "am": true, "it": true, "it's": true, "its": true, "is": true,
	"option": true, "number": true, "answer": true,
}

func onlyFiller(w string) bool {
	for _, t := range strings.Fields(w) {
		if !filler[t] {
			return false
		}
	}
	return true
}

// MaxReplyWords is the most words a reply may have to be matched: a longer
// reply is MatchUnclear, and a person reads it.
const MaxReplyWords = 30

// MatchResult says how an SMS reply matched a question.
type MatchResult int

// Match results. Only MatchOK carries an option; treat every other result
// as "not understood" (Questionnaire.NoMatch).
const (
	// MatchNone: the reply holds no word of any option.
	MatchNone MatchResult = iota
	// MatchOK: the reply means exactly one option.
	MatchOK
	// MatchUnclear: the reply holds words of one option and other words
	// that are not filler, for example "not ok" when "not ok" is not an
	// option word, or "yes but I need food".
	MatchUnclear
	// MatchAmbiguous: the reply holds words of two or more options, for
	// example "yes no" or "1 or 2".
	MatchAmbiguous
)

// String returns "none", "ok", "unclear" or "ambiguous".
func (m MatchResult) String() string {
	switch m {
	case MatchOK:
		return "ok"
	case MatchUnclear:
		return "unclear"
	case MatchAmbiguous:
		return "ambiguous"
	}
	return "none"
}

type phrase struct {
	toks []string
	opt  int
}

// phrases lists every way to say each option: its digit, the digit's
// English name and its words, as token sequences.
func (q *Question) phrases() []phrase {
	var ps []phrase
	for i, o := range q.Options {
		if len(o.Digit) == 1 && o.Digit[0] >= '0' && o.Digit[0] <= '9' {
			ps = append(ps, phrase{[]string{o.Digit}, i}, phrase{[]string{digitWords[o.Digit[0]-'0']}, i})
		}
		for _, w := range o.Words {
			if t := tokens(Normalize(w)); len(t) > 0 {
				ps = append(ps, phrase{t, i})
			}
		}
	}
	return ps
}

// Match matches an SMS reply to one of the question's options. The reply is
// normalised (see Normalize) and split into words at anything that is not a
// letter, a digit or an inner apostrophe. Then, from left to right, the
// longest option phrase starting at each word is taken: an option's digit
// ("1"), the digit's English name ("one") or one of its Words ("yes",
// "not ok"). A word that starts no phrase must be a filler word (please,
// thanks, thank, you, hi, i'm, option, number, ...), else the reply is
// unclear. The result is:
//
//   - MatchOK and the option when every phrase found belongs to one option
//     and every other word is filler: "1", "1.", "(1)", "One", " YES! ",
//     "yes please", "no thank you", "option 2", "yes yes", "1 yes".
//   - MatchAmbiguous when phrases of two or more options are found: "yes no",
//     "1 2", "no one" (when "one" is option 1's digit).
//   - MatchUnclear when one option's phrases are found with other words:
//     "not ok" (unless "not ok" is itself an option word), "yes and no",
//     "no i'm not fine", "12", "yes but i need food".
//   - MatchNone when no phrase is found, including empty and emoji-only
//     replies and the keywords (check ParseKeyword first).
//   - MatchUnclear, without looking further, when the reply has more than
//     MaxReplyWords words.
//
// A reply is never matched by a word inside it alone: patient safety comes
// first, and replies that are not matched are read by a person.
func (q *Question) Match(text string) (Option, MatchResult) {
	n := Normalize(text)
	if n == "" || keywords[n] != KeywordNone {
		return Option{}, MatchNone
	}
	toks := tokens(n)
	if len(toks) > MaxReplyWords {
		return Option{}, MatchUnclear
	}
	ps := q.phrases()
	found := map[int]bool{}
	unclear := false
	for i := 0; i < len(toks); {
		best := 0
		var opts []int
		for _, p := range ps {
			if len(p.toks) < best || !hasPrefix(toks[i:], p.toks) {
				continue
			}
			if len(p.toks) > best {
				best, opts = len(p.toks), opts[:0]
			}
			opts = append(opts, p.opt)
		}
		if best > 0 {
			for _, o := range opts {
				found[o] = true
			}
			i += best
			continue
		}
		if !filler[toks[i]] {
			unclear = true
		}
		i++
	}
	switch {
	case len(found) == 0:
		return Option{}, MatchNone
	case len(found) > 1:
		return Option{}, MatchAmbiguous
	case unclear:
		return Option{}, MatchUnclear
	}
	for o := range found {
		return q.Options[o], MatchOK
	}
	return Option{}, MatchNone // unreachable
}

func hasPrefix(toks, p []string) bool {
	if len(p) > len(toks) {
		return false
	}
	for i := range p {
		if toks[i] != p[i] {
			return false
		}
	}
	return true
}

// DigitResult says what a keypad press means on a call.
type DigitResult int

// Digit results. DigitInvalid is the zero value.
const (
	// DigitInvalid: not a digit of any option (nor 0 or 9); treat it as
	// not understood (Questionnaire.NoMatch).
	DigitInvalid DigitResult = iota
	// DigitOK: the digit of an option.
	DigitOK
	// DigitRepeat: 9, say the question again (Questionnaire.Repeat); it
	// does not count as a retry.
	DigitRepeat
	// DigitOperator: 0, connect the caller to a person.
	DigitOperator
	// DigitNone: nothing was pressed before the Gather timed out.
	DigitNone
)

// String returns "invalid", "ok", "repeat", "operator" or "none".
func (d DigitResult) String() string {
	switch d {
	case DigitOK:
		return "ok"
	case DigitRepeat:
		return "repeat"
	case DigitOperator:
		return "operator"
	case DigitNone:
		return "none"
	}
	return "invalid"
}

// Voice keypad digits reserved on every question.
const (
	DigitKeyOperator = "0"
	DigitKeyRepeat   = "9"
)

// MatchDigit interprets the Digits of a voice Gather (one digit): an
// option's digit, 9 to repeat, 0 for a person, "" for no press, anything
// else invalid.
func (q *Question) MatchDigit(d string) (Option, DigitResult) {
	d = strings.TrimSpace(d)
	switch d {
	case "":
		return Option{}, DigitNone
	case DigitKeyRepeat:
		return Option{}, DigitRepeat
	case DigitKeyOperator:
		return Option{}, DigitOperator
	}
	for _, o := range q.Options {
		if o.Digit == d {
			return o, DigitOK
		}
	}
	return Option{}, DigitInvalid
}
