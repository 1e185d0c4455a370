package twilioapi

import (
	"net"
	"net/http"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
)

// Timeouts and pool sizes of the HTTP client built by NewHTTPClient.
// Twilio answers a create in well under a second; the pool keeps enough idle
// connections to one host for a few hundred requests per second.
const (
	RequestTimeout        = 15 * time.Second
	DialTimeout           = 5 * time.Second
	TLSHandshakeTimeout   = 5 * time.Second
	ResponseHeaderTimeout = 15 * time.Second
	IdleConnTimeout       = 90 * time.Second
	MaxIdleConns          = 512
	MaxIdleConnsPerHost   = 256
)

// New returns a twilio-go REST client authenticated with accountSID and
// authToken. When apiBaseURL is empty the client talks to Twilio itself;
// otherwise every request for a *.twilio.com host is sent to apiBaseURL
// (scheme, host and optional path prefix) with its path and query kept.
//
// An invalid apiBaseURL does not panic: every request then fails with an
// error that wraps ErrBadBaseURL. Use CheckBaseURL to validate configuration
// at start-up. Options (RefuseTestNumbers) apply to every request.
func New(accountSID, authToken, apiBaseURL string, opts ...Option) *twilio.RestClient {
	c := &client.Client{
		Credentials: client.NewCredentials(accountSID, authToken),
		HTTPClient:  NewHTTPClient(apiBaseURL, opts...),
	}
	c.SetAccountSid(accountSID)
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
	if apiBaseURL != "" {
		// Edge and region only rename the *.twilio.com host, which the
		// transport replaces anyway; clear them so the host stays predictable.
		rc.SetEdge("")
		rc.SetRegion("")
	}
	return rc
}

// NewHTTPClient returns the *http.Client used by New: pooled connections,
// bounded timeouts, redirects returned rather than followed, and the
// *.twilio.com rewrite to apiBaseURL when it is not empty.
func NewHTTPClient(apiBaseURL string, opts ...Option) *http.Client {
	rt := newRewriteTransport(newPooledTransport(), apiBaseURL)
	for _, o := range opts {
		o(rt)
	}
	return &http.Client{
		Transport: rt,
		Timeout:   RequestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func newPooledTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          MaxIdleConns,
		MaxIdleConnsPerHost:   MaxIdleConnsPerHost,
		IdleConnTimeout:       IdleConnTimeout,
		TLSHandshakeTimeout:   TLSHandshakeTimeout,
		ResponseHeaderTimeout: ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
}
