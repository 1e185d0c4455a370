package questionnaire

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Text is the wording of one template key for each channel.
type Text struct {
	// SMS is the text message, or "" when the key is not used by SMS.
	SMS string `yaml:"sms,omitempty"`
	// Voice is the script said on a call, or "" when not used on calls.
	Voice string `yaml:"voice,omitempty"`
}

// Texts maps template keys to plain-English wording. It is the interim text
// source until message templates are managed elsewhere. Texts may hold
// GOV.UK Notify placeholders such as ((first_name)); filling them in is the
// caller's job. The zero value is empty and usable.
type Texts struct {
	// Language is the file's language tag, for example "en".
	Language string
	texts    map[string]Text
}

type textsFile struct {
	Language string          `yaml:"language"`
	Texts    map[string]Text `yaml:"texts"`
}

// LoadTexts parses a texts file:
//
//	language: en
//	texts:
//	  wellbeing.ok:
//	    sms: "Are you OK? Reply 1 for yes or 2 for no."
//	    voice: "Press 1 if you are OK. Press 2 if you are not."
//
// Every key needs an SMS or a voice text (or both), and placeholders must
// be well formed: ((name)) or ((name??optional text)), name in lower case
// letters, digits and underscores. All problems are reported at once.
func LoadTexts(data []byte) (Texts, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f textsFile
	if err := dec.Decode(&f); err != nil {
		return Texts{}, fmt.Errorf("texts: %s", yamlReason(err))
	}
	var errs []error
	if f.Language == "" {
		errs = append(errs, errors.New("texts: language is missing"))
	}
	keys := make([]string, 0, len(f.Texts))
	for k := range f.Texts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t := f.Texts[k]
		if !validKey(k) {
			errs = append(errs, fmt.Errorf("texts: key %q is not valid", k))
		}
		if strings.TrimSpace(t.SMS) == "" && strings.TrimSpace(t.Voice) == "" {
			errs = append(errs, fmt.Errorf("texts: %s: no sms or voice text", k))
		}
		for _, ch := range []struct{ name, text string }{{"sms", t.SMS}, {"voice", t.Voice}} {
			if err := checkPlaceholders(ch.text); err != nil {
				errs = append(errs, fmt.Errorf("texts: %s: %s: %v", k, ch.name, err))
			}
		}
		t.SMS = strings.TrimSpace(t.SMS)
		t.Voice = strings.TrimSpace(t.Voice)
		f.Texts[k] = t
	}
	if len(errs) > 0 {
		return Texts{}, errors.Join(errs...)
	}
	return Texts{Language: f.Language, texts: f.Texts}, nil
}

// checkPlaceholders checks the ((...)) syntax of a text.
func checkPlaceholders(s string) error {
	for {
		i := strings.Index(s, "((")
		j := strings.Index(s, "))")
		switch {
		case i < 0 && j < 0:
			return nil
		case i < 0 || (j >= 0 && j < i):
			return errors.New(`"))" without "(("`)
		case j < 0:
			return errors.New(`"((" without "))"`)
		}
		body := s[i+2 : j]
		name, _, _ := strings.Cut(body, "??")
		if strings.Contains(body, "((") {
			return fmt.Errorf("placeholder ((%s)) is not closed", body)
		}
		if !placeholderName(name) {
			return fmt.Errorf("placeholder ((%s)) has an invalid name", body)
		}
		s = s[j+2:]
	}
}

func placeholderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// SMS returns the SMS text of key.
func (t Texts) SMS(key string) (string, bool) {
	x, ok := t.texts[key]
	return x.SMS, ok && x.SMS != ""
}

// Voice returns the voice script of key.
func (t Texts) Voice(key string) (string, bool) {
	x, ok := t.texts[key]
	return x.Voice, ok && x.Voice != ""
}

// Has reports whether key has a text for either channel, for
// LoadOptions.TemplateExists.
func (t Texts) Has(key string) bool {
	_, ok := t.texts[key]
	return ok
}

// Keys returns every key, sorted.
func (t Texts) Keys() []string {
	keys := make([]string, 0, len(t.texts))
	for k := range t.texts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
