package outreach_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/protectnow/protect/sandbox"
)

// clinicalSaid are words of the questionnaire and its advice that a call
// says only once the person answering has confirmed who they are.
var clinicalSaid = regexp.MustCompile(`(?i)are you ok|unwell|medicine|prescription|food|chest|breathe|feel worse|1 1 1|9 9 9`)

// TestVoiceIdentityCheck calls a patient through twilio-go and the
// sandbox for each way the identity check can go: the right person, a
// carer, a wrong or unusable date of birth, silence, and pressing 0 with
// the team accepting the transfer at the whisper or not.
func TestVoiceIdentityCheck(t *testing.T) {
	const right = "1950-01-01" // birthDate("") of a landline patient
	team := func(v sandbox.VoiceBehaviour) *sandbox.Persona {
		return &sandbox.Persona{Number: teamLine, Label: "team member", Voice: v}
	}
	tests := []struct {
		name      string
		voice     sandbox.VoiceBehaviour
		team      *sandbox.Persona
		policy    []byte
		outcome   string
		calls     int
		answers   int
		needs     map[string]int
		identity  []string // results in the audit log, in order
		said      []string // said on the last call
		whispered []string // heard or pressed on the team's leg
	}{
		{name: "the right person: answers kept", voice: sandbox.VoiceBehaviour{Digits: fineDigits, BirthDate: right},
			outcome: "fine", calls: 1, answers: 5, identity: []string{"passed"},
			said: []string{"If you are Voicey, press 1", "You entered the 1st of January.", "Are you OK?"}},
		{name: "a carer presses 2: the team's number, nothing asked", voice: sandbox.VoiceBehaviour{Digits: fineDigits, Identify: "2", BirthDate: right},
			outcome: "need", calls: 1, needs: map[string]int{"call-back": 1}, identity: []string{"not-patient"},
			said: []string{"Please ask the person we are calling to contact", "0 1 6 0 3, 0 0 0, 0 0 0"}},
		{name: "wrong date of birth twice: escalated, no answers", voice: sandbox.VoiceBehaviour{Digits: fineDigits, BirthDate: "1961-07-15"},
			outcome: "need", calls: 1, needs: map[string]int{"identity-unconfirmed": 1}, identity: []string{"failed"},
			said: []string{"You entered the 15th of July.", "Sorry, we could not check that", "we could not check who we are speaking to"}},
		{name: "wrong, then right", voice: sandbox.VoiceBehaviour{Digits: []string{"1", "1", "3112#", "0101#", "1", "2", "2", "2", "2"}},
			outcome: "fine", calls: 1, answers: 5, identity: []string{"passed"},
			said: []string{"You entered the 31st of December.", "You entered the 1st of January.", "Are you OK?"}},
		{name: "bad input: star, then three digits", voice: sandbox.VoiceBehaviour{Digits: []string{"1", "1", "*#", "010#", "1", "2"}},
			outcome: "need", calls: 1, needs: map[string]int{"identity-unconfirmed": 1}, identity: []string{"failed"},
			said: []string{"Sorry, we could not check that"}},
		{name: "bad input: hash alone, then an impossible date", voice: sandbox.VoiceBehaviour{Digits: []string{"1", "1", "#", "3102#"}},
			outcome: "need", calls: 1, needs: map[string]int{"identity-unconfirmed": 1}, identity: []string{"failed"}},
		{name: "silence twice at who answered: a failed check, not called again", voice: sandbox.VoiceBehaviour{Digits: []string{"1"}},
			policy: voiceTwice, outcome: "need", calls: 1, needs: map[string]int{"identity-unconfirmed": 1}, identity: []string{"failed"},
			said: []string{"Sorry, we did not hear a key press.", "Sorry, we could not check who we are speaking to"}},
		{name: "wrong keys twice at who answered: a failed check", voice: sandbox.VoiceBehaviour{Digits: []string{"1", "5", "7"}},
			outcome: "need", calls: 1, needs: map[string]int{"identity-unconfirmed": 1}, identity: []string{"failed"},
			said: []string{"Sorry, that is not one of the options.", "Sorry, we could not check who we are speaking to"}},
		{name: "0 at the check, the team accepts at the whisper", voice: sandbox.VoiceBehaviour{Digits: []string{"1", "0"}},
			team: team(sandbox.VoiceBehaviour{Digits: []string{"1"}}), outcome: "need", calls: 1, needs: map[string]int{"call-back": 1},
			said:      []string{"Please hold while we connect you"},
			whispered: []string{"Protect call about a patient in Norwich. Press 1 to accept.", `team member pressed "1"`, "connected"}},
		{name: "0 at the check, nobody accepts: call back", voice: sandbox.VoiceBehaviour{Digits: []string{"1", "0"}},
			team: team(sandbox.VoiceBehaviour{}), outcome: "need", calls: 1, needs: map[string]int{"call-back": 1},
			said:      []string{"Please hold while we connect you", "Someone will call back as soon as they can"},
			whispered: []string{"Protect call about a patient in Norwich. Press 1 to accept.", `team member pressed ""`, "team member's call hung up"}},
		{name: "0 after the check, the team line does not answer: call back", voice: sandbox.VoiceBehaviour{Digits: []string{"1", "0"}, BirthDate: right},
			team: team(sandbox.VoiceBehaviour{Answer: sandbox.AnswerNoAnswer}), outcome: "need", calls: 1, needs: map[string]int{"call-back": 1},
			identity: []string{"passed"}, said: []string{"Someone will call you back", "1 1 1"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			ctx := context.Background()
			h.sb.SetPersona(sandbox.Persona{Number: landline, Label: tt.name, Voice: tt.voice})
			if tt.team != nil {
				h.sb.SetPersona(*tt.team)
			}
			h.importCohort("identity", []patient{{nhs(800 + i), "Voicey", "", "01603 123456"}})
			c := h.campaign("identity", "identity", 20, tt.policy)
			if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
				t.Fatal(err)
			}
			h.eventually("an outcome", func() bool {
				h.makeDue()
				oc, _ := h.outcome(c.ID)
				return oc != ""
			})
			h.eventually("calls over", func() bool {
				for _, call := range h.callsTo(landline) {
					switch call.Status {
					case "queued", "ringing", "in-progress":
						return false
					}
				}
				return h.count(`SELECT count(*) FROM attempts WHERE state IN ('sending', 'queued', 'sent')`) == 0
			})
			if oc, reason := h.outcome(c.ID); oc != tt.outcome {
				t.Errorf("outcome %q (%s), want %q", oc, reason, tt.outcome)
			}
			calls := h.callsTo(landline)
			if len(calls) != tt.calls {
				t.Fatalf("%d calls, want %d", len(calls), tt.calls)
			}
			if got := h.count(`SELECT count(*) FROM answers`); got != tt.answers {
				t.Errorf("%d answers, want %d", got, tt.answers)
			}
			for cat, n := range tt.needs {
				if got := h.count(`SELECT count(*) FROM needs WHERE category = $1`, cat); got != n {
					t.Errorf("%d %s needs, want %d", got, cat, n)
				}
			}
			if got := h.count(`SELECT count(*) FROM needs`); got != sum(tt.needs) {
				t.Errorf("%d needs, want %v", got, tt.needs)
			}
			passed := slices.Contains(tt.identity, "passed")
			for _, call := range calls {
				said := call.Said()
				if n := count(said, "This is an automated call"); n != 1 {
					t.Errorf("the greeting said %d times: %q", n, said)
				}
				for _, s := range said {
					if regexp.MustCompile(`\d\d\d`).MatchString(s) {
						t.Errorf("a number not said as a telephone number: %q", s)
					}
					if passed {
						continue
					}
					// Before a passed check: no name but in the question
					// itself, no date of birth, nothing clinical.
					if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(s, "If you are Voicey,", ""), "If you are not Voicey,", ""), "Voicey") {
						t.Errorf("the name said before the check passed: %q", s)
					}
					if m := clinicalSaid.FindString(s); m != "" {
						t.Errorf("%q said before the check passed: %q", m, s)
					}
					if strings.Contains(s, "1st of January") || strings.Contains(s, "1950") {
						t.Errorf("the date of birth said: %q", s)
					}
				}
			}
			last := strings.Join(calls[len(calls)-1].Said(), " | ")
			for _, want := range tt.said {
				if !strings.Contains(last, want) {
					t.Errorf("call did not say %q: %s", want, last)
				}
			}
			whispered := strings.Join(calls[len(calls)-1].Whispered(), " | ")
			for _, want := range tt.whispered {
				if !strings.Contains(whispered, want) {
					t.Errorf("team member did not hear or press %q: %s", want, whispered)
				}
			}
			if len(tt.whispered) == 0 && tt.team == nil && whispered != "" {
				t.Errorf("whisper on a call with no transfer: %s", whispered)
			}
			h.checkIdentityRecords(tt.identity)
		})
	}
}

// checkIdentityRecords checks the audit log and the patient's timeline
// hold the check's results and tries, and that no date of birth typed is
// kept anywhere.
func (h *harness) checkIdentityRecords(want []string) {
	h.t.Helper()
	ctx := context.Background()
	rows, err := h.st.Pool().Query(ctx, `SELECT details->>'result', (details->>'tries')::int, details::text
		FROM audit_log WHERE action = 'call.identity' ORDER BY id`)
	if err != nil {
		h.t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var result, details string
		var tries int
		if err := rows.Scan(&result, &tries, &details); err != nil {
			h.t.Fatal(err)
		}
		got = append(got, result)
		// A check that failed at "if you are..." made no try at the date.
		if result == "passed" && tries < 1 {
			h.t.Errorf("audit entry without its tries: %s", details)
		}
		if strings.Contains(details, "0101") || strings.Contains(details, "1950") {
			h.t.Errorf("audit entry holds a date of birth: %s", details)
		}
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		h.t.Errorf("identity results audited %v, want %v", got, want)
	}
	if n := h.count(`SELECT count(*) FROM call_steps WHERE input ~ '^[0-9*#]{2,}$' OR twiml LIKE '%You entered%'`); n != 0 {
		h.t.Errorf("%d call steps keep the keys typed at the check or their read-back", n)
	}
	var patientID int64
	if err := h.st.Pool().QueryRow(ctx, `SELECT id FROM patients LIMIT 1`).Scan(&patientID); err != nil {
		h.t.Fatal(err)
	}
	timeline, err := h.st.PatientTimeline(ctx, patientID, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	var onTimeline []string
	for _, e := range timeline {
		if result, ok := strings.CutPrefix(e.Summary, "identity check on a call: "); ok {
			onTimeline = append(onTimeline, strings.ReplaceAll(result, " ", "-"))
			if !strings.HasSuffix(e.Detail, "try") && !strings.HasSuffix(e.Detail, "tries") {
				h.t.Errorf("timeline entry without its tries: %+v", e)
			}
		}
	}
	slices.Reverse(onTimeline)
	if !slices.Equal(onTimeline, want) {
		h.t.Errorf("identity results on the timeline %v, want %v", onTimeline, want)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func count(texts []string, sub string) int {
	n := 0
	for _, s := range texts {
		n += strings.Count(s, sub)
	}
	return n
}
