package questionnaire

import (
	"embed"
	"sync"
)

//go:embed defaults/wellbeing.yaml defaults/texts.en.yaml defaults/texts.cy.yaml
var defaultFiles embed.FS

func mustRead(name string) []byte {
	b, err := defaultFiles.ReadFile(name)
	if err != nil {
		panic("questionnaire: " + err.Error())
	}
	return b
}

var defaultTexts = sync.OnceValue(func() Texts {
	t, err := LoadTexts(mustRead("defaults/texts.en.yaml"))
	if err != nil {
		panic("questionnaire: default texts: " + err.Error())
	}
	return t
})

var defaultWelsh = sync.OnceValue(func() Texts {
	t, err := LoadTexts(mustRead("defaults/texts.cy.yaml"))
	if err != nil {
		panic("questionnaire: default Welsh texts: " + err.Error())
	}
	return t
})

var defaultQuestionnaire = sync.OnceValue(func() *Questionnaire {
	qn, err := Load("defaults/wellbeing.yaml", mustRead("defaults/wellbeing.yaml"),
		LoadOptions{TemplateExists: func(key string) (bool, error) { return defaultTexts().Has(key), nil }})
	if err != nil {
		panic("questionnaire: default questionnaire: " + err.Error())
	}
	return qn
})

// Default returns the default "wellbeing check" questionnaire, validated
// against DefaultTexts. Each call returns a new copy.
func Default() *Questionnaire { return defaultQuestionnaire().clone() }

// DefaultYAML returns the source of the default questionnaire, for example
// as a starting point for a local copy.
func DefaultYAML() []byte { return mustRead("defaults/wellbeing.yaml") }

// DefaultTexts returns the default English texts (defaults/texts.en.yaml):
// every key of Default().TemplateKeys() and SystemTemplateKeys().
func DefaultTexts() Texts { return defaultTexts() }

// DefaultTextLanguages lists the languages default texts ship in, English
// first.
func DefaultTextLanguages() []string { return []string{"en", "cy"} }

// DefaultTextsFor returns the default texts of a language from
// DefaultTextLanguages. The Welsh texts (defaults/texts.cy.yaml) still need
// review by a Welsh speaker: callers must not send them unreviewed.
func DefaultTextsFor(language string) (Texts, bool) {
	switch language {
	case "en":
		return defaultTexts(), true
	case "cy":
		return defaultWelsh(), true
	}
	return Texts{}, false
}
