package config

import (
	"maps"
	"os"
	"strings"
	"testing"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestDefaultsWork(t *testing.T) {
	c, err := FromLookup(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Sandbox() || !c.AllowTestNumbers || c.Timezone.String() != "Europe/London" || c.WorkerConcurrency != 20 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.AccountSID() != SandboxAccountSID {
		t.Fatal("sandbox account expected")
	}
}

func TestVoices(t *testing.T) {
	tests := []struct {
		env  map[string]string
		rate string
		want map[string]Voice
	}{
		{nil, "90%", map[string]Voice{}},
		{map[string]string{"PROTECT_VOICE_RATE": "slow", "PROTECT_VOICES": " cy=Google.cy-GB-Standard-A/cy-GB , pl=Polly.Maja/pl-PL,"}, "slow",
			map[string]Voice{"cy": {"Google.cy-GB-Standard-A", "cy-GB"}, "pl": {"Polly.Maja", "pl-PL"}}},
		{map[string]string{"PROTECT_VOICE_RATE": "200%"}, "200%", map[string]Voice{}},
	}
	for _, tt := range tests {
		c, err := FromLookup(lookup(tt.env))
		if err != nil {
			t.Fatalf("%v: %v", tt.env, err)
		}
		if c.VoiceRate != tt.rate || !maps.Equal(c.Voices, tt.want) || c.Voice != "Polly.Amy" || c.VoiceLanguage != "en-GB" {
			t.Errorf("%v: rate %q voices %v (English %s %s)", tt.env, c.VoiceRate, c.Voices, c.Voice, c.VoiceLanguage)
		}
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PROTECT_DATABASE_URL": "mysql://x"}, "PROTECT_DATABASE_URL"},
		{map[string]string{"PROTECT_REDIS_URL": "localhost:6379"}, "PROTECT_REDIS_URL"},
		{map[string]string{"PROTECT_HTTP_ADDR": "8080"}, "PROTECT_HTTP_ADDR"},
		{map[string]string{"PROTECT_PUBLIC_URL": "protect.example"}, "PROTECT_PUBLIC_URL"},
		{map[string]string{"PROTECT_TIMEZONE": "Mars/Olympus"}, "PROTECT_TIMEZONE"},
		{map[string]string{"TWILIO_ACCOUNT_SID": "AC123"}, "set both"},
		{map[string]string{"TWILIO_ACCOUNT_SID": "XX123", "TWILIO_AUTH_TOKEN": "t"}, "TWILIO_ACCOUNT_SID"},
		{map[string]string{"PROTECT_WORKER_CONCURRENCY": "0"}, "PROTECT_WORKER_CONCURRENCY"},
		{map[string]string{"PROTECT_LOG_LEVEL": "loud"}, "PROTECT_LOG_LEVEL"},
		{map[string]string{"PROTECT_ALLOW_TEST_NUMBERS": "maybe"}, "PROTECT_ALLOW_TEST_NUMBERS"},
		{map[string]string{"PROTECT_SESSION_KEY": "short"}, "PROTECT_SESSION_KEY"},
		{map[string]string{"PROTECT_VOICE_RATE": "15%"}, "PROTECT_VOICE_RATE"},
		{map[string]string{"PROTECT_VOICE_RATE": "slowly"}, "PROTECT_VOICE_RATE"},
		{map[string]string{"PROTECT_VOICES": "welsh=Polly.Gwyneth/cy-GB"}, "PROTECT_VOICES"},
		{map[string]string{"PROTECT_VOICES": "cy=Polly.Gwyneth"}, "PROTECT_VOICES"},
		{map[string]string{"PROTECT_VOICES": "cy=A/cy-GB,cy=B/cy-GB"}, "PROTECT_VOICES"},
	}
	for _, tt := range tests {
		_, err := FromLookup(lookup(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("env %v: error %v, want mention of %s", tt.env, err, tt.want)
		}
	}
}

func TestRealTwilio(t *testing.T) {
	c, err := FromLookup(lookup(map[string]string{
		"TWILIO_ACCOUNT_SID": "AC" + strings.Repeat("a", 32), "TWILIO_AUTH_TOKEN": "tok",
		"PROTECT_PUBLIC_URL": "https://protect.example.nhs.uk/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox() || c.AllowTestNumbers || c.PublicURL != "https://protect.example.nhs.uk" {
		t.Fatalf("unexpected: %+v", c)
	}
	if c.WebhookURL("/webhooks/twilio/sms") != "https://protect.example.nhs.uk/webhooks/twilio/sms" {
		t.Fatal(c.WebhookURL("/webhooks/twilio/sms"))
	}
}

// TestREADMEDocumentsEveryVariable keeps the README's configuration table
// and Vars in step.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(b), "| `"+v.Name+"` |") {
			t.Errorf("README.md has no table row for %s", v.Name)
		}
	}
}
