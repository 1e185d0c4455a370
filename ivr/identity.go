package ivr

import (
	"crypto/subtle"
	"fmt"
	"strconv"
	"time"

	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
)

// Identity check results (calls.identity_result).
const (
	identityPassed     = "passed"
	identityFailed     = "failed"
	identityNotPatient = "not-patient"
)

// maxIdentityTries is how many answers the date or year of birth gets: a
// wrong or unusable one is asked once more.
const maxIdentityTries = 2

// identityPrompt is the prompt of the check a campaign makes.
func identityPrompt(check string) string {
	if check == outreach.IdentityYear {
		return questionnaire.KeyIdentityYear
	}
	return questionnaire.KeyIdentityDOB
}

// checks reports whether calls of a campaign confirm who answered: every
// setting but "off" (an unknown one checks, to be safe).
func checks(setting string) bool { return setting != outreach.IdentityOff }

// confirmed reports whether health questions and advice may be said: the
// campaign makes no check, or the check passed.
func confirmed(c store.CallDialog, ch *store.CallChange) bool {
	return !checks(c.IdentityCheck) || ch.IdentityResult == identityPassed
}

// maxWhoAnswers is how many silent or unusable answers the question "if
// you are <first name>, press 1" gets: the second ends the call as a
// failed check.
const maxWhoAnswers = 2

// identifyKey handles "if you are <first name>, press 1; if not, press 2".
// NoInput counts the silent and unusable answers.
func (g *dialog) identifyKey(c store.CallDialog, t turn, ch *store.CallChange, d *doc) error {
	switch k := t.digits; k {
	case questionnaire.DigitKeyRepeat:
		ch.NoInput = 0
		return g.ask(d, questionnaire.KeyIdentityWho)
	case questionnaire.DigitKeyOperator:
		return g.operator(c, ch, d)
	case "1":
		ch.Phase, ch.NoInput = phaseVerify, 0
		return g.askBirth(c, d)
	case "2":
		return g.notPatient(ch, d)
	case "":
		if ch.NoInput+1 >= maxWhoAnswers {
			return g.failCheck(ch, d, "no answer twice to the question who answered")
		}
		return g.silence(ch, d, questionnaire.KeyIdentityWho)
	default:
		ch.NoInput++
		if ch.NoInput >= maxWhoAnswers {
			return g.failCheck(ch, d, "no usable answer twice to the question who answered")
		}
		return g.ask(d, KeyInvalidOption, questionnaire.KeyIdentityWho)
	}
}

// failCheck ends a call whose identity check failed, politely: a person
// reaches the patient another way. why says how it failed, in words
// that hold nothing typed.
func (g *dialog) failCheck(ch *store.CallChange, d *doc, why string) error {
	ch.Phase, ch.Result, ch.NoInput = phaseDone, "identity-failed", 0
	ch.IdentityResult = identityFailed
	ch.Outcome, ch.Reason = "need", "could not confirm identity on a call"
	ch.Needs = append(ch.Needs, store.NeedRow{Category: string(questionnaire.CategoryIdentityUnconfirmed), Priority: "normal",
		Detail: "could not confirm who answered the call (" + why + "): reach the patient another way; nothing was asked or said"})
	return g.sayThenHangup(d, questionnaire.KeyIdentityFailed)
}

// askBirth asks for the date or year of birth: several keys ended by #.
func (g *dialog) askBirth(c store.CallDialog, d *doc, before ...string) error {
	text, err := g.say(append(before, identityPrompt(c.IdentityCheck))...)
	if err != nil {
		return err
	}
	d.gatherDigits(g.gatherURL, text)
	return nil
}

// notPatient ends a call answered by someone else: they hear the team's
// number to pass on, nothing about why we called, and a person calls
// back.
func (g *dialog) notPatient(ch *store.CallChange, d *doc) error {
	ch.Phase, ch.Result, ch.NoInput = phaseDone, "not-patient", 0
	ch.IdentityResult = identityNotPatient
	ch.Outcome, ch.Reason = "need", "someone other than the patient answered a call"
	ch.Needs = append(ch.Needs, store.NeedRow{Category: string(questionnaire.CategoryCallBack), Priority: "normal",
		Detail: "someone other than the patient answered the call (pressed 2) and was given the team's number to pass on; nothing was asked"})
	return g.sayThenHangup(d, questionnaire.KeyIdentityNotPatient)
}

// verifyKey checks the date or year of birth typed. Keys, wrong or right,
// are never stored or logged; only the tries and the result are. Silence
// counts as a try: Twilio posts "#" alone as no keys too, and a caller
// who cannot answer is better called by a person than asked again.
func (g *dialog) verifyKey(c store.CallDialog, t turn, ch *store.CallChange, d *doc) error {
	ch.Private = true
	switch t.digits {
	case questionnaire.DigitKeyOperator:
		return g.operator(c, ch, d)
	case questionnaire.DigitKeyRepeat:
		return g.askBirth(c, d)
	}
	ch.NoInput = 0
	ch.IdentityTries++
	typed, ok := birthAnswer(c.IdentityCheck, t.digits, g.now())
	if ok && subtle.ConstantTimeCompare([]byte(typed), []byte(birthKey(c.IdentityCheck, c.DateOfBirth))) == 1 {
		ch.IdentityResult = identityPassed
		d.private(g.readBack(c.IdentityCheck, typed))
		return g.begin(c, ch, d)
	}
	if ch.IdentityTries >= maxIdentityTries {
		if ok {
			d.private(g.readBack(c.IdentityCheck, typed))
		}
		return g.failCheck(ch, d, fmt.Sprintf("%d tries at the %s check", ch.IdentityTries, checkName(c.IdentityCheck)))
	}
	if ok {
		d.private(g.readBack(c.IdentityCheck, typed))
	}
	return g.askBirth(c, d, questionnaire.KeyIdentityRetry)
}

func checkName(setting string) string {
	if setting == outreach.IdentityYear {
		return "year of birth"
	}
	return "date of birth"
}

// birthKey is what the patient should type: DDMM, or YYYY.
func birthKey(setting string, dob time.Time) string {
	if setting == outreach.IdentityYear {
		return fmt.Sprintf("%04d", dob.Year())
	}
	return fmt.Sprintf("%02d%02d", dob.Day(), dob.Month())
}

// birthAnswer checks the keys typed are a possible answer: four digits, a
// day and month that exist (29 February does), or a year from 1900 to
// this year. Anything else (*, # alone, three or five digits, 3102) is
// not.
func birthAnswer(setting, digits string, now time.Time) (string, bool) {
	if len(digits) != 4 {
		return "", false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 {
		return "", false
	}
	if setting == outreach.IdentityYear {
		return digits, n >= 1900 && n <= now.Year()
	}
	day, month := n/100, n%100
	if month < 1 || month > 12 || day < 1 {
		return "", false
	}
	// 2024 is a leap year, so 29 February is a day that exists.
	if day > time.Date(2024, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return "", false
	}
	return digits, true
}

// readBack says what was typed, in words, in the call's language where
// there is wording for it (English otherwise): "You entered the 4th of
// March." It repeats the caller's own keys, never the date on record.
func (g *dialog) readBack(setting, typed string) []outreach.Spoken {
	n, _ := strconv.Atoi(typed)
	if setting == outreach.IdentityYear {
		return []outreach.Spoken{{Text: "You entered " + yearWords(n) + ".", Language: "en"}}
	}
	day, month := n/100, time.Month(n%100)
	if g.lang == "cy" {
		return []outreach.Spoken{{Text: "Fe wnaethoch chi nodi'r " + strconv.Itoa(day) + " o " + welshMonths[month-1] + ".", Language: "cy"}}
	}
	return []outreach.Spoken{{Text: "You entered the " + ordinal(day) + " of " + month.String() + ".", Language: "en"}}
}

// welshMonths are the months after "o" (of), which softens them: "4 o
// Fawrth". To be read by a Welsh speaker before a Welsh campaign.
var welshMonths = []string{"Ionawr", "Chwefror", "Fawrth", "Ebrill", "Fai", "Fehefin", "Orffennaf", "Awst", "Fedi",
	"Hydref", "Dachwedd", "Ragfyr"}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

var smallNumbers = []string{"", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
	"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}

var tens = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}

// under100 says 1 to 99 in words.
func under100(n int) string {
	if n < 20 {
		return smallNumbers[n]
	}
	if n%10 == 0 {
		return tens[n/10]
	}
	return tens[n/10] + "-" + smallNumbers[n%10]
}

// yearWords says a year from 1900 as British English does: "nineteen
// forty-eight", "nineteen oh five", "two thousand and five", "twenty
// twenty". Said as words, a year is not taken for a phone number.
func yearWords(y int) string {
	hi, lo := y/100, y%100
	switch {
	case y >= 2000 && y < 2010:
		if lo == 0 {
			return "two thousand"
		}
		return "two thousand and " + smallNumbers[lo]
	case lo == 0:
		return under100(hi) + " hundred"
	case lo < 10:
		return under100(hi) + " oh " + smallNumbers[lo]
	}
	return under100(hi) + " " + under100(lo)
}
