package twilioapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ErrBadBaseURL is wrapped by CheckBaseURL, and by every request sent through
// a client built with an invalid API base URL.
var ErrBadBaseURL = errors.New("twilioapi: invalid API base URL")

// maxErrorBody bounds how much of an error response is kept in memory.
const maxErrorBody = 1 << 20

// CheckBaseURL reports whether apiBaseURL can be used as the API base URL:
// empty (Twilio itself) or an absolute http(s) URL with a host and no query
// or fragment.
func CheckBaseURL(apiBaseURL string) error {
	_, err := parseBaseURL(apiBaseURL)
	return err
}

func parseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadBaseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme must be http or https, got %q", ErrBadBaseURL, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: no host in %q", ErrBadBaseURL, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w: must not carry a query, fragment or user info", ErrBadBaseURL)
	}
	return u, nil
}

// rewriteTransport sends requests for *.twilio.com to base, and makes error
// responses safe for twilio-go (see RoundTrip).
type rewriteTransport struct {
	next http.RoundTripper
	base *url.URL // nil: leave hosts alone
	err  error    // configuration error returned by every request
	// refuseTest refuses requests to drama numbers (RefuseTestNumbers).
	refuseTest bool
	logger     *slog.Logger
}

func newRewriteTransport(next http.RoundTripper, apiBaseURL string) *rewriteTransport {
	base, err := parseBaseURL(apiBaseURL)
	return &rewriteTransport{next: next, base: base, err: err}
}

func isTwilioHost(u *url.URL) bool {
	h := strings.ToLower(u.Hostname())
	return h == "twilio.com" || strings.HasSuffix(h, ".twilio.com")
}

// RoundTrip rewrites the request's URL when it is for a Twilio host, then
// makes two adjustments to error responses (status >= 400) for twilio-go:
// the body is read into memory so the connection returns to the pool
// (twilio-go never closes error bodies), and a body that is not Twilio's
// JSON error shape (an HTML page from a proxy, say) is replaced by one, so
// that the caller still receives a *client.TwilioRestError with the status.
func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, t.err
	}
	if t.refuseTest {
		var err error
		if req, err = t.refused(req); err != nil {
			return nil, err
		}
	}
	if t.base != nil && isTwilioHost(req.URL) {
		req = t.rewrite(req)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	return normalizeError(resp)
}

func (t *rewriteTransport) rewrite(req *http.Request) *http.Request {
	out := req.Clone(req.Context())
	u := *req.URL
	u.Scheme = t.base.Scheme
	u.Host = t.base.Host
	if prefix := strings.TrimSuffix(t.base.Path, "/"); prefix != "" {
		u.Path = prefix + req.URL.Path
		u.RawPath = strings.TrimSuffix(t.base.EscapedPath(), "/") + req.URL.EscapedPath()
	}
	out.URL = &u
	out.Host = ""
	return out
}

func normalizeError(resp *http.Response) (*http.Response, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("twilioapi: reading %d response: %w", resp.StatusCode, err)
	}
	var shape map[string]json.RawMessage
	if json.Unmarshal(body, &shape) != nil || (shape["code"] == nil && shape["status"] == nil) {
		body, _ = json.Marshal(map[string]any{
			"code":      0,
			"message":   http.StatusText(resp.StatusCode),
			"more_info": "",
			"status":    resp.StatusCode,
		})
		resp.Header.Set("Content-Type", "application/json")
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp, nil
}
