package templateadmin

import (
	"context"
	"fmt"

	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templates"
)

// Seed imports the texts shipped with the questionnaire package for every
// key, channel and language that has no template yet, so a fresh install
// sends something; it never touches an existing template, so running it
// at every start is safe. English texts become approved, live version 1
// by "system". Other languages (Welsh, which still needs review by a Welsh
// speaker) become version 1 pending approval: until a person approves
// one, patients get the English text. It returns how many templates it
// created.
func Seed(ctx context.Context, st *store.Store) (int, error) {
	existing, err := st.Templates(ctx, store.TemplateFilter{})
	if err != nil {
		return 0, fmt.Errorf("seed templates: %w", err)
	}
	have := make(map[store.TemplateRef]bool, len(existing))
	for _, t := range existing {
		have[store.TemplateRef{Key: t.Key, Channel: t.Channel, Language: t.Language}] = true
	}
	created := 0
	var refs []string
	for _, lang := range questionnaire.DefaultTextLanguages() {
		texts, _ := questionnaire.DefaultTextsFor(lang)
		for _, key := range texts.Keys() {
			for _, ch := range []templates.Channel{templates.ChannelSMS, templates.ChannelVoice} {
				var body string
				var ok bool
				if ch == templates.ChannelSMS {
					body, ok = texts.SMS(key)
				} else {
					body, ok = texts.Voice(key)
				}
				ref := store.TemplateRef{Key: key, Channel: string(ch), Language: lang}
				if !ok || have[ref] {
					continue
				}
				made, err := st.SeedTemplate(ctx, ref, string(PurposeFor(key, ch)), body, lang == "en")
				if err != nil {
					return created, fmt.Errorf("seed templates: %w", err)
				}
				if made {
					created++
					refs = append(refs, ref.PinKey())
				}
			}
		}
	}
	if created > 0 {
		err := st.Audit(ctx, store.AuditEntry{Actor: store.SystemActor, Action: "template.seed", SubjectType: "template",
			SubjectID: "defaults", Details: map[string]any{"created": created, "templates": refs}})
		if err != nil {
			return created, err
		}
	}
	return created, nil
}
