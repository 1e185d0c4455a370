package outreach

import (
	"strings"
	"testing"
)

func TestPolicyNextStep(t *testing.T) {
	voice := DefaultPolicy(true) // sms, sms, voice
	smsOnly := DefaultPolicy(false)
	mobile := Contact{Mobile: "+447911123456", MobileKind: "mobile"}
	landline := Contact{Landline: "+441603123456", LandlineKind: "landline"}
	both := Contact{Mobile: "+447911123456", MobileKind: "mobile", Landline: "+441603123456", LandlineKind: "landline"}
	prefersVoice := both
	prefersVoice.Preferred = Voice
	landlineInMobile := Contact{Mobile: "+441603123456", MobileKind: "landline"}
	failedSMS := func(ch, to string) bool { return ch == SMS && to == "+447911123456" }

	tests := []struct {
		name    string
		p       Policy
		after   int
		c       Contact
		skip    func(string, string) bool
		step    int
		channel string
		to      string
		ok      bool
	}{
		{"mobile starts by sms", voice, 0, mobile, nil, 1, SMS, "+447911123456", true},
		{"mobile second sms", voice, 1, mobile, nil, 2, SMS, "+447911123456", true},
		{"mobile then voice on the mobile", voice, 2, mobile, nil, 3, Voice, "+447911123456", true},
		{"mobile exhausted", voice, 3, mobile, nil, 0, "", "", false},
		{"landline only goes straight to voice", voice, 0, landline, nil, 3, Voice, "+441603123456", true},
		{"landline only without voice is unreachable", smsOnly, 0, landline, nil, 0, "", "", false},
		{"landline in mobile column is called", voice, 0, landlineInMobile, nil, 3, Voice, "+441603123456", true},
		{"both numbers: voice calls the landline", voice, 2, both, nil, 3, Voice, "+441603123456", true},
		{"prefers voice skips sms", voice, 0, prefersVoice, nil, 3, Voice, "+441603123456", true},
		{"prefers voice but no voice steps still texts", smsOnly, 0, prefersVoice, nil, 1, SMS, "+447911123456", true},
		{"failed sms number moves to voice", voice, 1, both, failedSMS, 3, Voice, "+441603123456", true},
		{"no numbers", voice, 0, Contact{}, nil, 0, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ch, to, ok := tt.p.NextStep(tt.after, tt.c, tt.skip)
			if step != tt.step || ch != tt.channel || to != tt.to || ok != tt.ok {
				t.Fatalf("NextStep = %d %s %s %v; want %d %s %s %v", step, ch, to, ok, tt.step, tt.channel, tt.to, tt.ok)
			}
		})
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in    string
		voice bool
		err   string
	}{
		{`{"steps":[{"channel":"sms","wait":"48h"}],"conversation_timeout":"24h"}`, false, ""},
		{`{"steps":[{"channel":"voice","wait":"24h"}],"conversation_timeout":"24h"}`, false, "voice calls are not available"},
		{`{"steps":[{"channel":"fax","wait":"24h"}],"conversation_timeout":"24h"}`, true, "sms or voice"},
		{`{"steps":[],"conversation_timeout":"24h"}`, true, "at least one step"},
		{`{"steps":[{"channel":"sms","wait":"2s"}],"conversation_timeout":"24h"}`, true, "between 1m"},
		{`{"steps":[{"channel":"sms","wait":"soon"}]}`, true, "48h or 90m"},
		{`{"steps":[{"channel":"sms","wait":"1h"}]}`, true, "conversation_timeout"},
	}
	for _, tt := range tests {
		_, err := ParsePolicy([]byte(tt.in), tt.voice)
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParsePolicy(%s) = %v, want %q", tt.in, err, tt.err)
		}
	}
}
