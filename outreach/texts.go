package outreach

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/templates"
)

// Texts gives the wording of a template key, for a channel and a language,
// and the language the wording is in (English when the patient's language
// has none yet), so that a call speaks it in the right voice. The engine asks for wording only through this interface, so where texts
// come from (the shipped files, or approved template versions in the
// database: templateadmin.DBTexts) is one decision. The engine marks the
// context of a message for a campaign with WithCampaign, so a Texts can
// honour the versions that campaign pins.
type Texts interface {
	Body(ctx context.Context, channel, key, language string) (body, lang string, err error)
}

type campaignKey struct{}

// WithCampaign returns ctx marked as rendering a message of campaign id.
func WithCampaign(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, campaignKey{}, id)
}

// CampaignFrom returns the campaign WithCampaign marked ctx with.
func CampaignFrom(ctx context.Context) (int64, bool) {
	id, ok := ctx.Value(campaignKey{}).(int64)
	return id, ok && id != 0
}

// FileTexts serves the texts shipped with the questionnaire package.
type FileTexts struct {
	byLang map[string]questionnaire.Texts
}

// ErrNoText is matched by the error a Texts' Body returns when the key has
// no text: a real miss, unlike a lookup that failed.
var ErrNoText = errors.New("no approved text")

// DefaultTexts returns the shipped English texts.
func DefaultTexts() *FileTexts {
	return &FileTexts{byLang: map[string]questionnaire.Texts{"en": questionnaire.DefaultTexts()}}
}

// Body returns the text for key, falling back to English when the patient's
// language has none.
func (f *FileTexts) Body(_ context.Context, channel, key, language string) (string, string, error) {
	for _, lang := range []string{language, "en"} {
		t, ok := f.byLang[lang]
		if !ok {
			continue
		}
		var body string
		var found bool
		if channel == Voice {
			body, found = t.Voice(key)
		} else {
			body, found = t.SMS(key)
		}
		if found {
			return body, lang, nil
		}
	}
	return "", "", fmt.Errorf("%s text for %q: %w", channel, key, ErrNoText)
}

// Values are the placeholder values for one message.
type Values map[string]string

// patientValues fills the placeholders a patient's messages may use. Names
// fall back to words that read well when a value is unknown.
func patientValues(givenName, practiceName, practicePhone, programme, teamPhone string) Values {
	if practiceName == "" {
		practiceName = "your GP practice"
	}
	if programme == "" {
		programme = "NHS Protect"
	}
	if teamPhone == "" {
		teamPhone = practicePhone
	}
	if teamPhone == "" {
		teamPhone = "your GP practice"
	}
	return Values{"first_name": givenName, "practice_name": practiceName, "programme_name": programme, "team_phone": teamPhone}
}

// renderer renders template keys with parsed bodies cached.
type renderer struct {
	texts Texts
	cache sync.Map // body -> *templates.Body
}

// Spoken is a run of a voice script in one language.
type Spoken struct {
	Text     string
	Language string
}

// render renders the SMS texts of keys and joins them into one message.
func (r *renderer) render(ctx context.Context, language string, keys []string, vals Values) (string, error) {
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		s, _, err := r.one(ctx, SMS, language, k, vals)
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "\n\n"), nil
}

// renderVoice renders voice scripts into runs of one language each: a
// script with no approved wording in the patient's language falls back to
// English and must be spoken by an English voice.
func (r *renderer) renderVoice(ctx context.Context, language string, keys []string, vals Values) ([]Spoken, error) {
	var out []Spoken
	for _, k := range keys {
		s, lang, err := r.one(ctx, Voice, language, k, vals)
		if err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].Language == lang {
			out[n-1].Text += " " + s
			continue
		}
		out = append(out, Spoken{Text: s, Language: lang})
	}
	return out, nil
}

func (r *renderer) one(ctx context.Context, channel, language, key string, vals Values) (string, string, error) {
	src, lang, err := r.texts.Body(ctx, channel, key, language)
	if err != nil {
		return "", "", err
	}
	var body *templates.Body
	if b, ok := r.cache.Load(src); ok {
		body = b.(*templates.Body)
	} else {
		body, err = templates.Parse(src)
		if err != nil {
			return "", "", fmt.Errorf("template %s: %w", key, err)
		}
		r.cache.Store(src, body)
	}
	var out string
	if channel == Voice {
		out, err = body.RenderVoice(vals)
	} else {
		out, err = body.Render(vals)
	}
	if err != nil {
		return "", "", fmt.Errorf("template %s: %w", key, err)
	}
	return out, lang, nil
}
