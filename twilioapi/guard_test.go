package twilioapi

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// A live client never sends a message or places a call to an Ofcom drama
// number, however it is written; it says why, logs it, and the error is
// permanent. Other numbers, and clients without the guard, are untouched.
func TestRefuseTestNumbers(t *testing.T) {
	tests := []struct {
		name    string
		to      string
		call    bool
		refused bool
	}{
		{"E.164 drama SMS", "+447700900004", false, true},
		{"national drama SMS", "07700 900014", false, true},
		{"no plus drama call", "447700900999", true, true},
		{"real mobile SMS", "+447911123456", false, false},
		{"real mobile call", "+447911123456", true, false},
		{"next to the range", "+447700901000", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, got := fakeAPI(t, 201, "application/json", messageOK)
			var logs bytes.Buffer
			rc := New(testSID, testAuth, ts.URL, RefuseTestNumbers(slog.New(slog.NewTextHandler(&logs, nil))))
			var err error
			if tt.call {
				_, err = rc.Api.CreateCall((&api.CreateCallParams{}).SetTo(tt.to).SetFrom("+441603000000").SetTwiml("<Response/>"))
			} else {
				_, err = rc.Api.CreateMessage((&api.CreateMessageParams{}).SetTo(tt.to).SetFrom("+441603000000").SetBody("hello"))
			}
			got.mu.Lock()
			sent := len(got.reqs)
			got.mu.Unlock()
			if tt.refused {
				if !errors.Is(err, ErrTestNumber) || sent != 0 || Temporary(err) {
					t.Fatalf("err %v (temporary %v), %d requests reached the API; want a permanent refusal", err, Temporary(err), sent)
				}
				if !strings.Contains(logs.String(), "drama number refused") || strings.Contains(logs.String(), "900004") {
					t.Fatalf("refusal log: %q", logs.String())
				}
				return
			}
			if err != nil || sent != 1 {
				t.Fatalf("err %v, %d requests", err, sent)
			}
			if _, form := got.last(); form.Get("To") != tt.to {
				t.Fatalf("body not passed on: %v", form)
			}
		})
	}
	// Without the guard (the sandbox), drama numbers go through.
	ts, _ := fakeAPI(t, 201, "application/json", messageOK)
	if _, err := New(testSID, testAuth, ts.URL).Api.CreateMessage((&api.CreateMessageParams{}).SetTo("+447700900004").
		SetFrom("+447700900999").SetBody("x")); err != nil {
		t.Fatal(err)
	}
}
