package twilioapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/redact"
)

// ErrTestNumber is wrapped by every request a live client refuses because
// it would reach an Ofcom drama number (07700 900000–900999). It is
// permanent: Temporary reports false.
var ErrTestNumber = errors.New("twilioapi: refused to contact an Ofcom drama number (07700 900xxx) through a real provider")

// Option changes a client built by New.
type Option func(*rewriteTransport)

// RefuseTestNumbers makes the client refuse, before anything leaves the
// process, every request whose To is in the 07700 900xxx drama range, and
// log each refusal. The gateway sets it on every client that holds real
// credentials: the demo routing, sample cohorts and the sandbox's personas
// all use that range, and none of them must ever reach a real phone.
func RefuseTestNumbers(logger *slog.Logger) Option {
	if logger == nil {
		logger = slog.Default()
	}
	return func(t *rewriteTransport) { t.refuseTest, t.logger = true, logger }
}

// dramaNumber reports whether a To value is in the drama range, however it
// is written (+447700900123, 447700900123, 07700 900123).
func dramaNumber(to string) bool {
	var digits strings.Builder
	for _, c := range to {
		if c >= '0' && c <= '9' {
			digits.WriteRune(c)
		}
	}
	d := digits.String()
	switch {
	case strings.HasPrefix(d, "44"):
		d = "+" + d
	case strings.HasPrefix(d, "0"):
		d = "+44" + d[1:]
	}
	return phone.IsTestNumber(d)
}

// refused checks a request's To values (form body and query) and returns
// the error to answer with, or nil. A refused request's body is closed;
// an allowed one gets its body back unread.
func (t *rewriteTransport) refused(req *http.Request) (*http.Request, error) {
	tos := req.URL.Query()["To"]
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return req, fmt.Errorf("twilioapi: reading request: %w", err)
		}
		if form, err := url.ParseQuery(string(body)); err == nil {
			tos = append(tos, form["To"]...)
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	for _, to := range tos {
		if dramaNumber(to) {
			t.logger.Error("request to a drama number refused: it would reach a real provider",
				"to", redact.Phone(to), "method", req.Method, "path", req.URL.Path)
			return req, fmt.Errorf("%w: %s", ErrTestNumber, redact.Phone(to))
		}
	}
	return req, nil
}
