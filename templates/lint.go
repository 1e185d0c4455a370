package templates

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Severity says how much a Warning matters.
type Severity string

// Severities, least to most serious.
const (
	// SeverityInfo is for information, such as the speaking time.
	SeverityInfo Severity = "info"
	// SeverityWarning should be read and usually fixed.
	SeverityWarning Severity = "warning"
	// SeverityError should block approval.
	SeverityError Severity = "error"
)

// WarningCode identifies the kind of a Warning, for callers and tests.
type WarningCode string

// Warning codes.
const (
	CodeChannel        WarningCode = "channel"         // unknown channel
	CodeEmpty          WarningCode = "empty"           // nothing to send or say
	CodeSyntax         WarningCode = "syntax"          // the body does not parse
	CodeLink           WarningCode = "link"            // a web address
	CodeLinkShortener  WarningCode = "link_shortener"  // bit.ly and the like
	CodeUnicode        WarningCode = "unicode"         // the message must be sent as UCS-2
	CodeUnicodeChar    WarningCode = "unicode_char"    // one character forcing UCS-2
	CodeSMSLength      WarningCode = "sms_length"      // more parts than allowed
	CodeMarkup         WarningCode = "markup"          // < or > in a voice script
	CodeSpeechDuration WarningCode = "speech_duration" // how long a script takes to say
	CodeSpeechLength   WarningCode = "speech_too_long" // longer than allowed
)

// Defaults used when LintOptions leaves a limit at zero.
const (
	// DefaultMaxFragments keeps texts to two parts: short messages are read
	// and understood, and every part is charged.
	DefaultMaxFragments = 2
	// DefaultMaxSpeech keeps one voice script under 45 seconds, so a
	// listener still remembers the start when it ends.
	DefaultMaxSpeech = 45 * time.Second
)

// LintOptions configures Lint.
type LintOptions struct {
	// MaxFragments is the most SMS parts a message may take before a
	// warning; 0 means DefaultMaxFragments.
	MaxFragments int
	// MaxSpeech is the longest a voice script may take to say before a
	// warning; 0 means DefaultMaxSpeech.
	MaxSpeech time.Duration
	// Sample holds values used to measure the body (Registry.Samples gives
	// realistic ones). A placeholder without a sample is measured as its
	// own ((name)) text; optional text without a sample flag is counted as
	// shown, the longer case.
	Sample map[string]string
}

// Warning is one thing a comms lead should know about a template.
type Warning struct {
	// Code identifies the kind of warning.
	Code WarningCode
	// Severity says how much it matters.
	Severity Severity
	// Message is plain English, ready to show.
	Message string
	// Offset is the byte offset in the body the warning is about, or -1
	// when it is about the whole body.
	Offset int
	// Line and Column locate Offset, 1-based, counting characters; both
	// are 0 when Offset is -1.
	Line, Column int
	// Text is the offending text (the link, the character), if any.
	Text string
}

// Lint checks a template body for the channel and returns what a comms lead
// should see before saving it: links (link shorteners as errors), empty
// bodies and syntax errors; for SMS, characters that force Unicode and a
// length above the maximum; for voice, markup and the estimated speaking
// time (always reported, as info). It does not check placeholder names
// against a registry: that is Check. The result is nil when there is
// nothing to say.
func Lint(channel Channel, body string, opts LintOptions) []Warning {
	if !channel.Valid() {
		return []Warning{wholeBody(CodeChannel, SeverityError, fmt.Sprintf("unknown channel %q: use sms or voice", string(channel)))}
	}
	if strings.TrimSpace(body) == "" {
		return []Warning{wholeBody(CodeEmpty, SeverityError, "the template is empty")}
	}
	var ws []Warning
	parsed, err := Parse(body)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			ws = append(ws, at(body, pe.Offset, CodeSyntax, SeverityError, pe.Reason, ""))
		}
	}
	ws = append(ws, lintLinks(channel, body)...)

	// Measure the body as it will be sent, as far as samples allow.
	measured := body
	if parsed != nil {
		measured = sampleText(parsed, opts.Sample)
	}
	switch channel {
	case ChannelSMS:
		ws = append(ws, lintSMS(body, measured, opts)...)
	case ChannelVoice:
		ws = append(ws, lintVoice(body, measured, opts)...)
	}
	return ws
}

func lintSMS(body, measured string, opts LintOptions) []Warning {
	var ws []Warning
	if strings.TrimSpace(measured) == "" {
		ws = append(ws, wholeBody(CodeEmpty, SeverityWarning, "with the sample values the message is empty"))
	}
	limit := opts.MaxFragments
	if limit <= 0 {
		limit = DefaultMaxFragments
	}
	count := CountSMS(measured)

	// One warning per distinct character, at its first use in the body.
	bodyCount := CountSMS(body)
	seen := make(map[rune]bool)
	var listed []string
	for _, u := range bodyCount.UnicodeChars {
		if seen[u.Rune] {
			continue
		}
		seen[u.Rune] = true
		listed = append(listed, displayRune(u.Rune))
		msg := fmt.Sprintf("%s is not in the GSM character set, so the whole message is sent as Unicode", displayRune(u.Rune))
		switch {
		case u.HasReplacement && u.Replacement == "":
			msg += "; it is invisible: remove it"
		case u.HasReplacement:
			msg += fmt.Sprintf("; replace it with %q", u.Replacement)
		default:
			msg += "; there is no GSM replacement that keeps the meaning"
		}
		ws = append(ws, at(body, u.Offset, CodeUnicodeChar, SeverityWarning, msg, string(u.Rune)))
	}
	if count.Encoding == UCS2 {
		msg := fmt.Sprintf("the message is sent as Unicode, so a text holds %d characters instead of %d (%d instead of %d a part when split); it takes %d part(s)",
			UCS2Single, GSM7Single, UCS2Multi, GSM7Multi, count.Fragments)
		if len(listed) > 0 {
			msg += " because of " + strings.Join(listed, " ")
		} else {
			msg += " because of characters in the sample values"
		}
		if g := CountSMS(ToGSM(measured)); g.Encoding == GSM7 && g.Fragments < count.Fragments {
			msg += fmt.Sprintf("; with GSM replacements it would take %d", g.Fragments)
		}
		ws = append(ws, wholeBody(CodeUnicode, SeverityWarning, msg))
	}
	if count.Fragments > limit {
		ws = append(ws, wholeBody(CodeSMSLength, SeverityWarning, fmt.Sprintf(
			"the message takes %d parts (%d %s units), more than the maximum of %d; every part is charged and long texts are less likely to be read",
			count.Fragments, count.Units, count.Encoding, limit)))
	}
	return ws
}

func lintVoice(body, measured string, opts LintOptions) []Warning {
	var ws []Warning
	if i := strings.IndexAny(body, "<>"); i >= 0 {
		ws = append(ws, at(body, i, CodeMarkup, SeverityWarning,
			"< and > are removed before the script is said: SSML and other markup are not supported; write the words to say", body[i:i+1]))
	}
	spoken := CleanSpeech(measured)
	if spoken == "" {
		ws = append(ws, wholeBody(CodeEmpty, SeverityWarning, "with the sample values there is nothing to say"))
		return ws
	}
	d := EstimateSpeech(spoken)
	ws = append(ws, wholeBody(CodeSpeechDuration, SeverityInfo, fmt.Sprintf(
		"takes about %s to say at a slow, clear %d words a minute", roundSeconds(d), SpeechWordsPerMinute)))
	limit := opts.MaxSpeech
	if limit <= 0 {
		limit = DefaultMaxSpeech
	}
	if d > limit {
		ws = append(ws, wholeBody(CodeSpeechLength, SeverityWarning, fmt.Sprintf(
			"takes about %s to say, more than the maximum of %s; split it or cut it so listeners can follow", roundSeconds(d), roundSeconds(limit))))
	}
	return ws
}

// linkPattern finds web addresses: anything with a scheme or www., known
// link shorteners, and bare domains under common top-level domains. The
// list of bare-domain endings is kept short so ordinary text ("e.g.",
// "9.30am", "Dr.Smith") is not mistaken for a link.
var linkPattern = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"]+|\bwww\.[^\s<>"]+|` +
	`\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+` +
	`(?:uk|com|org|net|info|io|ly|gl|gd|link|app|online|site|biz|eu|scot|wales|cymru|ie|co|in|at|cc|de|id|st)\b(?:/[^\s<>"]*)?`)

// isShortener reports link shorteners: NHS guidance is never to use them,
// because patients cannot see where they lead and scams use them.
func isShortener(host string) bool {
	switch strings.TrimPrefix(host, "www.") {
	case "bit.ly", "bitly.com", "tinyurl.com", "goo.gl", "t.co", "ow.ly", "is.gd", "v.gd",
		"buff.ly", "rebrand.ly", "cutt.ly", "shorturl.at", "tiny.cc", "rb.gy", "lnkd.in",
		"t.ly", "bl.ink", "short.io", "qrco.de", "s.id", "tiny.one", "shorte.st", "adf.ly", "x.co":
		return true
	}
	return false
}

// bareDomainNeedsContext lists endings that are also common words or
// abbreviations; a bare domain with one of them is a link only if it is a
// known shortener.
func bareDomainNeedsContext(host string) bool {
	i := strings.LastIndexByte(host, '.')
	switch host[i+1:] {
	case "co", "in", "at", "cc", "de", "id", "st":
		return true
	}
	return false
}

func lintLinks(channel Channel, body string) []Warning {
	var ws []Warning
	for _, m := range linkPattern.FindAllStringIndex(body, -1) {
		link := strings.TrimRight(body[m[0]:m[1]], ".,;:!?)'\"")
		if m[0] > 0 && body[m[0]-1] == '@' {
			continue // an email address, not a link
		}
		host := strings.ToLower(link)
		scheme := false
		if i := strings.Index(host, "://"); i >= 0 {
			host, scheme = host[i+3:], true
		}
		if i := strings.IndexAny(host, "/?#:"); i >= 0 {
			host = host[:i]
		}
		if isShortener(host) {
			ws = append(ws, at(body, m[0], CodeLinkShortener, SeverityError,
				"link shorteners such as "+host+" must not be used: patients cannot see where they lead, and scam texts use them", link))
			continue
		}
		if !scheme && !strings.HasPrefix(host, "www.") && bareDomainNeedsContext(host) {
			continue
		}
		msg := "the message contains a link: patients are told the NHS will not ask for personal details through a link, so use one only if it is needed and leads to a well-known NHS or GOV.UK page"
		if channel == ChannelVoice {
			msg = "the script contains a web address, which is hard to follow when read aloud"
		}
		ws = append(ws, at(body, m[0], CodeLink, SeverityWarning, msg, link))
	}
	return ws
}

// sampleText renders a body for measuring: samples where given, a
// placeholder's own ((name)) where not, optional text shown unless a
// sample flag hides it.
func sampleText(b *Body, sample map[string]string) string {
	vals, err := normaliseValues(sample)
	if err != nil {
		vals = nil // ambiguous samples: measure the placeholders themselves
	}
	var sb strings.Builder
	for _, p := range b.parts {
		v, ok := vals[p.Name]
		switch p.Kind {
		case PartText:
			sb.WriteString(p.Text)
		case PartPlaceholder:
			if ok {
				sb.WriteString(v)
			} else {
				sb.WriteString("((" + p.Name + "))")
			}
		case PartOptional:
			if !ok || Truthy(v) {
				sb.WriteString(p.Text)
			}
		}
	}
	return sb.String()
}

func wholeBody(code WarningCode, sev Severity, msg string) Warning {
	return Warning{Code: code, Severity: sev, Message: msg, Offset: -1}
}

func at(body string, offset int, code WarningCode, sev Severity, msg, text string) Warning {
	line, col := lineCol(body, offset)
	return Warning{Code: code, Severity: sev, Message: msg, Offset: offset, Line: line, Column: col, Text: text}
}

// displayRune shows a character with its code point, making invisible
// ones visible: “ (U+201C), or U+00A0 alone for a no-break space.
func displayRune(r rune) string {
	if r == ' ' || r == '\t' || r == '\u00A0' || (r >= '\u2000' && r <= '\u200F') || r == '\u202F' ||
		r == '\u205F' || r == '\u2060' || r == '\u3000' || r == '\uFEFF' || r == '\u00AD' || r < 0x20 {
		return fmt.Sprintf("%U", r)
	}
	return fmt.Sprintf("%c (%U)", r, r)
}

func roundSeconds(d time.Duration) string {
	return d.Round(time.Second).String()
}
