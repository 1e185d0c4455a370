package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/twilioapi"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"empty", Config{}},
		{"no token", Config{AccountSID: testSID}},
		{"token with symbols", Config{AccountSID: testSID, AuthToken: "abc-123"}},
		{"relative inbound URL", Config{AccountSID: testSID, AuthToken: testToken, InboundSMSURL: "/twilio/sms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := New(tt.cfg); err == nil {
				s.Close()
				t.Error("New accepted a bad configuration")
			}
		})
	}
}

func TestStartAndClose(t *testing.T) {
	sb, err := New(Config{AccountSID: testSID, AuthToken: testToken, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := twilioapi.New(testSID, testToken, base)
	if _, err := rc.Api.CreateMessage(sms("+447700900000", "hi")); err != nil {
		t.Fatalf("CreateMessage: %v", err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sb.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := rc.Api.CreateMessage(sms("+447700900000", "hi")); !twilioapi.Temporary(err) {
		t.Errorf("after Close: err = %v, want a temporary network error", err)
	}
}

// flakyTransport refuses the first n connections.
type flakyTransport struct {
	left atomic.Int32
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.left.Add(-1) >= 0 {
		return nil, fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestWebhookRetriesConnectionErrors(t *testing.T) {
	ft := &flakyTransport{}
	ft.left.Store(2)
	e := newEnv(t, func(c *Config) { c.HTTPClient = &http.Client{Transport: ft} })
	if _, err := e.api.Api.CreateMessage(sms("+447700900004", "hi").SetStatusCallback("/twilio/status")); err != nil {
		t.Fatal(err)
	}
	e.waitHooks(t, "/twilio/status", 3)
	e.idle(t)
	hooks := e.sb.Webhooks()
	if len(hooks) != 3 || hooks[0].Attempts != 3 || hooks[0].Err != "" || hooks[1].Attempts != 1 {
		t.Errorf("webhooks %+v", hooks)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	ft := &flakyTransport{}
	ft.left.Store(100)
	e := newEnv(t, func(c *Config) { c.HTTPClient = &http.Client{Transport: ft}; c.WebhookAttempts = 2 })
	if _, err := e.api.Api.CreateMessage(sms("+447700900004", "hi").SetStatusCallback("/twilio/status")); err != nil {
		t.Fatal(err)
	}
	e.idle(t)
	hooks := e.sb.Webhooks()
	if len(hooks) != 3 {
		t.Fatalf("got %d webhooks", len(hooks))
	}
	for _, h := range hooks {
		if h.Attempts != 2 || h.Err == "" || h.StatusCode != 0 {
			t.Errorf("webhook %+v", h)
		}
	}
	if m := e.sb.Messages()[0]; m.Status != "delivered" {
		t.Errorf("a failed callback must not stop delivery: %+v", m)
	}
}

func TestConcurrentLoad(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Workers = 4 })
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := fmt.Sprintf("+447700900%03d", (i*10)%900+4) // silent personas
			_, err := e.api.Api.CreateMessage(sms(to, "hello").SetStatusCallback("/twilio/status"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	e.waitHooks(t, "/twilio/status", 3*n)
	e.idle(t)
	if got := len(e.app.hooksAt("/twilio/status")); got != 3*n {
		t.Errorf("got %d callbacks, want %d", got, 3*n)
	}
	for _, m := range e.sb.Messages() {
		if m.Status != "delivered" {
			t.Fatalf("message %s is %s", m.SID, m.Status)
		}
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		e := newEnv(t, func(c *Config) { c.CallbackDelay = time.Hour })
		if _, err := e.api.Api.CreateMessage(sms("+447700900000", "hi")); err != nil {
			t.Fatal(err)
		}
		e.sb.Close()
	}()
	deadline := time.Now().Add(3 * time.Second)
	for {
		// httptest servers are closed by Cleanup later; allow their goroutines.
		if runtime.NumGoroutine() <= before+8 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: before %d, after %d\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWaitForTimesOut(t *testing.T) {
	e := newEnv(t, nil)
	ctx := waitCtx(t)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err := e.sb.WaitFor(short, func() bool { return false })
	if !errors.Is(err, errTimeout) {
		t.Errorf("err = %v", err)
	}
}

func TestDefaultPersonaTable(t *testing.T) {
	tests := []struct {
		number      string
		label       string
		createError int
		delivery    int
		answer      string
	}{
		{"+447700900000", "fine", 0, 0, ""},
		{"+447700900101", "needs help", 0, 0, ""},
		{"+447700900202", "free text", 0, 0, ""},
		{"+447700900303", "late", 0, 0, AnswerMachine},
		{"+447700900404", "silent", 0, 0, AnswerNoAnswer},
		{"+447700900505", "stop", 0, 0, AnswerBusy},
		{"+447700900606", "landline", 0, 30006, ""},
		{"+447700900707", "unreachable", 0, 30003, AnswerNoAnswer},
		{"+447700900808", "invalid", 21211, 0, ""},
		{"+447700900909", "not a mobile", 21614, 0, ""},
		{"+447700900990", "unsubscribed", 21610, 0, ""},
		{"+447700900991", "unknown handset", 0, 30005, AnswerNoAnswer},
		{"+447700900992", "failed", 0, 30003, AnswerFailed},
		{"+447700900993", "fax", 0, 0, AnswerFax},
		{"+447700900994", "hangs up", 0, 0, ""},
		{"+447700900995", "confused then fine", 0, 0, ""},
		{"+447700900996", "landline", 0, 30006, ""},
		{"+441603000000", "unknown: silent", 0, 0, ""},
		{"07700900000", "invalid", 21211, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			p := DefaultPersona(tt.number)
			if p.Label != tt.label || p.CreateError != tt.createError || p.DeliveryError != tt.delivery || p.Voice.Answer != tt.answer {
				t.Errorf("DefaultPersona = %+v", p)
			}
		})
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
	}{
		{"empty", "", 1},
		{"160 GSM", strings.Repeat("a", 160), 1},
		{"161 GSM", strings.Repeat("a", 161), 2},
		{"306 GSM", strings.Repeat("a", 306), 2},
		{"307 GSM", strings.Repeat("a", 307), 3},
		{"extension chars count double", strings.Repeat("€", 80), 1},
		{"81 euro signs", strings.Repeat("€", 81), 2},
		{"70 UCS-2", strings.Repeat("é", 60) + strings.Repeat("ł", 10), 1},
		{"71 UCS-2", strings.Repeat("ł", 71), 2},
		{"emoji are two units", strings.Repeat("😀", 35), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := segments(tt.body); got != tt.want {
				t.Errorf("segments = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestMessageSegmentsInResource(t *testing.T) {
	e := newEnv(t, nil)
	m, err := e.api.Api.CreateMessage((&api.CreateMessageParams{}).SetTo("+447700900004").SetFrom("NHSProtect").SetBody(strings.Repeat("x", 200)))
	if err != nil {
		t.Fatal(err)
	}
	if *m.NumSegments != "2" || *m.From != "NHSProtect" {
		t.Errorf("num_segments %s from %s", *m.NumSegments, *m.From)
	}
}
