package twilioapi

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testAuth  = "0123456789abcdef0123456789abcdef"
	msgSID    = "SM0123456789abcdef0123456789abcdef"
	messageOK = `{"sid":"` + msgSID + `","status":"queued","num_segments":"1"}`
)

type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
	form []url.Values
}

func (s *seen) last() (*http.Request, url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[len(s.reqs)-1], s.form[len(s.form)-1]
}

func fakeAPI(t *testing.T, status int, contentType, body string) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		s.mu.Lock()
		s.reqs = append(s.reqs, r)
		s.form = append(s.form, r.PostForm)
		s.mu.Unlock()
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts, s
}

func TestNewRewritesToBaseURL(t *testing.T) {
	tests := []struct {
		name     string
		prefix   string
		wantPath string
	}{
		{"no prefix", "", "/2010-04-01/Accounts/" + testSID + "/Messages.json"},
		{"prefix", "/twilio", "/twilio/2010-04-01/Accounts/" + testSID + "/Messages.json"},
		{"prefix with slash", "/twilio/", "/twilio/2010-04-01/Accounts/" + testSID + "/Messages.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, got := fakeAPI(t, 201, "application/json", messageOK)
			rc := New(testSID, testAuth, ts.URL+tt.prefix)
			params := (&api.CreateMessageParams{}).SetTo("+447700900123").SetFrom("+447700900999").SetBody("hello")
			m, err := rc.Api.CreateMessage(params)
			if err != nil {
				t.Fatalf("CreateMessage: %v", err)
			}
			if m.Sid == nil || *m.Sid != msgSID {
				t.Fatalf("sid = %v", m.Sid)
			}
			r, form := got.last()
			if r.URL.Path != tt.wantPath {
				t.Errorf("path = %q, want %q", r.URL.Path, tt.wantPath)
			}
			if user, pass, ok := r.BasicAuth(); !ok || user != testSID || pass != testAuth {
				t.Errorf("basic auth = %q %q %v", user, pass, ok)
			}
			if form.Get("To") != "+447700900123" || form.Get("Body") != "hello" {
				t.Errorf("form = %v", form)
			}
		})
	}
}

func TestNewKeepsQuery(t *testing.T) {
	ts, got := fakeAPI(t, 200, "application/json", `{"messages":[],"next_page_uri":null}`)
	rc := New(testSID, testAuth, ts.URL)
	limit := 5
	if _, err := rc.Api.ListMessage((&api.ListMessageParams{}).SetTo("+447700900123").SetPageSize(20).SetLimit(limit)); err != nil {
		t.Fatalf("ListMessage: %v", err)
	}
	r, _ := got.last()
	if r.URL.Query().Get("To") != "+447700900123" || r.URL.Query().Get("PageSize") == "" {
		t.Errorf("query = %q", r.URL.RawQuery)
	}
}

func TestTransportLeavesOtherHosts(t *testing.T) {
	var gotHost string
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		gotHost = r.URL.Host
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}}, nil
	})
	tests := []struct {
		name, base, target, want string
	}{
		{"twilio rewritten", "http://127.0.0.1:9999", "https://api.twilio.com/2010-04-01/x", "127.0.0.1:9999"},
		{"edge host rewritten", "http://127.0.0.1:9999", "https://api.dublin.ie1.twilio.com/x", "127.0.0.1:9999"},
		{"other host kept", "http://127.0.0.1:9999", "https://example.org/x", "example.org"},
		{"lookalike kept", "http://127.0.0.1:9999", "https://nottwilio.com/x", "nottwilio.com"},
		{"empty base keeps twilio", "", "https://api.twilio.com/x", "api.twilio.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := newRewriteTransport(next, tt.base)
			req, _ := http.NewRequest(http.MethodGet, tt.target, nil)
			if _, err := rt.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
			if gotHost != tt.want {
				t.Errorf("host = %q, want %q", gotHost, tt.want)
			}
			if req.URL.String() != tt.target {
				t.Errorf("original request modified: %s", req.URL)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestErrorsSurfaceAsTwilioRestError(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantCode    int
		temporary   bool
	}{
		{"twilio 400", 400, "application/json", `{"code":21211,"message":"bad To","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`, 21211, false},
		{"twilio 429", 429, "application/json", `{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}`, 20429, true},
		{"html 502 from a proxy", 502, "text/html", `<html><body>Bad gateway</body></html>`, 0, true},
		{"empty 503", 503, "text/plain", ``, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, _ := fakeAPI(t, tt.status, tt.contentType, tt.body)
			rc := New(testSID, testAuth, ts.URL)
			_, err := rc.Api.CreateMessage((&api.CreateMessageParams{}).SetTo("+447700900123").SetFrom("+447700900999").SetBody("x"))
			var rest *client.TwilioRestError
			if !errors.As(err, &rest) {
				t.Fatalf("err = %T %v, want *client.TwilioRestError", err, err)
			}
			code, status, ok := ErrorCode(err)
			if !ok || code != tt.wantCode || status != tt.status {
				t.Errorf("ErrorCode = %d %d %v, want %d %d", code, status, ok, tt.wantCode, tt.status)
			}
			if Temporary(err) != tt.temporary {
				t.Errorf("Temporary = %v, want %v", !tt.temporary, tt.temporary)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("redirect was followed")
	}))
	defer target.Close()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer ts.Close()
	resp, err := NewHTTPClient(ts.URL).Get("https://api.twilio.com/2010-04-01/Accounts.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status = %d, want 302", resp.StatusCode)
	}
}

func TestBadBaseURL(t *testing.T) {
	for _, bad := range []string{"ftp://x", "http://", "localhost:8080", "http://h/?q=1", "http://[::1"} {
		if err := CheckBaseURL(bad); !errors.Is(err, ErrBadBaseURL) {
			t.Errorf("CheckBaseURL(%q) = %v", bad, err)
		}
	}
	for _, good := range []string{"", "http://localhost:8080", "https://twilio-proxy.internal/prefix/"} {
		if err := CheckBaseURL(good); err != nil {
			t.Errorf("CheckBaseURL(%q) = %v", good, err)
		}
	}
	rc := New(testSID, testAuth, "ftp://nope")
	_, err := rc.Api.CreateMessage((&api.CreateMessageParams{}).SetTo("+447700900123").SetFrom("+447700900999").SetBody("x"))
	if !errors.Is(err, ErrBadBaseURL) {
		t.Fatalf("err = %v, want ErrBadBaseURL", err)
	}
	if Temporary(err) {
		t.Error("configuration error reported as temporary")
	}
}
