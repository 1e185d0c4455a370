package console_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/protectnow/protect/console"
	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/templateadmin"
	"github.com/protectnow/protect/twilioapi"
)

// A comms lead adds her phone, types the code texted to it, then picks it
// in the editor to send a test marked as one; nobody else can test to it.
func TestTestPhonePages(t *testing.T) {
	var g *gatewaytest.Gateway
	s := newSite(t, func(o *console.Options) {
		g = gatewaytest.New(t, o.Store)
		o.Templates = templateadmin.New(templateadmin.Options{Store: o.Store, Logger: o.Logger,
			Twilio: twilioapi.New(gatewaytest.SID, gatewaytest.Token, g.TwilioURL), TestSender: gatewaytest.Sender,
			Phones: phone.Parser{AllowTestNumbers: true}})
	})
	edit := fmt.Sprintf("/console/templates/%d", s.template("wellbeing.ok", "sms", "en").ID)
	const phones, mine = "/console/account/test-phones", "+447700900201"
	cara, ann, paul := s.loggedIn("cara"), s.loggedIn("ann"), s.loggedIn("paul")
	csrfs := map[*browser]string{}
	for _, b := range []*browser{cara, ann} {
		_, page, _ := b.get(phones)
		csrfs[b] = csrfOf(t, page)
	}
	codeRe := regexp.MustCompile(`\b\d{6}\b`)
	code := func() string {
		msgs := g.Sandbox.Messages()
		return codeRe.FindString(msgs[len(msgs)-1].Body)
	}
	form := func(b *browser, kv ...string) func() url.Values {
		return func() url.Values {
			v := url.Values{"csrf": {csrfs[b]}}
			for i := 0; i+1 < len(kv); i += 2 {
				val := kv[i+1]
				if val == "{{code}}" {
					val = code()
				}
				v.Set(kv[i], val)
			}
			return v
		}
	}
	test := func(b *browser) func() url.Values {
		return form(b, "action", "test", "test_to", mine, "test_version", "1", "body", "Are you OK?")
	}

	steps := []struct {
		name       string
		b          *browser
		method     string
		path       string
		form       func() url.Values
		want       int
		has, lacks []string
	}{
		{"the editor says to add a phone first", cara, "GET", edit, nil, 200,
			[]string{`id="no-test-phones"`, `href="/console/account/test-phones" id="manage-test-phones"`, `id="nav-test-phones"`}, []string{`id="send-test"`}},
		{"a programme lead has no test phones", paul, "GET", phones, nil, 403, nil, []string{"900201"}},
		{"add a phone: a code is texted", cara, "POST", phones, form(cara, "number", "07700 900201"), 303, nil, nil},
		{"listed, waiting for the code", cara, "GET", phones, nil, 200, []string{"447700900201", "waiting for the code", `id="verify-1"`}, nil},
		{"a test to it is refused before it is verified", cara, "POST", edit, test(cara), 403,
			[]string{`id="test-error"`, "Tests go only to phones you have verified"}, []string{`id="test-result"`}},
		{"a wrong code", cara, "POST", phones + "/1/verify", form(cara, "code", "abcdef"), 422, []string{"That code is not right"}, nil},
		{"another comms lead cannot verify it", ann, "POST", phones + "/1/verify", form(ann, "code", "{{code}}"), 404, nil, nil},
		{"the right code", cara, "POST", phones + "/1/verify", form(cara, "code", "{{code}}"), 303, nil, nil},
		{"the editor offers the phone", cara, "GET", edit, nil, 200, []string{`<option value="&#43;447700900201"`, `id="send-test"`}, []string{`id="no-test-phones"`}},
		{"a test goes, marked", cara, "POST", edit, test(cara), 200, []string{`id="test-result"`, "[TEST] Are you OK?"}, nil},
		{"another comms lead cannot test to it", ann, "POST", edit, test(ann), 403, []string{"Tests go only to phones you have verified"}, nil},
		{"not in her list", ann, "GET", phones, nil, 200, []string{`id="no-phones"`}, []string{"900201"}},
		{"another comms lead cannot remove it", ann, "POST", phones + "/1/remove", form(ann), 404, nil, nil},
		{"removed", cara, "POST", phones + "/1/remove", form(cara), 303, nil, nil},
		{"gone", cara, "GET", phones, nil, 200, []string{`id="no-phones"`}, nil},
	}
	for _, st := range steps {
		var code int
		var page string
		if st.method == "GET" {
			code, page, _ = st.b.get(st.path)
		} else {
			code, page, _ = st.b.post(st.path, st.form())
		}
		if code != st.want {
			t.Fatalf("%s: %d, want %d\n%s", st.name, code, st.want, page)
		}
		for _, want := range st.has {
			if !strings.Contains(page, want) {
				t.Errorf("%s: page lacks %q", st.name, want)
			}
		}
		for _, not := range st.lacks {
			if strings.Contains(page, not) {
				t.Errorf("%s: page shows %q", st.name, not)
			}
		}
	}
	var texts []string
	for _, m := range g.Sandbox.Messages() {
		texts = append(texts, m.Body)
	}
	if len(texts) != 2 || !strings.HasPrefix(texts[1], templateadmin.TestPrefix) {
		t.Errorf("the sandbox got %q: want a code and one test", texts)
	}
	for action, want := range map[string]int{"template.test_phone_add": 1, "template.test_phone_verify": 1, "template.test_phone_verify_failed": 1,
		"template.test_phone_remove": 1, "template.test": 1, "template.test_refused": 2} {
		if n := s.count(`SELECT count(*) FROM audit_log WHERE action = $1`, action); n != want {
			t.Errorf("%d %s audit entries, want %d", n, action, want)
		}
	}
}
