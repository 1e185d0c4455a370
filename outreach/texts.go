package outreach

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/templates"
)

// Texts gives the wording of a template key, for a channel and a language.
// The engine asks for wording only through this interface, so where texts
// come from (the shipped files, or approved template versions in the
// database: templateadmin.DBTexts) is one decision. The engine marks the
// context of a message for a campaign with WithCampaign, so a Texts can
// honour the versions that campaign pins.
type Texts interface {
	Body(ctx context.Context, channel, key, language string) (string, error)
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

// DefaultTexts returns the shipped English texts.
func DefaultTexts() *FileTexts {
	return &FileTexts{byLang: map[string]questionnaire.Texts{"en": questionnaire.DefaultTexts()}}
}

// Body returns the text for key, falling back to English when the patient's
// language has none.
func (f *FileTexts) Body(_ context.Context, channel, key, language string) (string, error) {
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
			return body, nil
		}
	}
	return "", fmt.Errorf("no %s text for %q", channel, key)
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

// render renders each key and joins them into one text.
func (r *renderer) render(ctx context.Context, channel, language string, keys []string, vals Values) (string, error) {
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		s, err := r.one(ctx, channel, language, k, vals)
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	sep := "\n\n"
	if channel == Voice {
		sep = " "
	}
	return strings.Join(parts, sep), nil
}

func (r *renderer) one(ctx context.Context, channel, language, key string, vals Values) (string, error) {
	src, err := r.texts.Body(ctx, channel, key, language)
	if err != nil {
		return "", err
	}
	var body *templates.Body
	if b, ok := r.cache.Load(src); ok {
		body = b.(*templates.Body)
	} else {
		body, err = templates.Parse(src)
		if err != nil {
			return "", fmt.Errorf("template %s: %w", key, err)
		}
		r.cache.Store(src, body)
	}
	if channel == Voice {
		return body.RenderVoice(vals)
	}
	out, err := body.Render(vals)
	if err != nil {
		return "", fmt.Errorf("template %s: %w", key, err)
	}
	return out, nil
}
