// Package opsalert tells the duty team about faults of the gateway itself,
// such as a sender held because Twilio refuses the account or fails try
// after try, and about their end. It posts to an operations webhook that
// does not depend on Twilio (a Slack or Teams incoming webhook, a pager),
// so the alert arrives even when the Twilio account is what is broken,
// and may also text the duty team. Alerts carry no personal data.
package opsalert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/redact"
)

// Events.
const (
	SenderHeld    = "sender.held"
	SenderResumed = "sender.resumed"
)

// Defaults of Options.
const (
	DefaultTries   = 10
	DefaultBackoff = 2 * time.Second
	maxBackoff     = 5 * time.Minute
)

// Event is what the operations webhook receives as JSON. Text is a
// sentence for people (the field Slack and Teams incoming webhooks show);
// the rest is for machines.
type Event struct {
	Text  string `json:"text"`
	Event string `json:"event"`
	// Sender is the held number or messaging service SID: the
	// organisation's, never a patient's.
	Sender string `json:"sender"`
	// Code is Twilio's error code, when Twilio gave one.
	Code int `json:"code,omitempty"`
	// Reason says why the sender was held, scrubbed of number-like runs.
	Reason string `json:"reason"`
	// AccountLevel is set when Twilio refused the account itself (wrong
	// credentials, a suspended account): every sender is affected.
	AccountLevel bool      `json:"account_level"`
	HeldSince    time.Time `json:"held_since"`
	// At is when the event happened.
	At time.Time `json:"at"`
}

// Options build a Notifier.
type Options struct {
	// WebhookURL receives each event as a JSON POST; empty: no webhook.
	WebhookURL string
	// HTTPClient posts it; default: a 10 second timeout, no redirects.
	HTTPClient *http.Client
	// SMS texts an event to the duty team; nil: no SMS. Its failures are
	// logged and not tried again (the webhook is the channel that does
	// not depend on Twilio).
	SMS    func(context.Context, Event) error
	Logger *slog.Logger
	// Tries bounds the webhook deliveries of one event (DefaultTries);
	// Backoff is the wait after the first failure (DefaultBackoff),
	// doubled after each, up to five minutes.
	Tries   int
	Backoff time.Duration
}

// Notifier delivers events in the background: Alert never blocks the
// caller, and a failed webhook delivery is tried again with backoff.
type Notifier struct {
	o      Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds a Notifier.
func New(o Options) *Notifier {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Tries <= 0 {
		o.Tries = DefaultTries
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{o: o, ctx: ctx, cancel: cancel}
}

// Alert sends ev to the webhook and the duty team's phones in the
// background. The reason is scrubbed of number-like runs and the text
// written from the event when empty.
func (n *Notifier) Alert(_ context.Context, ev Event) {
	ev.Reason = clip.Text(redact.Scrub(ev.Reason), 300)
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	ev.At, ev.HeldSince = ev.At.UTC(), ev.HeldSince.UTC()
	if ev.Text == "" {
		ev.Text = Text(ev)
	}
	if n.o.WebhookURL != "" {
		n.wg.Go(func() { n.deliver(ev) })
	}
	if n.o.SMS != nil {
		n.wg.Go(func() {
			if err := n.o.SMS(n.ctx, ev); err != nil {
				n.o.Logger.Error("operations alert SMS not sent", "event", ev.Event, "sender", ev.Sender, "error", err)
			}
		})
	}
	if n.o.WebhookURL == "" && n.o.SMS == nil {
		n.o.Logger.Warn("operations alert has nowhere to go (set PROTECT_OPS_WEBHOOK_URL)", "event", ev.Event, "sender", ev.Sender)
	}
}

// Close stops deliveries still waiting to be tried again and waits for
// those in flight.
func (n *Notifier) Close() {
	if n == nil {
		return
	}
	n.cancel()
	n.wg.Wait()
}

// Wait waits for every delivery started so far to succeed or give up.
func (n *Notifier) Wait() { n.wg.Wait() }

// deliver posts ev until the webhook takes it, the tries run out or the
// notifier closes.
func (n *Notifier) deliver(ev Event) {
	body, err := json.Marshal(ev)
	if err != nil {
		n.o.Logger.Error("operations alert not encoded", "event", ev.Event, "error", err)
		return
	}
	wait := n.o.Backoff
	for try := 1; ; try++ {
		err := n.post(body)
		if err == nil {
			n.o.Logger.Info("operations alert delivered", "event", ev.Event, "sender", ev.Sender, "tries", try)
			return
		}
		final := try >= n.o.Tries
		n.o.Logger.Error("operations alert not delivered", "event", ev.Event, "sender", ev.Sender, "tries", try,
			"final", final, "error", err)
		if final {
			return
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, maxBackoff)
	}
}

func (n *Notifier) post(body []byte) error {
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.o.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("operations webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Protect-Ops/1")
	resp, err := n.o.HTTPClient.Do(req)
	if err != nil {
		// The URL may hold a token (incoming webhooks do): name only the
		// failure.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("operations webhook: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("operations webhook answered %s", resp.Status)
	}
	return nil
}

// Text is the sentence people read for an event.
func Text(ev Event) string {
	what := "Twilio fails this sender's requests (rate limited, failing or unreachable)"
	if ev.AccountLevel {
		what = "Twilio refuses the account (check the credentials and that the account is active)"
	}
	if ev.Code != 0 {
		what += fmt.Sprintf(", error %d", ev.Code)
	}
	since := ev.HeldSince.UTC().Format("15:04 UTC on 2 Jan")
	switch ev.Event {
	case SenderHeld:
		return fmt.Sprintf("Protect: sending from %s is HELD since %s: %s. No patient is failed or moved on; "+
			"sending resumes by itself once Twilio answers again.", ev.Sender, since, what)
	case SenderResumed:
		return fmt.Sprintf("Protect: sending from %s has RESUMED after %s (held since %s). "+
			"The attempts put back are being sent.", ev.Sender, ev.At.Sub(ev.HeldSince).Round(time.Second), since)
	}
	return fmt.Sprintf("Protect: %s for %s", ev.Event, ev.Sender)
}
