package templates

import (
	"strings"
	"time"
	"unicode"
)

// The speech model behind EstimateSpeech. Conversational English runs at
// about 150-160 words a minute; scripts for elderly listeners, often on a
// landline, should be said slowly and clearly, so the estimate assumes 130
// and adds a pause wherever a listener needs one. It deliberately errs on
// the long side: it is used to keep prompts short and to plan call length.
const (
	// SpeechWordsPerMinute is the assumed speaking rate.
	SpeechWordsPerMinute = 130
	// SentencePause follows '.', '!', '?', an ellipsis or a line break.
	SentencePause = 700 * time.Millisecond
	// ClausePause follows ',', ';', ':', an en dash or an em dash.
	ClausePause = 300 * time.Millisecond
)

// EstimateSpeech estimates how long text takes to say.
//
// The model: words are runs of letters (with apostrophes) and count one
// each at SpeechWordsPerMinute. A run of digits is said one digit at a time
// when it has four or more (phone numbers, references), so it counts one
// word per digit; a shorter number counts one word. The symbols & % £ $ € @
// + = # / each count one word ("and", "per cent", ...). SentencePause and
// ClausePause are added at the punctuation above; repeated punctuation
// ("?!", "...") pauses once. Placeholders should be rendered with sample
// values first; the estimate cannot know a value's length.
func EstimateSpeech(text string) time.Duration {
	words, sentences, clauses := 0, 0, 0
	inWord, inDigits := false, 0
	var lastPause rune // the kind of pause just counted, to merge "?!" and "..."
	endDigits := func() {
		if inDigits >= 4 {
			words += inDigits
		} else if inDigits > 0 {
			words++
		}
		inDigits = 0
	}
	for _, r := range text {
		isLetter := unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) ||
			(inWord && (r == '\'' || r == '’'))
		isDigit := unicode.IsDigit(r)
		if !isDigit {
			endDigits()
		}
		switch {
		case isLetter:
			if !inWord {
				words++
				inWord = true
			}
			lastPause = 0
			continue
		case isDigit:
			inDigits++
			inWord = false
			lastPause = 0
			continue
		}
		inWord = false
		switch {
		case r == '.' || r == '!' || r == '?' || r == '…' || r == '\n':
			if lastPause != 's' {
				if lastPause == 'c' {
					clauses-- // a sentence end swallows a clause pause
				}
				sentences++
				lastPause = 's'
			}
		case r == ',' || r == ';' || r == ':' || r == '–' || r == '—':
			if lastPause == 0 {
				clauses++
				lastPause = 'c'
			}
		case strings.ContainsRune("&%£$€@+=#/", r):
			words++
			lastPause = 0
		case unicode.IsSpace(r):
			// spaces neither pause nor break a run of pauses
		default:
			lastPause = 0
		}
	}
	endDigits()
	perWord := time.Minute / SpeechWordsPerMinute
	return time.Duration(words)*perWord +
		time.Duration(sentences)*SentencePause +
		time.Duration(clauses)*ClausePause
}
