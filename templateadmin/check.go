package templateadmin

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/protectnow/protect/templates"
)

// MaxBodyLength is the longest body accepted, in bytes: far above any SMS
// a comms lead should send (six parts) or any script a caller can follow.
const MaxBodyLength = 4000

// Limits are the configured maximums a report warns above.
type Limits struct {
	// MaxFragments is the most SMS parts before a warning; 0 means
	// templates.DefaultMaxFragments.
	MaxFragments int
	// MaxSpeech is the longest voice script before a warning; 0 means
	// templates.DefaultMaxSpeech.
	MaxSpeech time.Duration
}

// Problem is one reason a body cannot be saved, located in the body.
type Problem struct {
	Message string `json:"message"`
	// Offset is a byte offset in the body, or -1 for the whole body.
	Offset int `json:"offset"`
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

// Notice is a warning or information that does not stop a save.
type Notice struct {
	Code     string `json:"code"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Offset   int    `json:"offset"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Text     string `json:"text,omitempty"`
}

// UnicodeChar is a character of the body that makes the SMS Unicode.
type UnicodeChar struct {
	Char        string `json:"char"`
	Offset      int    `json:"offset"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	Replacement string `json:"replacement"`
	// HasReplacement is false when no GSM-7 character can stand in.
	HasReplacement bool `json:"has_replacement"`
}

// SMSReport is how the preview travels as an SMS.
type SMSReport struct {
	Encoding    string `json:"encoding"`
	Characters  int    `json:"characters"`
	Fragments   int    `json:"fragments"`
	PerFragment int    `json:"per_fragment"`
	Remaining   int    `json:"remaining"`
	// UnicodeChars are the body's characters that force Unicode, with
	// their GSM-7 replacements where there is one.
	UnicodeChars []UnicodeChar `json:"unicode_chars,omitempty"`
	// GSMBody is the body with every replaceable character replaced, when
	// that differs from the body: what an editor's "use GSM characters"
	// button saves.
	GSMBody string `json:"gsm_body,omitempty"`
	// GSMFragments is the fragment count of the preview of GSMBody.
	GSMFragments int `json:"gsm_fragments,omitempty"`
}

// Report is everything an editor shows about a body as it is typed: the
// preview against a sample patient, what stops it being saved, warnings,
// the SMS size or the speaking time.
type Report struct {
	Key      string            `json:"key"`
	Channel  templates.Channel `json:"channel"`
	Purpose  templates.Purpose `json:"purpose"`
	Language string            `json:"language"`
	// Placeholders are the names the body may use, with samples.
	Placeholders []PlaceholderInfo `json:"placeholders"`
	// Preview is the body rendered with the sample values; empty when the
	// body has problems.
	Preview string `json:"preview"`
	// Problems stop a save; OK is true when there are none.
	Problems []Problem  `json:"problems"`
	OK       bool       `json:"ok"`
	Notices  []Notice   `json:"notices"`
	SMS      *SMSReport `json:"sms,omitempty"`
	// SpeechSeconds estimates how long a voice script takes to say.
	SpeechSeconds float64 `json:"speech_seconds,omitempty"`
}

// PlaceholderInfo describes one allowed placeholder for the editor.
type PlaceholderInfo struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Description string `json:"description"`
	Example     string `json:"example"`
}

// Check validates body as the template key on channel and measures it. It
// is pure: it reads nothing and can run on every keystroke.
func Check(key string, channel templates.Channel, language, body string, lim Limits) Report {
	purpose := PurposeFor(key, channel)
	r := Report{Key: key, Channel: channel, Purpose: purpose, Language: language, Problems: []Problem{}, Notices: []Notice{}}
	reg, err := Registry(purpose)
	if err != nil {
		r.Problems = append(r.Problems, Problem{Message: err.Error(), Offset: -1})
		return r
	}
	for _, ph := range reg.Placeholders() {
		r.Placeholders = append(r.Placeholders, PlaceholderInfo{Name: ph.Name, Kind: string(ph.Kind), Description: ph.Description, Example: ph.Example})
	}
	if !channel.Valid() {
		r.Problems = append(r.Problems, Problem{Message: fmt.Sprintf("unknown channel %q: use sms or voice", string(channel)), Offset: -1})
		return r
	}
	if len(body) > MaxBodyLength {
		r.Problems = append(r.Problems, Problem{Message: fmt.Sprintf("the template is %d bytes long; the most is %d", len(body), MaxBodyLength), Offset: -1})
		return r
	}
	if !utf8.ValidString(body) {
		r.Problems = append(r.Problems, Problem{Message: "the template is not valid UTF-8 text", Offset: -1})
		return r
	}
	samples := reg.Samples()
	opts := templates.LintOptions{MaxFragments: lim.MaxFragments, MaxSpeech: lim.MaxSpeech, Sample: samples}
	for _, w := range templates.Lint(channel, body, opts) {
		if w.Severity == templates.SeverityError {
			r.Problems = append(r.Problems, Problem{Message: w.Message, Offset: w.Offset, Line: w.Line, Column: w.Column})
			continue
		}
		if w.Code == templates.CodeUnicodeChar {
			continue // listed in SMS.UnicodeChars with its replacement
		}
		r.Notices = append(r.Notices, Notice{Code: string(w.Code), Severity: string(w.Severity), Message: w.Message,
			Offset: w.Offset, Line: w.Line, Column: w.Column, Text: w.Text})
	}
	parsed, err := templates.Parse(body)
	if err == nil {
		err = templates.CheckBody(parsed, reg)
	}
	var ce *templates.CheckError
	switch {
	case errors.As(err, &ce):
		for _, p := range ce.Problems {
			r.Problems = append(r.Problems, Problem{Message: p.Reason, Offset: p.Offset, Line: p.Line, Column: p.Column})
		}
	case err != nil && len(r.Problems) == 0:
		// Lint reports syntax errors; this is a backstop.
		r.Problems = append(r.Problems, Problem{Message: err.Error(), Offset: -1})
	}
	if parsed != nil {
		r.Problems = append(r.Problems, disclosureProblems(key, channel, purpose, reg, parsed)...)
	}
	r.OK = len(r.Problems) == 0
	if !r.OK {
		return r
	}
	preview, err := render(parsed, channel, samples)
	if err != nil {
		r.Problems, r.OK = append(r.Problems, Problem{Message: err.Error(), Offset: -1}), false
		return r
	}
	r.Preview = preview
	switch channel {
	case templates.ChannelSMS:
		r.SMS = smsReport(body, preview, samples)
	case templates.ChannelVoice:
		r.SpeechSeconds = templates.EstimateSpeech(preview).Round(100 * time.Millisecond).Seconds()
	}
	return r
}

func render(b *templates.Body, channel templates.Channel, values map[string]string) (string, error) {
	if channel == templates.ChannelVoice {
		return b.RenderVoice(values)
	}
	return b.Render(values)
}

func smsReport(body, preview string, samples map[string]string) *SMSReport {
	c := templates.CountSMS(preview)
	s := &SMSReport{Encoding: string(c.Encoding), Characters: c.Characters, Fragments: c.Fragments,
		PerFragment: c.PerFragment, Remaining: c.Remaining}
	for _, u := range templates.CountSMS(body).UnicodeChars {
		line, col := lineCol(body, u.Offset)
		s.UnicodeChars = append(s.UnicodeChars, UnicodeChar{Char: string(u.Rune), Offset: u.Offset, Line: line, Column: col,
			Replacement: u.Replacement, HasReplacement: u.HasReplacement})
	}
	if gsm := templates.ToGSM(body); gsm != body {
		s.GSMBody = gsm
		if b, err := templates.Parse(gsm); err == nil {
			if p, err := b.Render(samples); err == nil {
				s.GSMFragments = templates.CountSMS(p).Fragments
			}
		}
	}
	return s
}

// lineCol turns a byte offset into a 1-based line and character column.
func lineCol(s string, offset int) (int, int) {
	if offset < 0 || offset > len(s) {
		return 0, 0
	}
	before := s[:offset]
	line := strings.Count(before, "\n") + 1
	if i := strings.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, utf8.RuneCountInString(before) + 1
}

// InvalidError is returned when a body cannot be saved; Report says why.
type InvalidError struct{ Report Report }

// Error names the problems.
func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Report.Problems))
	for i, p := range e.Report.Problems {
		if p.Line > 0 {
			msgs[i] = fmt.Sprintf("line %d, column %d: %s", p.Line, p.Column, p.Message)
		} else {
			msgs[i] = p.Message
		}
	}
	return "template cannot be saved: " + strings.Join(msgs, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }
