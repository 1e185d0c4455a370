package twilioapi

import (
	"net/url"
	"testing"

	"github.com/twilio/twilio-go/client"
)

const testToken = "12345"

func TestSignKnownAnswer(t *testing.T) {
	// The example Twilio publishes for its validators.
	form := url.Values{
		"Digits":                {"1234"},
		"CallSid":               {"CA1234567890ABCDE"},
		"To":                    {"+18005551212"},
		"Caller":                {"+14158675309"},
		"From":                  {"+14158675309"},
		"ReasonConferenceEnded": {"test"},
		"Reason":                {"Participant"},
	}
	got := Sign(testToken, "https://mycompany.com/myapp.php?foo=1&bar=2", form)
	if want := "vOEb5UThFn24KEfnOFLQY2AE5FY="; got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestSignAgreesWithTwilioValidator(t *testing.T) {
	form := url.Values{
		"MessageSid":    {"SM0123456789abcdef0123456789abcdef"},
		"MessageStatus": {"delivered"},
		"Body":          {"Reply 1 if you are well & 2 if not: ça va?"},
		"To":            {"+447700900123"},
		"Empty":         {""},
	}
	tests := []struct {
		name     string
		signURL  string // the URL Twilio signed
		checkURL string // the URL the application reconstructs
	}{
		{"https no port", "https://protect.example.org/twilio/status", "https://protect.example.org/twilio/status"},
		{"https default port both", "https://protect.example.org:443/twilio/status", "https://protect.example.org:443/twilio/status"},
		{"signed with port, checked without", "https://protect.example.org:443/twilio/status", "https://protect.example.org/twilio/status"},
		{"signed without port, checked with", "https://protect.example.org/twilio/status", "https://protect.example.org:443/twilio/status"},
		{"http custom port", "http://127.0.0.1:8080/twilio/sms", "http://127.0.0.1:8080/twilio/sms"},
		{"query string", "https://protect.example.org/twilio/status?attempt=2&campaign=c%2F7", "https://protect.example.org/twilio/status?attempt=2&campaign=c%2F7"},
		{"query string and port", "http://localhost:8081/hook?x=a+b&y=1", "http://localhost:8081/hook?x=a+b&y=1"},
		{"query string, signed with default port", "https://protect.example.org:443/s?c=1", "https://protect.example.org/s?c=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := Sign(testToken, tt.signURL, form)
			if !SignatureValid(testToken, tt.checkURL, form, sig) {
				t.Errorf("SignatureValid rejected our signature")
			}
			single := map[string]string{}
			for k := range form {
				single[k] = form.Get(k)
			}
			v := client.NewRequestValidator(testToken)
			if !v.Validate(tt.checkURL, single, sig) {
				t.Errorf("twilio-go Validate rejected our signature")
			}
			if !v.ValidateBody(tt.checkURL, []byte(form.Encode()), sig) {
				t.Errorf("twilio-go ValidateBody rejected our signature")
			}
		})
	}
}

func TestSignatureValidRejects(t *testing.T) {
	u := "https://protect.example.org/twilio/sms"
	form := url.Values{"Body": {"1"}, "From": {"+447700900123"}}
	good := Sign(testToken, u, form)
	tampered := url.Values{"Body": {"2"}, "From": {"+447700900123"}}
	tests := []struct {
		name  string
		token string
		url   string
		form  url.Values
		sig   string
	}{
		{"empty signature", testToken, u, form, ""},
		{"wrong token", "54321", u, form, good},
		{"tampered body", testToken, u, tampered, good},
		{"other path", testToken, "https://protect.example.org/twilio/other", form, good},
		{"other scheme", testToken, "http://protect.example.org/twilio/sms", form, good},
		{"garbage", testToken, u, form, "not-base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if SignatureValid(tt.token, tt.url, tt.form, tt.sig) {
				t.Errorf("SignatureValid accepted a bad signature")
			}
		})
	}
}

func TestSignatureValidMultiValued(t *testing.T) {
	u := "https://protect.example.org/twilio/voice"
	form := url.Values{"StatusCallbackEvent": {"ringing", "answered"}, "CallSid": {"CA1"}}
	sig := Sign(testToken, u, form)
	if !SignatureValid(testToken, u, form, sig) {
		t.Fatal("multi-valued: own signature rejected")
	}
	if !SignatureValid(testToken, "https://protect.example.org:443/twilio/voice", form, sig) {
		t.Fatal("multi-valued: port variant rejected")
	}
	reordered := url.Values{"StatusCallbackEvent": {"answered", "ringing"}, "CallSid": {"CA1"}}
	if !SignatureValid(testToken, u, reordered, sig) {
		t.Fatal("multi-valued: value order should not matter")
	}
	extra := url.Values{"StatusCallbackEvent": {"ringing", "answered", "completed"}, "CallSid": {"CA1"}}
	if SignatureValid(testToken, u, extra, sig) {
		t.Fatal("multi-valued: an added value must invalidate the signature")
	}
}
