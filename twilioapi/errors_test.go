package twilioapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/twilio/twilio-go/client"
)

func TestErrorCode(t *testing.T) {
	rest := &client.TwilioRestError{Code: 21211, Status: 400, Message: "invalid"}
	tests := []struct {
		name       string
		err        error
		code, stat int
		ok         bool
	}{
		{"nil", nil, 0, 0, false},
		{"rest error", rest, 21211, 400, true},
		{"wrapped rest error", fmt.Errorf("send: %w", rest), 21211, 400, true},
		{"v1 error", &client.RestErrorV1{Code: 20001, HttpStatusCode: 422}, 20001, 422, true},
		{"other", errors.New("boom"), 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, status, ok := ErrorCode(tt.err)
			if code != tt.code || status != tt.stat || ok != tt.ok {
				t.Errorf("ErrorCode = %d, %d, %v; want %d, %d, %v", code, status, ok, tt.code, tt.stat, tt.ok)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTemporary(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"429", &client.TwilioRestError{Code: 20429, Status: 429}, true},
		{"500", &client.TwilioRestError{Code: 20500, Status: 500}, true},
		{"503 from a proxy", &client.TwilioRestError{Code: 0, Status: 503}, true},
		{"invalid number", &client.TwilioRestError{Code: 21211, Status: 400}, false},
		{"unsubscribed", fmt.Errorf("x: %w", &client.TwilioRestError{Code: 21610, Status: 400}), false},
		{"auth", &client.TwilioRestError{Code: 20003, Status: 401}, false},
		{"connection refused", &url.Error{Op: "Post", URL: "u", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, true},
		{"reset", fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"client timeout", &url.Error{Op: "Post", URL: "u", Err: timeoutErr{}}, true},
		{"deadline", context.DeadlineExceeded, true},
		{"canceled", context.Canceled, false},
		{"unexpected EOF", &url.Error{Op: "Post", URL: "u", Err: io.ErrUnexpectedEOF}, true},
		{"dns", &net.DNSError{Err: "no such host", Name: "x"}, true},
		{"bad base URL", &url.Error{Op: "Post", URL: "u", Err: fmt.Errorf("%w: x", ErrBadBaseURL)}, false},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Temporary(tt.err); got != tt.want {
				t.Errorf("Temporary(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"+447700900123": "***123",
		"07700 900 456": "***456",
		"12":            "***",
		"":              "***",
		"NHSNoW":        "***",
	}
	for in, want := range tests {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAccountLevel(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"authenticate", &client.TwilioRestError{Code: 20003, Status: 401}, true},
		{"wrapped authenticate", fmt.Errorf("send: %w", &client.TwilioRestError{Code: 20003, Status: 401}), true},
		{"account suspended", &client.TwilioRestError{Code: 20005, Status: 403}, true},
		{"401 without a code", &client.TwilioRestError{Status: 401}, true},
		{"invalid number", &client.TwilioRestError{Code: 21211, Status: 400}, false},
		{"429", &client.TwilioRestError{Code: 20429, Status: 429}, false},
		{"network", fmt.Errorf("x: %w", syscall.ECONNRESET), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AccountLevel(tt.err); got != tt.want {
				t.Errorf("AccountLevel = %v, want %v", got, tt.want)
			}
		})
	}
}
