package templateadmin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	"golang.org/x/crypto/bcrypt"

	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/redact"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
)

// Test phones: a test message goes only to a number its sender has
// verified on their own account, so the editor cannot be used to text an
// unapproved wording (a phishing text, say) to anyone else.
const (
	// TestPrefix starts every test SMS, so nobody takes it for a real
	// message from the programme.
	TestPrefix = "[TEST] "
	// TestCallIntro is said before the script of a test call.
	TestCallIntro = "This is a test call from Protect, not a call about your health."
	// CodeTTL is how long a verification code may be typed.
	CodeTTL = 10 * time.Minute
	// CodeTries is how many times one code may be tried.
	CodeTries = 5
	// MaxTestPhones is how many test phones one actor may keep.
	MaxTestPhones = 5
	codeDigits    = 6
)

// Errors of the test phones.
var (
	// ErrNotVerified: a test was asked for a number the actor has not
	// verified.
	ErrNotVerified = errors.New("tests go only to phones you have verified: add the number under Test phones and type the code sent to it")
	// ErrCodeWrong: the code typed is not the one sent.
	ErrCodeWrong = errors.New("that code is not right: check the text message and try again")
	// ErrTooManyCodes: too many verification codes sent; try later.
	ErrTooManyCodes = errors.New("too many codes sent: try again in an hour")
)

// PhoneError says why a phone number cannot get a code or a test. It
// matches ErrInvalid (422).
type PhoneError struct{ Msg string }

// Error is the reason, for people.
func (e *PhoneError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *PhoneError) Is(target error) bool { return target == ErrInvalid }

func testPhoneRefused(msg string) error { return &PhoneError{Msg: msg} }

// TestPhones lists the actor's own test phones, verified or not.
func (s *Service) TestPhones(ctx context.Context, a Actor) ([]store.TestPhone, error) {
	if err := s.require(ctx, a, "list test phones", canWrite); err != nil {
		return nil, err
	}
	ps, err := s.o.Store.TestPhones(ctx, a.Name)
	if ps == nil && err == nil {
		ps = []store.TestPhone{}
	}
	return ps, err
}

// AddTestPhone adds a mobile number to the actor's test phones and texts
// it a code of six digits (CodeTTL, CodeTries), stored only as a bcrypt
// hash; asking again sends a new code. A number already verified is
// returned as it is, with no code sent. Codes are rate limited per actor
// (Options.CodesPerHour); drama numbers are refused by a real provider
// (twilioapi.RefuseTestNumbers) and reach only the sandbox.
func (s *Service) AddTestPhone(ctx context.Context, a Actor, raw string) (store.TestPhone, error) {
	if err := s.require(ctx, a, "add test phone", canWrite); err != nil {
		return store.TestPhone{}, err
	}
	if s.o.Twilio == nil || s.o.TestSender == "" {
		return store.TestPhone{}, ErrTestUnavailable
	}
	num, err := s.o.Phones.Parse(raw)
	if err != nil {
		return store.TestPhone{}, testPhoneRefused("phone number: " + err.Error())
	}
	if num.Kind != phone.Mobile {
		return store.TestPhone{}, testPhoneRefused("the code is sent by text message: give a mobile number")
	}
	have, err := s.o.Store.TestPhones(ctx, a.Name)
	if err != nil {
		return store.TestPhone{}, err
	}
	known := false
	for _, p := range have {
		if p.E164 == num.E164 {
			if p.Verified {
				return p, nil
			}
			known = true
		}
	}
	if !known && len(have) >= MaxTestPhones {
		return store.TestPhone{}, testPhoneRefused(fmt.Sprintf("you have %d test phones: remove one first", len(have)))
	}
	if err := s.allow(ctx, "test-phone-code:"+a.Name, s.o.CodesPerHour, ErrTooManyCodes); err != nil {
		return store.TestPhone{}, err
	}
	code, err := newCode()
	if err != nil {
		return store.TestPhone{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(code), bcrypt.DefaultCost)
	if err != nil {
		return store.TestPhone{}, fmt.Errorf("hash code: %w", err)
	}
	p, err := s.o.Store.SetTestPhoneCode(ctx, a.Name, num.E164, hash, CodeTTL)
	if err != nil || p.Verified {
		return p, err
	}
	body := fmt.Sprintf("Protect: %s is your code to receive template tests on this phone. It expires in %d minutes. "+
		"If you did not ask for it, ignore this message.", code, int(CodeTTL.Minutes()))
	sid, err := s.sendSMS(num.E164, body)
	if err != nil {
		if !known {
			// Nobody got a code: do not keep a number that cannot be verified.
			if _, derr := s.o.Store.DeleteTestPhone(context.WithoutCancel(ctx), a.Name, p.ID); derr != nil {
				s.o.Logger.Error("test phone not removed after a failed code", "error", derr)
			}
		}
		return store.TestPhone{}, fmt.Errorf("verification code: %w", err)
	}
	s.auditAs(ctx, a, "template.test_phone_add", "test_phone", strconv.FormatInt(p.ID, 10),
		map[string]any{"to": redact.Phone(num.E164), "sid": sid})
	return p, nil
}

// VerifyTestPhone checks the code typed for one of the actor's test
// phones: the right one makes the phone verified. A wrong code is
// ErrCodeWrong; one expired, tried CodeTries times or never sent is
// store.ErrCodeExpired.
func (s *Service) VerifyTestPhone(ctx context.Context, a Actor, id int64, code string) (store.TestPhone, error) {
	if err := s.require(ctx, a, "verify test phone", canWrite); err != nil {
		return store.TestPhone{}, err
	}
	subject := strconv.FormatInt(id, 10)
	p, hash, err := s.o.Store.TakeTestPhoneTry(ctx, a.Name, id, CodeTries)
	if errors.Is(err, store.ErrCodeExpired) {
		s.auditAs(ctx, a, "template.test_phone_verify_failed", "test_phone", subject,
			map[string]any{"to": redact.Phone(p.E164), "reason": "expired or too many tries"})
	}
	if err != nil || p.Verified {
		return p, err
	}
	code = strings.Join(strings.Fields(code), "") // "123 456" as typed from the message
	if bcrypt.CompareHashAndPassword(hash, []byte(code)) != nil {
		s.auditAs(ctx, a, "template.test_phone_verify_failed", "test_phone", subject,
			map[string]any{"to": redact.Phone(p.E164), "reason": "wrong code"})
		return p, fmt.Errorf("test phone %d: %w", id, ErrCodeWrong)
	}
	if p, err = s.o.Store.MarkTestPhoneVerified(ctx, a.Name, id); err != nil {
		return p, err
	}
	s.auditAs(ctx, a, "template.test_phone_verify", "test_phone", subject, map[string]any{"to": redact.Phone(p.E164)})
	return p, nil
}

// RemoveTestPhone removes one of the actor's test phones: no test goes to
// it any more.
func (s *Service) RemoveTestPhone(ctx context.Context, a Actor, id int64) error {
	if err := s.require(ctx, a, "remove test phone", canWrite); err != nil {
		return err
	}
	p, err := s.o.Store.DeleteTestPhone(ctx, a.Name, id)
	if err != nil {
		return err
	}
	s.auditAs(ctx, a, "template.test_phone_remove", "test_phone", strconv.FormatInt(id, 10), map[string]any{"to": redact.Phone(p.E164)})
	return nil
}

// newCode returns a random code of codeDigits digits.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("verification code: %w", err)
	}
	return fmt.Sprintf("%0*d", codeDigits, n.Int64()), nil
}

// sendSMS texts body to an E.164 number from the test sender and returns
// the message SID. A drama number refused by a real provider becomes a
// *PhoneError saying so.
func (s *Service) sendSMS(to, body string) (string, error) {
	p := &openapi.CreateMessageParams{}
	p.SetTo(to)
	p.SetBody(body)
	if strings.HasPrefix(s.o.TestSender, "MG") {
		p.SetMessagingServiceSid(s.o.TestSender)
	} else {
		p.SetFrom(s.o.TestSender)
	}
	msg, err := s.o.Twilio.Api.CreateMessage(p)
	if err != nil {
		return "", providerError(err)
	}
	if msg.Sid == nil {
		return "", nil
	}
	return *msg.Sid, nil
}

// providerError explains a refusal to contact a drama number.
func providerError(err error) error {
	if errors.Is(err, twilioapi.ErrTestNumber) {
		return testPhoneRefused("07700 900xxx numbers are for drama and testing: a real provider never texts or calls them")
	}
	return err
}
