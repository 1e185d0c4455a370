package templateadmin

import (
	"strings"

	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/templates"
)

// PurposeFor says what the template of key is for on channel, which
// decides the placeholders it may use:
//
//	wellbeing.intro                     invitation (sms), voice_greeting (voice)
//	other wellbeing.* and questionnaire question prompts
//	                                    question (sms), voice_prompt (voice)
//	wellbeing.end_*, system.end_*, system.handover
//	                                    thanks (sms), voice_goodbye (voice)
//	advice.*                            urgent_advice
//	system.reminder                     reminder (sms), voice_greeting (voice)
//	system.not_understood               not_understood (sms), voice_prompt (voice)
//	system.help                         help (sms), voice_prompt (voice)
//	system.opt_out, system.opt_in       opt_out, opt_in
//	system.operator                     voice_prompt
//	system.voicemail                    voicemail
//	system.goodbye                      voice_goodbye
//	anything else                       question (sms), voice_prompt (voice)
func PurposeFor(key string, channel templates.Channel) templates.Purpose {
	voice := channel == templates.ChannelVoice
	pick := func(sms, v templates.Purpose) templates.Purpose {
		if voice {
			return v
		}
		return sms
	}
	switch {
	case key == "wellbeing.intro":
		return pick(templates.PurposeInvitation, templates.PurposeVoiceGreeting)
	case strings.HasPrefix(key, "advice."):
		return templates.PurposeUrgentAdvice
	case key == questionnaire.KeyReminder:
		return pick(templates.PurposeReminder, templates.PurposeVoiceGreeting)
	case key == questionnaire.KeyHandover, strings.HasPrefix(key, "system.end_"), strings.HasPrefix(key, "wellbeing.end_"):
		return pick(templates.PurposeThanks, templates.PurposeVoiceGoodbye)
	case key == questionnaire.KeyNotUnderstood:
		return pick(templates.PurposeNotUnderstood, templates.PurposeVoicePrompt)
	case key == questionnaire.KeyHelp:
		return pick(templates.PurposeHelp, templates.PurposeVoicePrompt)
	case key == questionnaire.KeyOptOut:
		return templates.PurposeOptOut
	case key == questionnaire.KeyOptIn:
		return templates.PurposeOptIn
	case key == questionnaire.KeyOperator:
		return templates.PurposeVoicePrompt
	case key == questionnaire.KeyVoicemail:
		return templates.PurposeVoicemail
	case key == questionnaire.KeyGoodbye:
		return templates.PurposeVoiceGoodbye
	}
	return pick(templates.PurposeQuestion, templates.PurposeVoicePrompt)
}

// EngineValues are the placeholders the outreach engine fills in for every
// message it sends (see outreach.patientValues). A placeholder that a
// purpose's registry allows but the engine does not fill in would fail at
// send time, so Registry leaves it out: the error comes at save time.
// Add a name here when the engine starts filling it in.
var EngineValues = []string{"first_name", "practice_name", "programme_name", "team_phone"}

// keywordExtra are names the engine fills in for keyword replies (HELP,
// STOP, START) although templates.RegistryFor leaves them out of the
// keyword purposes: for an unknown number practice_name reads "your GP
// practice", which gives nothing away.
var keywordExtra = []templates.Placeholder{
	{Name: "practice_name", Kind: templates.KindText, Description: "The name of the patient's GP practice, or \"your GP practice\" when the number is not known", Example: "Riverside Medical Centre"},
}

// Registry returns the placeholders a template of purpose p may use: those
// templates.RegistryFor(p) allows that the engine fills in.
func Registry(p templates.Purpose) (*templates.Registry, error) {
	full, err := templates.RegistryFor(p)
	if err != nil {
		return nil, err
	}
	filled := make(map[string]bool, len(EngineValues))
	for _, n := range EngineValues {
		filled[n] = true
	}
	var keep []templates.Placeholder
	for _, ph := range full.Placeholders() {
		if filled[ph.Name] {
			keep = append(keep, ph)
		}
	}
	switch p {
	case templates.PurposeHelp, templates.PurposeOptOut, templates.PurposeOptIn:
		for _, ph := range keywordExtra {
			if _, ok := full.Lookup(ph.Name); !ok {
				keep = append(keep, ph)
			}
		}
	}
	return templates.NewRegistry(keep...)
}
