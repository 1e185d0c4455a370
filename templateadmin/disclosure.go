package templateadmin

import (
	"fmt"

	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/templates"
)

// namelessPlaceholders are the placeholders that say nothing about the
// patient: the only ones a script said before the identity check may use.
var namelessPlaceholders = map[string]bool{"practice_name": true, "programme_name": true, "team_phone": true}

// disclosureProblems are what stops a template that anyone may hear or
// read from giving away who or what it is about:
//
//   - a voice script said before the call's identity check passes (see
//     questionnaire.SaidBeforeIdentityCheck) may use no placeholder about
//     the patient (name, date of birth, NHS number), but ((first_name)) in
//     the question "If you are ((first_name)), press 1", and no clinical
//     word;
//   - the first text of a campaign (the invitation) may use no clinical
//     word: it names the practice and programme, not a condition.
//
// A placeholder reg does not know is left to templates.CheckBody, which
// reports it already.
func disclosureProblems(key string, channel templates.Channel, purpose templates.Purpose, reg *templates.Registry, b *templates.Body) []Problem {
	beforeCheck := channel == templates.ChannelVoice && questionnaire.SaidBeforeIdentityCheck(key)
	if !beforeCheck && purpose != templates.PurposeInvitation {
		return nil
	}
	var problems []Problem
	src := b.Source()
	seen := make(map[string]bool)
	for _, part := range b.Parts() {
		if beforeCheck && part.Kind != templates.PartText && !seen[part.Name] && personal(reg, key, part.Name) {
			seen[part.Name] = true
			problems = append(problems, located(src, part.Offset, personalMessage(key, part.Name)))
		}
		if part.Kind == templates.PartPlaceholder {
			continue
		}
		if word, at := questionnaire.ClinicalWord(part.Text); word != "" {
			off := part.Offset
			if part.Kind == templates.PartText {
				off += at
			}
			problems = append(problems, located(src, off, clinicalMessage(word, beforeCheck)))
		}
	}
	return problems
}

// personal reports whether a placeholder reg allows says something about
// the patient that key may not say before the identity check.
func personal(reg *templates.Registry, key, name string) bool {
	if _, ok := reg.Lookup(name); !ok || namelessPlaceholders[name] {
		return false
	}
	return name != "first_name" || key != questionnaire.KeyIdentityWho
}

func personalMessage(key, name string) string {
	msg := fmt.Sprintf("((%s)) cannot be used here: this is said before the caller has confirmed who they are, "+
		"so it may not name the patient or give their date of birth or NHS number", name)
	if name == "first_name" {
		msg += fmt.Sprintf(" (only the question %q may use ((first_name)))", questionnaire.KeyIdentityWho)
	}
	return msg
}

func clinicalMessage(word string, beforeCheck bool) string {
	if beforeCheck {
		return fmt.Sprintf("%q cannot be said here: this is said before the caller has confirmed who they are, "+
			"and anyone may have answered the phone, so it may not mention health, care or a condition", word)
	}
	return fmt.Sprintf("%q cannot be in the first text: anyone may read it, so it names the practice and the programme, "+
		"not health, care or a condition", word)
}

// located is a Problem at byte offset off of src.
func located(src string, off int, msg string) Problem {
	line, col := lineCol(src, off)
	return Problem{Message: msg, Offset: off, Line: line, Column: col}
}
