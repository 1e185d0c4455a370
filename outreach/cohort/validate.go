package cohort

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/protectnow/protect/nhsnumber"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/store"
)

// Severity says whether a problem cost the row or only a field.
type Severity string

// Severities in the report.
const (
	Rejected Severity = "rejected" // the row was not imported
	Warning  Severity = "warning"  // the row was imported without this value
)

// Problem is one line of the import report.
type Problem struct {
	Line     int
	Field    string
	Severity Severity
	Reason   string
}

// maxField bounds every field: longer values are not names, numbers or
// codes, and would bloat the database.
const maxField = 256

// maxName bounds names, in characters.
const maxName = 100

// rowValidator validates records against the columns of one file.
type rowValidator struct {
	cols   *columns
	phones phone.Parser
	today  time.Time
}

// validate turns a record into a patient row. A row whose identity is not
// valid is rejected with every reason found; a bad phone number or optional
// field only costs that field (a warning).
func (v *rowValidator) validate(rec []string, line int) (store.PatientRow, []Problem, bool) {
	var probs []Problem
	reject := func(field, reason string) {
		probs = append(probs, Problem{line, field, Rejected, reason})
	}
	warn := func(field, reason string) {
		probs = append(probs, Problem{line, field, Warning, reason})
	}
	if len(rec) != v.cols.width {
		reject("", fmt.Sprintf("row has %d fields, the header has %d", len(rec), v.cols.width))
		return store.PatientRow{}, probs, false
	}
	for i, f := range rec {
		if len(f) > maxField {
			reject(fieldName(v.cols, i), fmt.Sprintf("value too long (%d bytes, at most %d)", len(f), maxField))
		}
		if !utf8.ValidString(f) {
			reject(fieldName(v.cols, i), "not valid UTF-8: save the extract as UTF-8")
		}
	}
	if len(probs) > 0 {
		return store.PatientRow{}, probs, false
	}

	var p store.PatientRow
	nhs, err := nhsnumber.Parse(v.cols.get(rec, ColNHSNumber))
	if err != nil {
		reject(ColNHSNumber, err.Error())
	}
	p.NHSNumber = nhs
	p.GivenName = v.name(v.cols.get(rec, ColGivenName), ColGivenName, reject)
	p.FamilyName = v.name(v.cols.get(rec, ColFamilyName), ColFamilyName, reject)
	dob, err := parseDate(v.cols.get(rec, ColDateOfBirth), v.today)
	if err != nil {
		reject(ColDateOfBirth, err.Error())
	}
	p.DateOfBirth = dob
	if len(probs) > 0 {
		return store.PatientRow{}, probs, false
	}

	if n, ok := v.number(v.cols.get(rec, ColMobile), ColMobile, warn); ok {
		p.Mobile, p.MobileKind = n.E164, string(n.Kind)
		if n.Kind == phone.Landline {
			warn(ColMobile, "the mobile column holds a landline number: it will be called, not texted")
		}
	}
	if n, ok := v.number(v.cols.get(rec, ColLandline), ColLandline, warn); ok {
		if n.E164 == p.Mobile {
			warn(ColLandline, "same number as the mobile column")
		} else {
			p.Landline, p.LandlineKind = n.E164, string(n.Kind)
		}
	}
	if p.Mobile == "" && p.Landline == "" {
		warn("", "no usable phone number: imported for follow-up by a person")
	}

	p.GPPracticeCode = strings.ToUpper(v.cols.get(rec, ColGPPracticeCode))
	if p.GPPracticeCode != "" && !practiceCode(p.GPPracticeCode) {
		warn(ColGPPracticeCode, "not an ODS practice code (letters and digits, 3 to 10 of them): left blank")
		p.GPPracticeCode = ""
	}
	p.Locality = v.cols.get(rec, ColLocality)
	if hasControl(p.Locality) {
		warn(ColLocality, "contains control characters: left blank")
		p.Locality = ""
	}
	p.Language = "en"
	if l := v.cols.get(rec, ColLanguage); l != "" {
		if code, ok := languageCode(l); ok {
			p.Language = code
		} else {
			warn(ColLanguage, fmt.Sprintf("unknown language %q: English used", l))
		}
	}
	if c := v.cols.get(rec, ColPreferredChannel); c != "" {
		if ch, ok := channel(c); ok {
			p.PreferredChannel = ch
		} else {
			warn(ColPreferredChannel, fmt.Sprintf("unknown channel %q: expected sms or voice", c))
		}
	}
	return p, probs, true
}

func (v *rowValidator) name(s, field string, reject func(field, reason string)) string {
	switch {
	case s == "":
		reject(field, "required")
	case utf8.RuneCountInString(s) > maxName:
		reject(field, fmt.Sprintf("longer than %d characters", maxName))
	case hasControl(s):
		reject(field, "contains control characters")
	case !strings.ContainsFunc(s, unicode.IsLetter):
		reject(field, "contains no letters")
	}
	return s
}

func (v *rowValidator) number(s, field string, warn func(field, reason string)) (phone.Number, bool) {
	if s == "" {
		return phone.Number{}, false
	}
	n, err := v.phones.Parse(s)
	if err != nil {
		warn(field, "not a contact route: "+err.Error())
		return phone.Number{}, false
	}
	return n, true
}

func fieldName(c *columns, i int) string {
	for k, j := range c.idx {
		if j == i {
			return k
		}
	}
	return fmt.Sprintf("column %d", i+1)
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

func practiceCode(s string) bool {
	if len(s) < 3 || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// languages maps what extracts write to ISO 639-1 codes for the languages
// templates can be written in.
var languages = map[string]string{
	"en": "en", "eng": "en", "english": "en",
	"cy": "cy", "cym": "cy", "wel": "cy", "welsh": "cy", "cymraeg": "cy",
	"pl": "pl", "pol": "pl", "polish": "pl",
	"pa": "pa", "punjabi": "pa", "ur": "ur", "urdu": "ur", "bn": "bn", "bengali": "bn",
	"gu": "gu", "gujarati": "gu", "ar": "ar", "arabic": "ar", "ro": "ro", "romanian": "ro",
	"pt": "pt", "portuguese": "pt", "lt": "lt", "lithuanian": "lt", "so": "so", "somali": "so",
	"zh": "zh", "chinese": "zh", "es": "es", "spanish": "es", "fr": "fr", "french": "fr",
	"gd": "gd", "gaelic": "gd", "ta": "ta", "tamil": "ta", "tr": "tr", "turkish": "tr",
}

func languageCode(s string) (string, bool) {
	c, ok := languages[strings.ToLower(s)]
	return c, ok
}

func channel(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "sms", "text", "txt", "mobile":
		return "sms", true
	case "voice", "call", "phone", "telephone", "landline", "ivr":
		return "voice", true
	case "any", "none", "either":
		return "", true
	}
	return "", false
}

// Date errors.
var (
	errDateEmpty  = errors.New("required")
	errDateFormat = errors.New("not a date: expected YYYY-MM-DD or DD/MM/YYYY")
	errDateReal   = errors.New("not a real date")
	errDateFuture = errors.New("in the future")
	errDateTooOld = errors.New("more than 125 years ago")
)

// parseDate reads ISO dates (1948-07-05) and UK dates (05/07/1948, 5-7-1948,
// 05.07.1948), never US order, and checks the date is real and past.
func parseDate(s string, today time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, errDateEmpty
	}
	var y, m, d int
	var ok bool
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		y, ok = atoi(s[0:4])
		m2, ok2 := atoi(s[5:7])
		d2, ok3 := atoi(s[8:10])
		m, d, ok = m2, d2, ok && ok2 && ok3
	} else {
		sep := strings.IndexAny(s, "/-.")
		if sep < 0 {
			return time.Time{}, errDateFormat
		}
		parts := strings.Split(s, s[sep:sep+1])
		if len(parts) != 3 || len(parts[2]) != 4 || len(parts[0]) > 2 || len(parts[1]) > 2 {
			return time.Time{}, errDateFormat
		}
		d, ok = atoi(parts[0])
		m2, ok2 := atoi(parts[1])
		y2, ok3 := atoi(parts[2])
		m, y, ok = m2, y2, ok && ok2 && ok3
	}
	if !ok {
		return time.Time{}, errDateFormat
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return time.Time{}, errDateReal
	}
	if !t.Before(today) {
		return time.Time{}, errDateFuture
	}
	if t.Before(today.AddDate(-125, 0, 0)) {
		return time.Time{}, errDateTooOld
	}
	return t, nil
}

func atoi(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
