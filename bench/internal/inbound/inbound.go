// Package inbound builds the signed webhook requests Twilio sends when a
// patient texts the gateway, for load and fault tools that play patients.
package inbound

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/protectnow/protect/twilioapi"
)

// SMS is one text a patient sends to the gateway.
type SMS struct {
	// Serial makes the MessageSid (SM and 32 hex digits): the same serial
	// is the same message, as when Twilio repeats a webhook.
	Serial     int
	From, To   string
	Body       string
	AccountSID string
}

// SID is the message's Twilio SID.
func (m SMS) SID() string { return fmt.Sprintf("SM%032x", m.Serial) }

// Request is the webhook Twilio would post to target (the gateway's
// public inbound SMS URL), signed with authToken.
func (m SMS) Request(target, authToken string) *http.Request {
	form := url.Values{"MessageSid": {m.SID()}, "AccountSid": {m.AccountSID},
		"From": {m.From}, "To": {m.To}, "Body": {m.Body}, "NumMedia": {"0"}}
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioapi.Sign(authToken, target, form))
	return req
}
