package twilioapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/twilio/twilio-go/client"
)

// Twilio error codes that Protect reacts to.
const (
	CodeAuthenticate    = 20003 // the account SID or auth token is wrong
	CodeAccountInactive = 20005 // the account is suspended or closed
	CodeInvalidTo       = 21211 // 'To' number is not a valid phone number
	CodeNotMobile       = 21614 // 'To' number is not a valid mobile number
	CodeUnsubscribed    = 21610 // recipient replied STOP
	CodeTooManyRequests = 20429 // rate limited
	CodeUnreachable     = 30003 // unreachable destination handset
	CodeUnknownHandset  = 30005 // unknown destination handset
	CodeLandline        = 30006 // landline or unreachable carrier
)

// ErrorCode extracts the Twilio error code and HTTP status from an error
// returned by twilio-go (*client.TwilioRestError, or *client.RestErrorV1 for
// the newer APIs), looking through wrapping. ok is false for any other
// error, such as a network failure.
func ErrorCode(err error) (code int, status int, ok bool) {
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		return rest.Code, rest.Status, true
	}
	var v1 *client.RestErrorV1
	if errors.As(err, &v1) {
		return v1.Code, v1.HttpStatusCode, true
	}
	return 0, 0, false
}

// Temporary reports whether err may succeed if the request is retried
// later: HTTP 429 and 5xx from the API, Twilio's rate-limit code, time-outs
// and network errors. Twilio validation errors (4xx) and configuration
// errors are permanent.
//
// A time-out on a create request is temporary but ambiguous: the message or
// call may have been created. Retries must be made idempotent by the caller.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	if code, status, ok := ErrorCode(err); ok {
		return status == http.StatusTooManyRequests || status >= 500 || code == CodeTooManyRequests
	}
	if errors.Is(err, ErrBadBaseURL) || errors.Is(err, ErrTestNumber) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &opErr) || errors.As(err, &dnsErr)
}

// AccountLevel reports whether err is about the account rather than the
// message or call: wrong credentials (20003, HTTP 401) or an account that
// is not active (20005). Every request will fail the same way until
// someone fixes it, so it must stop sending, not fail the patient.
func AccountLevel(err error) bool {
	code, status, ok := ErrorCode(err)
	if !ok {
		return false
	}
	return code == CodeAuthenticate || code == CodeAccountInactive || status == http.StatusUnauthorized
}

// AccountLevelCode reports whether a Twilio error code is about the
// account (AccountLevel's codes), for a code stored without its error.
func AccountLevelCode(code int) bool {
	return code == CodeAuthenticate || code == CodeAccountInactive
}
