package escalation_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/opsalert"
	"github.com/protectnow/protect/twilioapi"
)

// Operations alerts text the duty team (duty_team, else the urgent team)
// from the alert sender, except a hold the text cannot get past: Twilio
// refusing the account, or the alert sender itself held.
func TestTextDutyTeam(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	since := time.Now().Add(-time.Minute)
	gateway := opsalert.Event{Event: opsalert.SenderHeld, Sender: "+447700900999", Code: 20429, HeldSince: since,
		Text: "Protect: sending from +447700900999 is HELD"}
	account := gateway
	account.Code, account.AccountLevel = 20005, true
	resumed := account
	resumed.Event, resumed.Text = opsalert.SenderResumed, "Protect: sending from +447700900999 has RESUMED"
	alertSender := gateway
	alertSender.Sender = "Protect"
	cases := []struct {
		name    string
		routing string // appended to the test routing
		ev      opsalert.Event
		to      string // the number texted, "" for none
		cannot  bool
	}{
		{"gateway fault to the urgent team", "", gateway, "+447700900004", false},
		{"gateway fault to duty_team", "duty_team: duty\n", gateway, "+447700900014", false},
		{"account refused", "", account, "", true},
		{"alert sender held", "", alertSender, "", true},
		{"resumed after the account was refused", "duty_team: duty\n", resumed, "+447700900014", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.sb.Reset()
			r, err := escalation.ParseRouting("test", []byte(testRouting("https://team.example/hook")+tc.routing), os.LookupEnv)
			if err != nil {
				t.Fatal(err)
			}
			svc := escalation.New(escalation.Options{Store: e.st, Routing: r, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Twilio: twilioapi.New(config.SandboxAccountSID, config.SandboxAuthToken, e.twilioURL)})
			n, err := svc.TextDutyTeam(ctx, tc.ev)
			if tc.cannot != errors.Is(err, escalation.ErrAlertCannotGo) || (!tc.cannot && err != nil) {
				t.Fatalf("got %d, %v", n, err)
			}
			if tc.to == "" {
				if n != 0 || len(e.sb.Messages()) != 0 {
					t.Fatalf("texted %d: %+v", n, e.sb.Messages())
				}
				return
			}
			if texts := e.sms(tc.to); n != 1 || len(texts) != 1 || texts[0] != tc.ev.Text {
				t.Fatalf("%s got %q (%d sent)", tc.to, texts, n)
			}
			if m := e.sb.Messages()[0]; m.From != "Protect" {
				t.Errorf("sent from %q, want the alert sender", m.From)
			}
		})
	}
}
