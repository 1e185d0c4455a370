package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/protectnow/protect/twilioapi"
)

// Webhook kinds recorded in Webhook.Kind.
const (
	KindMessageStatus = "message-status" // message status callback
	KindInboundSMS    = "inbound-sms"    // a persona's SMS reply
	KindVoice         = "voice"          // TwiML fetch for a call (Url, actions, redirects)
	KindCallStatus    = "call-status"    // call status callback
)

// Webhook is one request the sandbox made to the application.
type Webhook struct {
	Kind       string
	Method     string
	URL        string // as signed; for GET it includes the parameters
	Params     url.Values
	Signature  string
	Idempotent string // I-Twilio-Idempotency-Token
	StatusCode int    // 0 when no response arrived
	Err        string
	Attempts   int
	Duplicate  bool
	At         time.Time
}

const maxWebhookBody = 1 << 20

// send signs and sends one webhook, retrying connection failures, records
// it, and returns the response status and body.
func (s *Server) send(ctx context.Context, kind, method, target string, params url.Values) (int, []byte, error) {
	if method == "" {
		method = http.MethodPost
	}
	method = strings.ToUpper(method)
	full := target
	if method == http.MethodGet && len(params) > 0 {
		u, err := url.Parse(target)
		if err != nil {
			return 0, nil, fmt.Errorf("webhook URL: %w", err)
		}
		q := u.Query()
		for k, vs := range params {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
		full = u.String()
	}
	var sig string
	if method == http.MethodGet {
		sig = twilioapi.Sign(s.cfg.AuthToken, full, nil)
	} else {
		sig = twilioapi.Sign(s.cfg.AuthToken, full, params)
	}
	token := newIdempotencyToken()
	status, body, attempts, err := s.attempt(ctx, method, full, params, sig, token)
	s.recordWebhook(Webhook{Kind: kind, Method: method, URL: full, Params: params, Signature: sig,
		Idempotent: token, StatusCode: status, Err: errString(err), Attempts: attempts, At: time.Now()})
	if err == nil && s.duplicateNow() {
		st, _, n, derr := s.attempt(ctx, method, full, params, sig, token)
		s.recordWebhook(Webhook{Kind: kind, Method: method, URL: full, Params: params, Signature: sig,
			Idempotent: token, StatusCode: st, Err: errString(derr), Attempts: n, Duplicate: true, At: time.Now()})
	}
	if err == nil && (status < 200 || status > 299) {
		err = fmt.Errorf("webhook %s answered %d", kind, status)
	}
	return status, body, err
}

func (s *Server) attempt(ctx context.Context, method, full string, params url.Values, sig, token string) (int, []byte, int, error) {
	var lastErr error
	for i := 1; i <= s.cfg.WebhookAttempts; i++ {
		status, body, err := s.once(ctx, method, full, params, sig, token)
		if err == nil {
			return status, body, i, nil
		}
		lastErr = err
		if i == s.cfg.WebhookAttempts {
			break
		}
		select {
		case <-time.After(time.Duration(i) * 100 * time.Millisecond):
		case <-ctx.Done():
			return 0, nil, i, errors.Join(lastErr, ctx.Err())
		}
	}
	return 0, nil, s.cfg.WebhookAttempts, lastErr
}

func (s *Server) once(ctx context.Context, method, full string, params url.Values, sig, token string) (int, []byte, error) {
	// An in-flight webhook is allowed to finish when the sandbox closes.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.WebhookTimeout)
	defer cancel()
	var body io.Reader
	if method != http.MethodGet {
		body = strings.NewReader(params.Encode())
	}
	req, err := http.NewRequestWithContext(rctx, method, full, body)
	if err != nil {
		return 0, nil, fmt.Errorf("webhook request: %w", err)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Twilio-Signature", sig)
	req.Header.Set("I-Twilio-Idempotency-Token", token)
	req.Header.Set("User-Agent", "TwilioProxy/1.1 (protect sandbox)")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("webhook %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookBody))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("webhook response: %w", err)
	}
	return resp.StatusCode, data, nil
}

func (s *Server) duplicateNow() bool {
	if s.cfg.DuplicateEvery <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookCount++
	return s.webhookCount%s.cfg.DuplicateEvery == 0
}

func (s *Server) recordWebhook(w Webhook) {
	s.mu.Lock()
	s.webhooks = append(s.webhooks, w)
	s.changedLocked()
	s.mu.Unlock()
	level := "ok"
	if w.Err != "" {
		level = w.Err
	}
	s.log.Debug("sandbox webhook", "kind", w.Kind, "status", w.StatusCode, "attempts", w.Attempts, "duplicate", w.Duplicate, "result", level)
}

// resolve makes a possibly relative callback URL absolute against base, or
// against Config.PublicBaseURL.
func (s *Server) resolve(base, ref string) (string, error) {
	if ref == "" {
		return "", errors.New("empty URL")
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", ref, err)
	}
	if r.IsAbs() {
		return r.String(), nil
	}
	if base == "" {
		base = s.cfg.PublicBaseURL
	}
	if base == "" {
		return "", fmt.Errorf("relative URL %q and no base URL", ref)
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parse base %q: %w", base, err)
	}
	return b.ResolveReference(r).String(), nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
