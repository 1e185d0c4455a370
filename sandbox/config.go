package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// Config configures a Server. Only AccountSID and AuthToken are required.
type Config struct {
	// AccountSID and AuthToken are the credentials clients must present
	// (HTTP Basic auth) and the token that signs every webhook. twilio-go
	// only sends alphanumeric credentials.
	AccountSID string
	AuthToken  string

	// InboundSMSURL receives the simulated patients' SMS replies, like the
	// messaging webhook of a Twilio number. Empty: replies are recorded but
	// not posted.
	InboundSMSURL string

	// PublicBaseURL, when set, resolves StatusCallback, Url and action URLs
	// given as relative paths ("/twilio/status"). Twilio itself requires
	// absolute URLs.
	PublicBaseURL string

	// CallbackDelay is the simulated time between two status changes of a
	// message, and the ring time before a call is answered. Default 200ms.
	CallbackDelay time.Duration
	// ReplyDelay is how long a persona takes to reply to a delivered
	// message. Default 1s. "Late" personas take LateReplyFactor times longer.
	ReplyDelay time.Duration
	// LateReplyFactor multiplies ReplyDelay for late repliers. Default 10.
	LateReplyFactor int

	// Workers bounds the webhooks in flight at once. Default 8.
	Workers int
	// WebhookTimeout bounds one webhook request. Default 10s.
	WebhookTimeout time.Duration
	// WebhookAttempts is how many times a webhook is tried when the
	// connection fails (not on an HTTP error status). Default 3.
	WebhookAttempts int
	// DuplicateEvery, when > 0, delivers every Nth webhook twice with the
	// same I-Twilio-Idempotency-Token, as Twilio sometimes does.
	DuplicateEvery int

	// MaxTwiMLFetches bounds the TwiML documents fetched for one call
	// (initial Url, Gather and Dial actions, Redirects). Default 25.
	MaxTwiMLFetches int
	// DialCallStatus is the DialCallStatus reported after a <Dial>, unless
	// the persona says otherwise. Default "completed".
	DialCallStatus string

	// ServiceSenders maps a MessagingServiceSid to the number it sends
	// from. Services not listed send from DefaultServiceSender.
	ServiceSenders map[string]string

	// Personas are the simulated patients known in advance; SetPersona adds
	// more at run time.
	Personas []Persona
	// DefaultPersona gives the behaviour of a number that has no persona.
	// Nil: the package's DefaultPersona (see the package documentation).
	// It is called with the Server's lock held and must not call the Server.
	DefaultPersona func(number string) Persona

	// HTTPClient sends webhooks. Nil: a client that does not follow
	// redirects, with WebhookTimeout.
	HTTPClient *http.Client
	// Logger receives the sandbox's logs. Nil: slog.Default(). Phone
	// numbers are always redacted.
	Logger *slog.Logger
}

// DefaultServiceSender is the sender of messages created with a
// MessagingServiceSid that is not in Config.ServiceSenders (one of
// Twilio's magic test numbers).
const DefaultServiceSender = "+15005550006"

var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

func (c Config) withDefaults() (Config, error) {
	if c.AccountSID == "" || c.AuthToken == "" {
		return c, errors.New("sandbox: AccountSID and AuthToken are required")
	}
	if !alnum.MatchString(c.AccountSID) || !alnum.MatchString(c.AuthToken) {
		return c, errors.New("sandbox: AccountSID and AuthToken must be alphanumeric (twilio-go refuses anything else)")
	}
	for _, raw := range []string{c.InboundSMSURL, c.PublicBaseURL} {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || u.Scheme == "" || u.Host == "" {
			return c, fmt.Errorf("sandbox: %q is not an absolute URL", raw)
		}
	}
	if c.CallbackDelay <= 0 {
		c.CallbackDelay = 200 * time.Millisecond
	}
	if c.ReplyDelay <= 0 {
		c.ReplyDelay = time.Second
	}
	if c.LateReplyFactor <= 0 {
		c.LateReplyFactor = 10
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.WebhookTimeout <= 0 {
		c.WebhookTimeout = 10 * time.Second
	}
	if c.WebhookAttempts <= 0 {
		c.WebhookAttempts = 3
	}
	if c.MaxTwiMLFetches <= 0 {
		c.MaxTwiMLFetches = 25
	}
	if c.DialCallStatus == "" {
		c.DialCallStatus = "completed"
	}
	if c.DefaultPersona == nil {
		c.DefaultPersona = DefaultPersona
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{
			Timeout: c.WebhookTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	return c, nil
}
