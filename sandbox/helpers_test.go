package sandbox

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go"

	"github.com/protectnow/protect/twilioapi"
)

const (
	testSID    = "AC0123456789abcdef0123456789abcdef"
	testToken  = "f00dbabe0123456789abcdef01234567"
	senderNum  = "+447700900999"
	serviceSID = "MG0123456789abcdef0123456789abcdef"
)

// hook is one webhook the fake application received.
type hook struct {
	Path     string
	URL      string
	Form     url.Values
	SigValid bool
	Token    string
	At       time.Time
}

// fakeApp stands in for the Protect gateway: it records every webhook,
// checks its signature and answers with TwiML from respond.
type fakeApp struct {
	srv     *httptest.Server
	mu      sync.Mutex
	hooks   []hook
	respond func(path string, form url.Values) string
}

func newFakeApp(t *testing.T) *fakeApp {
	t.Helper()
	a := &fakeApp{}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeApp) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	full := a.srv.URL + r.URL.RequestURI()
	form := r.PostForm
	if r.Method == http.MethodGet {
		form = nil
	}
	h := hook{
		Path:     r.URL.Path,
		URL:      full,
		Form:     r.Form,
		SigValid: twilioapi.SignatureValid(testToken, full, form, r.Header.Get("X-Twilio-Signature")),
		Token:    r.Header.Get("I-Twilio-Idempotency-Token"),
		At:       time.Now(),
	}
	a.mu.Lock()
	a.hooks = append(a.hooks, h)
	respond := a.respond
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	if respond != nil {
		io.WriteString(w, respond(r.URL.Path, r.Form))
		return
	}
	io.WriteString(w, "<Response/>")
}

func (a *fakeApp) setRespond(f func(path string, form url.Values) string) {
	a.mu.Lock()
	a.respond = f
	a.mu.Unlock()
}

func (a *fakeApp) hooksAt(path string) []hook {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []hook
	for _, h := range a.hooks {
		if h.Path == path {
			out = append(out, h)
		}
	}
	return out
}

type env struct {
	sb  *Server
	api *twilio.RestClient
	app *fakeApp
	url string
}

// newEnv starts a fake application, a sandbox posting to it and a twilio-go
// client for the sandbox. edit adjusts the sandbox configuration.
func newEnv(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	app := newFakeApp(t)
	cfg := Config{
		AccountSID:    testSID,
		AuthToken:     testToken,
		InboundSMSURL: app.srv.URL + "/twilio/sms",
		PublicBaseURL: app.srv.URL,
		CallbackDelay: 2 * time.Millisecond,
		ReplyDelay:    5 * time.Millisecond,
		Logger:        slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&cfg)
	}
	sb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { sb.Close() })
	return &env{sb: sb, api: twilioapi.New(testSID, testToken, ts.URL), app: app, url: ts.URL}
}

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) waitHooks(t *testing.T, path string, n int) []hook {
	t.Helper()
	ctx := waitCtx(t)
	for len(e.app.hooksAt(path)) < n {
		if err := e.sb.WaitFor(ctx, func() bool { return len(e.app.hooksAt(path)) >= n }); err != nil {
			t.Fatalf("waiting for %d webhooks at %s: got %d: %v", n, path, len(e.app.hooksAt(path)), err)
		}
	}
	return e.app.hooksAt(path)
}

func (e *env) idle(t *testing.T) {
	t.Helper()
	if err := e.sb.WaitIdle(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
}
