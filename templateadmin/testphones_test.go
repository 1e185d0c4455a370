package templateadmin_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
	"github.com/protectnow/protect/twilioapi"
)

var codeRe = regexp.MustCompile(`\b(\d{6})\b`)

// lastCode is the code in the last text the sandbox got for e164, and how
// many texts that number got.
func lastCode(t *testing.T, g *gatewaytest.Gateway, e164 string) (string, int) {
	t.Helper()
	code, n := "", 0
	for _, m := range g.Sandbox.Messages() {
		if m.To == e164 {
			n++
			if c := codeRe.FindStringSubmatch(m.Body); c != nil {
				code = c[1]
			}
		}
	}
	return code, n
}

// verifyPhone adds number to who's test phones and types the code the
// sandbox received.
func verifyPhone(t *testing.T, svc *templateadmin.Service, g *gatewaytest.Gateway, who templateadmin.Actor, number string) store.TestPhone {
	t.Helper()
	ctx := context.Background()
	p, err := svc.AddTestPhone(ctx, who, number)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := lastCode(t, g, p.E164)
	if p, err = svc.VerifyTestPhone(ctx, who, p.ID, code); err != nil || !p.Verified {
		t.Fatalf("verify %s: %+v %v", number, p, err)
	}
	return p
}

// A comms lead verifies their own phone with a code texted to it; tests go
// to it only once it is verified, and never to anyone else's.
func TestTestPhoneVerification(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g := gatewaytest.New(t, f.st)
	svc := templateadmin.New(templateadmin.Options{Store: f.st, Logger: quiet, Twilio: twilioapi.New(gatewaytest.SID, gatewaytest.Token, g.TwilioURL),
		TestSender: gatewaytest.Sender, Phones: phone.Parser{AllowTestNumbers: true}, CodesPerHour: 4})
	sms := f.template("wellbeing.ok", "sms", "en")
	const mine = "+447700900201"
	var id int64
	test := func(who templateadmin.Actor, to string) error {
		_, err := svc.SendTest(ctx, who, sms.ID, templateadmin.TestRequest{To: to, Version: 1})
		return err
	}
	code := func() string { c, _ := lastCode(t, g, mine); return c }
	wrong := func() string {
		if code() == "000000" {
			return "111111"
		}
		return "000000"
	}

	// The steps run in order on the same phones.
	steps := []struct {
		name    string
		do      func() error
		wantErr error
		texts   int // texts the number has received after the step
	}{
		{"a programme lead has no test phones", func() error { _, err := svc.AddTestPhone(ctx, pat, "07700 900201"); return err },
			templateadmin.ErrForbidden, 0},
		{"a landline cannot get a code", func() error { _, err := svc.AddTestPhone(ctx, carol, "01603 123456"); return err },
			templateadmin.ErrInvalid, 0},
		{"carol adds her phone: a code is texted", func() error {
			p, err := svc.AddTestPhone(ctx, carol, "07700 900201")
			id = p.ID
			if err == nil && (p.Verified || p.CodeExpiresAt == nil || p.E164 != mine) {
				t.Errorf("added %+v", p)
			}
			return err
		}, nil, 1},
		{"no test before it is verified", func() error { return test(carol, mine) }, templateadmin.ErrNotVerified, 1},
		{"a wrong code", func() error { _, err := svc.VerifyTestPhone(ctx, carol, id, wrong()); return err }, templateadmin.ErrCodeWrong, 1},
		{"alice cannot verify carol's phone", func() error { _, err := svc.VerifyTestPhone(ctx, alice, id, code()); return err }, store.ErrNotFound, 1},
		{"the right code, with a space", func() error {
			c := code()
			p, err := svc.VerifyTestPhone(ctx, carol, id, c[:3]+" "+c[3:])
			if err == nil && !p.Verified {
				t.Errorf("not verified: %+v", p)
			}
			return err
		}, nil, 1},
		{"a test reaches it, marked", func() error { return test(carol, "07700900201") }, nil, 2},
		{"alice cannot test to carol's phone", func() error { return test(alice, mine) }, templateadmin.ErrNotVerified, 2},
		{"adding it again sends no code", func() error {
			p, err := svc.AddTestPhone(ctx, carol, mine)
			if err == nil && (!p.Verified || p.ID != id) {
				t.Errorf("again: %+v", p)
			}
			return err
		}, nil, 2},
		{"alice adds the same number to her account: a new code, her own", func() error { _, err := svc.AddTestPhone(ctx, alice, mine); return err }, nil, 3},
		{"carol removes her phone", func() error { return svc.RemoveTestPhone(ctx, carol, id) }, nil, 3},
		{"tests to it are refused again", func() error { return test(carol, mine) }, templateadmin.ErrNotVerified, 3},
		{"removing twice", func() error { return svc.RemoveTestPhone(ctx, carol, id) }, store.ErrNotFound, 3},
	}
	for _, s := range steps {
		err := s.do()
		if (s.wantErr == nil) != (err == nil) || (s.wantErr != nil && !errors.Is(err, s.wantErr)) {
			t.Fatalf("%s: error %v, want %v", s.name, err, s.wantErr)
		}
		if _, n := lastCode(t, g, mine); n != s.texts {
			t.Fatalf("%s: the number got %d texts, want %d", s.name, n, s.texts)
		}
	}
	// Each text is a code or a test marked as one.
	for _, m := range g.Sandbox.Messages() {
		if !strings.HasPrefix(m.Body, templateadmin.TestPrefix) && !strings.HasPrefix(m.Body, "Protect: ") {
			t.Errorf("text %q", m.Body)
		}
	}

	// The code is kept only as a bcrypt hash.
	var hash []byte
	if err := f.st.Pool().QueryRow(ctx, `SELECT code_hash FROM test_phones WHERE actor = $1`, alice.Name).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if c := code(); !strings.HasPrefix(string(hash), "$2a$") || strings.Contains(string(hash), c) {
		t.Errorf("code stored as %q", hash)
	}

	// Every step is audited, with no number in clear.
	entries, err := f.st.AuditLog(ctx, store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range entries {
		count[e.Action]++
		b, _ := json.Marshal(e.Details)
		if strings.Contains(string(b), "900201") {
			t.Errorf("audit %s names the number: %s", e.Action, b)
		}
	}
	for action, n := range map[string]int{"template.test_phone_add": 2, "template.test_phone_verify": 1, "template.test_phone_verify_failed": 1,
		"template.test_phone_remove": 1, "template.test": 1, "template.test_refused": 3} {
		if count[action] != n {
			t.Errorf("audit %s: %d entries, want %d (%v)", action, count[action], n, count)
		}
	}
}

// A code lasts ten minutes and five tries; codes and phones are limited.
func TestTestPhoneCodeLimits(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g := gatewaytest.New(t, f.st)
	svc := templateadmin.New(templateadmin.Options{Store: f.st, Logger: quiet, Twilio: twilioapi.New(gatewaytest.SID, gatewaytest.Token, g.TwilioURL),
		TestSender: gatewaytest.Sender, Phones: phone.Parser{AllowTestNumbers: true}, CodesPerHour: 7})
	add := func(number string) store.TestPhone {
		t.Helper()
		p, err := svc.AddTestPhone(ctx, carol, number)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		number  string
		spoil   func(p store.TestPhone) // before the right code is typed
		wantErr error
	}{
		{"in time", "+447700900301", nil, nil},
		{"expired", "+447700900302", func(p store.TestPhone) {
			if _, err := f.st.Pool().Exec(ctx, `UPDATE test_phones SET code_expires_at = now() - interval '1 second' WHERE id = $1`, p.ID); err != nil {
				t.Fatal(err)
			}
		}, store.ErrCodeExpired},
		{"five wrong tries use the code up", "+447700900303", func(p store.TestPhone) {
			for range templateadmin.CodeTries {
				if _, err := svc.VerifyTestPhone(ctx, carol, p.ID, "abcdef"); !errors.Is(err, templateadmin.ErrCodeWrong) {
					t.Fatalf("wrong try: %v", err)
				}
			}
		}, store.ErrCodeExpired},
		{"a new code after the tries are used up", "+447700900303", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := add(tt.number)
			if tt.spoil != nil {
				tt.spoil(p)
			}
			code, _ := lastCode(t, g, tt.number)
			_, err := svc.VerifyTestPhone(ctx, carol, p.ID, code)
			if (tt.wantErr == nil) != (err == nil) || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
		})
	}
	// Five phones at most (301 and 303 are verified, the others wait).
	add("+447700900304")
	add("+447700900305")
	if _, err := svc.AddTestPhone(ctx, carol, "+447700900306"); !errors.Is(err, templateadmin.ErrInvalid) {
		t.Fatalf("a sixth phone: %v", err)
	}
	// Seven codes an hour: six were sent, the seventh goes, the eighth not.
	add("+447700900302")
	if _, err := svc.AddTestPhone(ctx, carol, "+447700900302"); !errors.Is(err, templateadmin.ErrTooManyCodes) {
		t.Fatalf("an eighth code: %v", err)
	}
	if got := templateadmin.Status(templateadmin.ErrTooManyCodes); got != 429 {
		t.Errorf("status %d", got)
	}
}

// Drama numbers (07700 900xxx) are refused through a real provider: no
// code and no test reaches the provider, and nothing is kept.
func TestTestPhoneDramaNumberRefusedByRealProvider(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	g := gatewaytest.New(t, f.st)
	live := twilioapi.New(gatewaytest.SID, gatewaytest.Token, g.TwilioURL, twilioapi.RefuseTestNumbers(quiet))
	svc := templateadmin.New(templateadmin.Options{Store: f.st, Logger: quiet, Twilio: live, TestSender: gatewaytest.Sender,
		Phones: phone.Parser{AllowTestNumbers: true}})
	_, err := svc.AddTestPhone(ctx, carol, "07700 900401")
	var inv *templateadmin.PhoneError
	if !errors.As(err, &inv) || !strings.Contains(inv.Error(), "drama") || templateadmin.Status(err) != 422 {
		t.Fatalf("drama number added: %v", err)
	}
	if ps, _ := svc.TestPhones(ctx, carol); len(ps) != 0 {
		t.Fatalf("kept %+v", ps)
	}
	// Even one verified earlier (say in the sandbox) gets no test.
	if _, err := f.st.Pool().Exec(ctx, `INSERT INTO test_phones (actor, e164, verified_at) VALUES ($1, '+447700900401', now())`, carol.Name); err != nil {
		t.Fatal(err)
	}
	sms := f.template("wellbeing.ok", "sms", "en")
	if _, err := svc.SendTest(ctx, carol, sms.ID, templateadmin.TestRequest{To: "07700900401", Version: 1}); !errors.As(err, &inv) {
		t.Fatalf("test to a drama number: %v", err)
	}
	if n := len(g.Sandbox.Messages()); n != 0 {
		t.Fatalf("the provider got %d messages", n)
	}
}
