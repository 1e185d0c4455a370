package sandbox

import "testing"

// A say-as telephone is heard digit by digit, a pause between groups.
func TestSpokenTelephone(t *testing.T) {
	verbs, err := parseTwiML([]byte(`<Response><Say><prosody rate="90%">Call </prosody><prosody rate="90%">` +
		`<say-as interpret-as="telephone">01603 000 111</say-as></prosody><prosody rate="90%"> or </prosody>` +
		`<prosody rate="90%"><say-as interpret-as="telephone">999</say-as></prosody></Say></Response>`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := verbs[0].spoken(), "Call 0 1 6 0 3, 0 0 0, 1 1 1 or 9 9 9"; got != want {
		t.Fatalf("spoken %q, want %q", got, want)
	}
}

func TestDefaultBirthDate(t *testing.T) {
	for number, want := range map[string]string{"+447700900100": "1970-05-17", "+447700900000": "1930-01-01",
		"+447700900059": "1989-12-04", "+441603123456": ""} {
		if got := DefaultBirthDate(number); got != want {
			t.Errorf("DefaultBirthDate(%s) = %q, want %q", number, got, want)
		}
		if got := DefaultPersona(number).Voice.BirthDate; got != want {
			t.Errorf("DefaultPersona(%s) birth date %q, want %q", number, got, want)
		}
	}
}
