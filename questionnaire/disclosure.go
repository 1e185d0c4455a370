package questionnaire

import "regexp"

// clinicalWords are words about health that nothing said before a call's
// identity check passes, nor the first text of a campaign, may hold: anyone
// may have answered the phone or may read the text. 111 and 999 are in it
// too: they say "this is about your health".
var clinicalWords = regexp.MustCompile(`(?i)\b(unwell|ill|illness|sick|medicines?|medication|prescriptions?|chest|pain|breathe|breathing|` +
	`symptoms?|clinical|condition|diagnos\w*|shielding|vulnerable|cancer|diabetes|screening|vaccin\w*|covid|health|doctor|nurse|worse|` +
	`emergency|food|shopping)\b|1 ?1 ?1|9 ?9 ?9`)

// ClinicalWord returns the first clinical word in text and its byte offset,
// or "" and -1 when there is none.
func ClinicalWord(text string) (string, int) {
	loc := clinicalWords.FindStringIndex(text)
	if loc == nil {
		return "", -1
	}
	return text[loc[0]:loc[1]], loc[0]
}

// beforeIdentityCheck are the voice scripts a call may say before its
// identity check passes: the greeting, the check itself, what ends a call
// that failed it or was answered by someone else, and what any prompt
// says around a silence, a wrong key or a press of 0.
var beforeIdentityCheck = map[string]bool{
	KeyGreeting: true, KeyIdentityWho: true, KeyIdentityDOB: true, KeyIdentityYear: true,
	KeyIdentityRetry: true, KeyIdentityFailed: true, KeyIdentityNotPatient: true,
	KeyCallBackPromiseUnconfirmed: true, KeyInvalidOption: true, KeyNoInput: true,
	KeyGoodbye: true, KeyOperator: true, KeyVoicemail: true,
}

// SaidBeforeIdentityCheck reports whether a call may say the voice script
// of key before it knows who answered. Such a script may name nobody (but
// the first name in KeyIdentityWho) and say nothing clinical.
func SaidBeforeIdentityCheck(key string) bool { return beforeIdentityCheck[key] }

// BeforeIdentityCheckKeys returns the keys SaidBeforeIdentityCheck
// reports, in no particular order.
func BeforeIdentityCheckKeys() []string {
	keys := make([]string, 0, len(beforeIdentityCheck))
	for k := range beforeIdentityCheck {
		keys = append(keys, k)
	}
	return keys
}
