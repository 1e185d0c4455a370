// Package outreach runs campaigns: it plans a cohort into attempts, sends
// them through Twilio at the campaign's pace and inside its calling window,
// understands the replies through the questionnaire engine, and makes sure
// every patient ends with exactly one outcome: fine, need reported, opted
// out, or unreachable.
package outreach

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/protectnow/protect/window"
)

// Channels an attempt can use.
const (
	SMS   = "sms"
	Voice = "voice"
)

// Duration is a time.Duration written as "48h" or "90m" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as Go's duration text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "48h", "30m" or "1h30m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: expected a string such as \"48h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: expected a form such as 48h or 90m", s)
	}
	*d = Duration(v)
	return nil
}

// PolicyStep is one attempt of the policy: which channel, and how long to
// wait for an answer before the next step.
type PolicyStep struct {
	Channel string   `json:"channel"`
	Wait    Duration `json:"wait"`
}

// Policy says how a campaign tries to reach each patient.
type Policy struct {
	Steps []PolicyStep `json:"steps"`
	// ConversationTimeout is how long a patient who started answering may
	// go quiet before a person is asked to follow up.
	ConversationTimeout Duration `json:"conversation_timeout"`
	// HoldOffDays holds off patients another team contacted (the contact
	// ledger) in the last N days: their first attempt waits until N days
	// after that contact, and any attempt about to go out is put back the
	// same way when a team contacted them since planning. 0 turns it off.
	HoldOffDays int `json:"hold_off_days,omitempty"`
	// RingTimeout is how long a call rings before it counts as not
	// answered; default DefaultRingTimeout.
	RingTimeout Duration `json:"ring_timeout,omitempty"`
	// CallTimeLimit ends a call that runs longer; default
	// DefaultCallTimeLimit.
	CallTimeLimit Duration `json:"call_time_limit,omitempty"`
	// CallRetryAfter is how long after an unanswered call (busy, no
	// answer, a voicemail) the next step is due; default
	// DefaultCallRetryAfter.
	CallRetryAfter Duration `json:"call_retry_after,omitempty"`
}

// Call defaults used when a policy leaves them out.
const (
	DefaultRingTimeout    = 30 * time.Second
	DefaultCallTimeLimit  = 10 * time.Minute
	DefaultCallRetryAfter = 2 * time.Hour
)

// HoldOffSince is the earliest team contact that still holds a patient off
// at now; zero when the policy has no hold-off.
func (p Policy) HoldOffSince(now time.Time) time.Time {
	if p.HoldOffDays <= 0 {
		return time.Time{}
	}
	return now.AddDate(0, 0, -p.HoldOffDays)
}

// HoldOffUntil is when a patient a team contacted at contactedAt may be
// contacted: the first opening of the window HoldOffDays after it.
func (p Policy) HoldOffUntil(w window.Window, contactedAt time.Time) time.Time {
	return w.NextOpen(contactedAt.AddDate(0, 0, p.HoldOffDays))
}

// Ring is the policy's ring timeout.
func (p Policy) Ring() time.Duration { return orDefault(p.RingTimeout, DefaultRingTimeout) }

// TimeLimit is the policy's maximum call length.
func (p Policy) TimeLimit() time.Duration { return orDefault(p.CallTimeLimit, DefaultCallTimeLimit) }

// RetryAfter is how long after an unanswered call the next step is due.
func (p Policy) RetryAfter() time.Duration { return orDefault(p.CallRetryAfter, DefaultCallRetryAfter) }

func orDefault(d Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// DefaultPolicy texts twice, two days apart, then calls once when voice
// calls are available.
func DefaultPolicy(voice bool) Policy {
	p := Policy{
		Steps: []PolicyStep{
			{Channel: SMS, Wait: Duration(48 * time.Hour)},
			{Channel: SMS, Wait: Duration(48 * time.Hour)},
		},
		ConversationTimeout: Duration(24 * time.Hour),
	}
	if voice {
		p.Steps = append(p.Steps, PolicyStep{Channel: Voice, Wait: Duration(24 * time.Hour)})
	}
	return p
}

// ParsePolicy reads and checks a policy.
func ParsePolicy(b []byte, voice bool) (Policy, error) {
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("policy: %w", err)
	}
	return p, p.Validate(voice)
}

// policyCache keeps policies parsed: every reply and send reads its
// campaign's policy, and a campaign has one.
type policyCache struct {
	mu sync.Mutex
	m  map[string]Policy
}

// policy parses a stored campaign policy (voice allowed), from the cache
// when it has been seen before.
func (e *Engine) policy(b []byte) (Policy, error) {
	c := &e.policies
	c.mu.Lock()
	p, ok := c.m[string(b)]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := ParsePolicy(b, true)
	if err != nil {
		return p, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= 1000 {
		c.m = map[string]Policy{}
	}
	c.m[string(b)] = p
	c.mu.Unlock()
	return p, nil
}

// Validate checks the policy; voice says whether calls can be placed.
func (p Policy) Validate(voice bool) error {
	var errs []error
	if len(p.Steps) == 0 {
		errs = append(errs, errors.New("policy: at least one step is needed"))
	}
	if len(p.Steps) > 10 {
		errs = append(errs, errors.New("policy: at most 10 steps"))
	}
	for i, s := range p.Steps {
		switch s.Channel {
		case SMS:
		case Voice:
			if !voice {
				errs = append(errs, fmt.Errorf("policy step %d: voice calls are not available", i+1))
			}
		default:
			errs = append(errs, fmt.Errorf("policy step %d: channel must be sms or voice, got %q", i+1, s.Channel))
		}
		if time.Duration(s.Wait) < time.Minute || time.Duration(s.Wait) > 30*24*time.Hour {
			errs = append(errs, fmt.Errorf("policy step %d: wait must be between 1m and 720h", i+1))
		}
	}
	if t := time.Duration(p.ConversationTimeout); t < time.Minute || t > 30*24*time.Hour {
		errs = append(errs, errors.New("policy: conversation_timeout must be between 1m and 720h"))
	}
	if p.HoldOffDays < 0 || p.HoldOffDays > 365 {
		errs = append(errs, errors.New("policy: hold_off_days must be between 0 and 365"))
	}
	for _, b := range []struct {
		name     string
		v        Duration
		min, max time.Duration
	}{
		{"ring_timeout", p.RingTimeout, 5 * time.Second, 2 * time.Minute},
		{"call_time_limit", p.CallTimeLimit, time.Minute, 4 * time.Hour},
		{"call_retry_after", p.CallRetryAfter, time.Minute, 30 * 24 * time.Hour},
	} {
		if t := time.Duration(b.v); t != 0 && (t < b.min || t > b.max) {
			errs = append(errs, fmt.Errorf("policy: %s must be between %s and %s", b.name, b.min, b.max))
		}
	}
	return errors.Join(errs...)
}

// Contact is what a patient can be reached on.
type Contact struct {
	Mobile, MobileKind     string
	Landline, LandlineKind string
	Preferred              string
}

// SMSNumber is the number texts go to: a number that really is a mobile.
func (c Contact) SMSNumber() string {
	switch {
	case c.Mobile != "" && c.MobileKind == "mobile":
		return c.Mobile
	case c.Landline != "" && c.LandlineKind == "mobile":
		return c.Landline
	}
	return ""
}

// VoiceNumber is the number calls go to: a landline first (people who only
// have a landline are the reason calls exist), else the mobile.
func (c Contact) VoiceNumber() string {
	switch {
	case c.Landline != "" && c.LandlineKind == "landline":
		return c.Landline
	case c.Mobile != "" && c.MobileKind == "landline":
		return c.Mobile
	case c.Mobile != "":
		return c.Mobile
	}
	return c.Landline
}

// NextStep finds the first step after step (1-based; 0 for the start) that
// can reach the patient, skipping steps whose channel the patient has no
// number for, SMS steps for those who prefer calls, and any (channel,
// number) that skip refuses (a number that failed). ok is false when the
// policy is exhausted.
func (p Policy) NextStep(after int, c Contact, skip func(channel, to string) bool) (step int, channel, to string, ok bool) {
	for i := after; i < len(p.Steps); i++ {
		ch := p.Steps[i].Channel
		var n string
		switch ch {
		case SMS:
			if c.Preferred == Voice && c.VoiceNumber() != "" && p.hasVoice() {
				continue
			}
			n = c.SMSNumber()
		case Voice:
			n = c.VoiceNumber()
		}
		if n == "" || (skip != nil && skip(ch, n)) {
			continue
		}
		return i + 1, ch, n, true
	}
	return 0, "", "", false
}

func (p Policy) hasVoice() bool {
	for _, s := range p.Steps {
		if s.Channel == Voice {
			return true
		}
	}
	return false
}

// Wait is how long step (1-based) waits for an answer.
func (p Policy) Wait(step int) time.Duration {
	if step < 1 || step > len(p.Steps) {
		return 48 * time.Hour
	}
	return time.Duration(p.Steps[step-1].Wait)
}
