package outreach

import (
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/sandbox"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
)

// An attempt sent through a messaging service adopts the message that
// service sent, never the same text sent to the same number by another
// service or from a number (another campaign's).
func TestFindSentThroughMessagingService(t *testing.T) {
	const (
		to      = "+447700900123"
		body    = "Hello from the practice. Reply YES or NO."
		ours    = "MG00000000000000000000000000000001"
		theirs  = "MG00000000000000000000000000000002"
		numFrom = "+447700900999"
	)
	sb, err := sandbox.New(sandbox.Config{AccountSID: config.SandboxAccountSID, AuthToken: config.SandboxAuthToken,
		CallbackDelay: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { sb.Close() })
	rc := twilioapi.New(config.SandboxAccountSID, config.SandboxAuthToken, ts.URL)
	e := &Engine{twilio: rc}
	since := time.Now().Add(-time.Minute)

	send := func(p *openapi.CreateMessageParams) string {
		t.Helper()
		m, err := rc.Api.CreateMessage(p.SetTo(to).SetBody(body))
		if err != nil {
			t.Fatal(err)
		}
		return *m.Sid
	}
	w := store.Work{To: to, Body: body, SentFrom: ours, FirstClaimedAt: since}

	// Only other senders have the text: nothing to adopt.
	send((&openapi.CreateMessageParams{}).SetMessagingServiceSid(theirs))
	send((&openapi.CreateMessageParams{}).SetFrom(numFrom))
	if sid, _, found, err := e.findSent(w); err != nil || found {
		t.Fatalf("findSent before our service sent = %q, %v, %v; want nothing found", sid, found, err)
	}
	// Our service's message is found, among the others.
	mine := send((&openapi.CreateMessageParams{}).SetMessagingServiceSid(ours))
	send((&openapi.CreateMessageParams{}).SetMessagingServiceSid(theirs))
	sid, _, found, err := e.findSent(w)
	if err != nil || !found || sid != mine {
		t.Fatalf("findSent = %q, %v, %v; want %q", sid, found, err, mine)
	}
	// A number sender still matches on From.
	w.SentFrom = numFrom
	if sid, _, found, err := e.findSent(w); err != nil || !found || sid == mine {
		t.Fatalf("findSent from a number = %q, %v, %v", sid, found, err)
	}
}
