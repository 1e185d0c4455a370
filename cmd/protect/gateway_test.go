package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/twilioapi"
)

// run, serve and worker refuse to start, before anything else, without a
// clear Twilio mode, without a routing file on real Twilio, or on a busy
// port; each message names the variable to set.
func TestGatewayStartRefusals(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	creds := map[string]string{"TWILIO_ACCOUNT_SID": "AC" + strings.Repeat("a", 32), "TWILIO_AUTH_TOKEN": "tok"}
	tests := []struct {
		name string
		cmd  func(context.Context, []string, io.Writer, io.Writer) error
		env  map[string]string
		want string
	}{
		{"run without Twilio or sandbox", cmdRun, nil, "PROTECT_SANDBOX=1"},
		{"worker without Twilio or sandbox", cmdWorker, nil, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"},
		{"serve on real Twilio without routing", cmdServe, creds, "PROTECT_ROUTING_FILE"},
		{"run on a busy port", cmdRun, map[string]string{"PROTECT_SANDBOX": "1", "PROTECT_HTTP_ADDR": busy.Addr().String()}, "PROTECT_HTTP_ADDR"},
		{"serve on a busy port", cmdServe, map[string]string{"PROTECT_SANDBOX": "1", "PROTECT_HTTP_ADDR": busy.Addr().String()}, "PROTECT_HTTP_ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cliEnv(t)
			t.Setenv("PROTECT_LOG_LEVEL", "info")
			t.Setenv("PROTECT_SANDBOX_ADDR", "127.0.0.1:0")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			err := tt.cmd(ctx, nil, io.Discard, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want mention of %s", err, tt.want)
			}
			// Nothing started: no migration, sandbox, worker or listener.
			if stderr.Len() != 0 {
				t.Fatalf("the command started things before refusing:\n%s", stderr.String())
			}
		})
	}
}

// With real credentials the gateway's one Twilio client refuses drama
// numbers (the demo routing's on-call numbers and test cohorts), and says
// which routing file it uses; real numbers go through.
func TestLiveGatewayNeverContactsDramaNumbers(t *testing.T) {
	cliEnv(t)
	var reached atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}`)
	}))
	defer fake.Close()
	routing := filepath.Join(t.TempDir(), "routing.yaml")
	b, err := os.ReadFile("../../deploy/routing.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(routing, b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TWILIO_ACCOUNT_SID", "AC"+strings.Repeat("b", 32))
	t.Setenv("TWILIO_AUTH_TOKEN", "livetoken0123456789")
	t.Setenv("PROTECT_TWILIO_API_URL", fake.URL)
	t.Setenv("PROTECT_ROUTING_FILE", routing)
	t.Setenv("PROTECT_WEBHOOK_SECRET_CLINICAL", strings.Repeat("s", 32))
	t.Setenv("PROTECT_LOG_LEVEL", "info")
	cfg, err := gatewayConfig()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	g, err := openGateway(context.Background(), cfg, &stderr, false)
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	// The path's digits are masked by the log's redaction; its name is not.
	if !strings.Contains(stderr.String(), `msg="escalation routing" file=`) || !strings.Contains(stderr.String(), "routing.yaml") {
		t.Fatalf("routing file not logged:\n%s", stderr.String())
	}
	for _, to := range []string{"+447700900004", "07700 900014"} {
		_, err := g.twilio.Api.CreateMessage((&api.CreateMessageParams{}).SetTo(to).SetFrom("+441603000000").SetBody("urgent"))
		if !errors.Is(err, twilioapi.ErrTestNumber) {
			t.Fatalf("message to %s: %v", to, err)
		}
		_, err = g.twilio.Api.CreateCall((&api.CreateCallParams{}).SetTo(to).SetFrom("+441603000000").SetTwiml("<Response/>"))
		if !errors.Is(err, twilioapi.ErrTestNumber) {
			t.Fatalf("call to %s: %v", to, err)
		}
	}
	if reached.Load() != 0 {
		t.Fatalf("%d requests reached the provider", reached.Load())
	}
	if !strings.Contains(stderr.String(), "drama number refused") {
		t.Fatalf("refusal not logged:\n%s", stderr.String())
	}
	if _, err := g.twilio.Api.CreateMessage((&api.CreateMessageParams{}).SetTo("+447911123456").SetFrom("+441603000000").SetBody("hi")); err != nil || reached.Load() != 1 {
		t.Fatalf("real number: %v, %d requests", err, reached.Load())
	}
}
