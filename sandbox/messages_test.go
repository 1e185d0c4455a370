package sandbox

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/twilioapi"
)

var smSID = regexp.MustCompile(`^SM[0-9a-f]{32}$`)

func sms(to, body string) *api.CreateMessageParams {
	return (&api.CreateMessageParams{}).SetTo(to).SetFrom(senderNum).SetBody(body)
}

func TestCreateMessage(t *testing.T) {
	e := newEnv(t, nil)
	m, err := e.api.Api.CreateMessage(sms("+447700900000", "Hello from Protect. Are you well? Reply 1 for yes, 2 for no.").
		SetStatusCallback(e.app.srv.URL + "/twilio/status"))
	if err != nil {
		t.Fatalf("CreateMessage: %v", err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"sid", m.Sid != nil && smSID.MatchString(*m.Sid)},
		{"status queued", m.Status != nil && *m.Status == "queued"},
		{"num_segments", m.NumSegments != nil && *m.NumSegments == "1"},
		{"direction", m.Direction != nil && *m.Direction == "outbound-api"},
		{"from", m.From != nil && *m.From == senderNum},
		{"to", m.To != nil && *m.To == "+447700900000"},
		{"account", m.AccountSid != nil && *m.AccountSid == testSID},
		{"api_version", m.ApiVersion != nil && *m.ApiVersion == "2010-04-01"},
		{"uri", m.Uri != nil && *m.Uri == "/2010-04-01/Accounts/"+testSID+"/Messages/"+*m.Sid+".json"},
		{"no error", m.ErrorCode == nil},
		{"subresources", m.SubresourceUris != nil && (*m.SubresourceUris)["media"] != nil},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: unexpected resource %+v", c.name, m)
		}
	}
	if m.DateCreated == nil {
		t.Fatal("no date_created")
	}
	if _, err := time.Parse(time.RFC1123Z, *m.DateCreated); err != nil {
		t.Errorf("date_created %q is not RFC1123Z: %v", *m.DateCreated, err)
	}

	e.waitHooks(t, "/twilio/status", 3)
	got, err := e.api.Api.FetchMessage(*m.Sid, nil)
	if err != nil {
		t.Fatalf("FetchMessage: %v", err)
	}
	if *got.Status != "delivered" || got.DateSent == nil || got.Price == nil {
		t.Errorf("fetched %+v, want delivered with date_sent and price", got)
	}
	msgs := e.sb.Messages()
	if len(msgs) != 1 || msgs[0].Body == "" || !slices.Equal(msgs[0].History, []string{"queued", "sent", "delivered"}) {
		t.Errorf("Messages() = %+v", msgs)
	}
}

func TestCreateMessageWithMessagingService(t *testing.T) {
	e := newEnv(t, nil)
	m, err := e.api.Api.CreateMessage((&api.CreateMessageParams{}).SetTo("+447700900004").
		SetMessagingServiceSid(serviceSID).SetBody("Hello"))
	if err != nil {
		t.Fatal(err)
	}
	if *m.Status != "accepted" || m.From != nil || *m.MessagingServiceSid != serviceSID {
		t.Errorf("got status %v from %v service %v", *m.Status, m.From, m.MessagingServiceSid)
	}
	e.idle(t)
	got, _ := e.sb.Message(*m.Sid)
	if got.From != DefaultServiceSender || got.Status != "delivered" {
		t.Errorf("after delivery: %+v", got)
	}
}

func TestFetchUnknownMessage(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.api.Api.FetchMessage("SM00000000000000000000000000000000", nil)
	if code, status, _ := twilioapi.ErrorCode(err); code != 20404 || status != 404 {
		t.Errorf("err = %v", err)
	}
}

func TestCreateMessageErrors(t *testing.T) {
	tests := []struct {
		name       string
		params     *api.CreateMessageParams
		token      string
		code, stat int
	}{
		{"invalid number persona", sms("+447700900008", "hi"), "", 21211, 400},
		{"not E.164", sms("07700900123", "hi"), "", 21211, 400},
		{"not a mobile", sms("+447700900009", "hi"), "", 21614, 400},
		{"unsubscribed", sms("+447700900990", "hi"), "", 21610, 400},
		{"no To", (&api.CreateMessageParams{}).SetFrom(senderNum).SetBody("hi"), "", 21604, 400},
		{"no From", (&api.CreateMessageParams{}).SetTo("+447700900000").SetBody("hi"), "", 21603, 400},
		{"bad From", (&api.CreateMessageParams{}).SetTo("+447700900000").SetFrom("12").SetBody("hi"), "", 21212, 400},
		{"no Body", (&api.CreateMessageParams{}).SetTo("+447700900000").SetFrom(senderNum), "", 21602, 400},
		{"wrong token", sms("+447700900000", "hi"), "0000000000000000000000000000beef", 20003, 401},
		{"other account", sms("+447700900000", "hi").SetPathAccountSid("AC00000000000000000000000000000000"), "", 20404, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			rc := e.api
			if tt.token != "" {
				rc = twilioapi.New(testSID, tt.token, e.url)
			}
			_, err := rc.Api.CreateMessage(tt.params)
			var rest *client.TwilioRestError
			if !errors.As(err, &rest) {
				t.Fatalf("err = %T %v, want *client.TwilioRestError", err, err)
			}
			if rest.Code != tt.code || rest.Status != tt.stat {
				t.Errorf("got code %d status %d, want %d %d (%s)", rest.Code, rest.Status, tt.code, tt.stat, rest.Message)
			}
			if want := "https://www.twilio.com/docs/errors/"; len(rest.MoreInfo) <= len(want) || rest.MoreInfo[:len(want)] != want {
				t.Errorf("more_info = %q", rest.MoreInfo)
			}
			if twilioapi.Temporary(err) {
				t.Error("validation error reported as temporary")
			}
			if len(e.sb.Messages()) != 0 {
				t.Error("a refused message was recorded")
			}
		})
	}
}

func TestFailNext(t *testing.T) {
	tests := []struct {
		status, code int
	}{
		{http.StatusTooManyRequests, 20429},
		{http.StatusInternalServerError, 20500},
		{http.StatusServiceUnavailable, 20503},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			e := newEnv(t, nil)
			e.sb.FailNext(2, tt.status)
			for i := range 2 {
				_, err := e.api.Api.CreateMessage(sms("+447700900000", "hi"))
				code, status, ok := twilioapi.ErrorCode(err)
				if !ok || code != tt.code || status != tt.status || !twilioapi.Temporary(err) {
					t.Fatalf("attempt %d: err = %v", i, err)
				}
			}
			if _, err := e.api.Api.CreateMessage(sms("+447700900000", "hi")); err != nil {
				t.Fatalf("third attempt: %v", err)
			}
		})
	}
}

func TestStatusCallbacks(t *testing.T) {
	tests := []struct {
		name   string
		to     string
		want   []string
		errorC string
	}{
		{"delivered", "+447700900000", []string{"queued", "sent", "delivered"}, ""},
		{"landline", "+447700900006", []string{"queued", "sent", "undelivered"}, "30006"},
		{"unreachable", "+447700900007", []string{"queued", "sent", "undelivered"}, "30003"},
		{"unknown handset", "+447700900991", []string{"queued", "sent", "undelivered"}, "30005"},
		{"failed", "+447700900992", []string{"queued", "failed"}, "30003"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			callback := e.app.srv.URL + "/twilio/status?attempt=1&c=a%2Fb"
			m, err := e.api.Api.CreateMessage(sms(tt.to, "Hello").SetStatusCallback(callback))
			if err != nil {
				t.Fatal(err)
			}
			e.waitHooks(t, "/twilio/status", len(tt.want))
			e.idle(t)
			hooks := e.app.hooksAt("/twilio/status")
			if len(hooks) != len(tt.want) {
				t.Fatalf("got %d callbacks, want %d", len(hooks), len(tt.want))
			}
			for i, h := range hooks {
				f := h.Form
				if !h.SigValid {
					t.Errorf("callback %d: bad signature", i)
				}
				if h.URL != callback {
					t.Errorf("callback %d: URL %q", i, h.URL)
				}
				if f.Get("MessageStatus") != tt.want[i] || f.Get("SmsStatus") != tt.want[i] {
					t.Errorf("callback %d: status %q, want %q", i, f.Get("MessageStatus"), tt.want[i])
				}
				if f.Get("MessageSid") != *m.Sid || f.Get("SmsSid") != *m.Sid || f.Get("AccountSid") != testSID ||
					f.Get("From") != senderNum || f.Get("To") != tt.to || f.Get("ApiVersion") != "2010-04-01" {
					t.Errorf("callback %d: fields %v", i, f)
				}
				wantErr := ""
				if i == len(hooks)-1 {
					wantErr = tt.errorC
				}
				if f.Get("ErrorCode") != wantErr {
					t.Errorf("callback %d: ErrorCode %q, want %q", i, f.Get("ErrorCode"), wantErr)
				}
			}
			got, _ := e.api.Api.FetchMessage(*m.Sid, nil)
			if tt.errorC != "" && (got.ErrorCode == nil || got.ErrorMessage == nil) {
				t.Errorf("fetched resource has no error: %+v", got)
			}
		})
	}
}

func TestPersonaReplies(t *testing.T) {
	e := newEnv(t, nil)
	const patient = "+447700900555"
	e.sb.SetPersona(Persona{Number: patient, Replies: []string{"1", "Feeling dizzy today"}})
	for range 3 {
		if _, err := e.api.Api.CreateMessage(sms(patient, "How are you? Reply 1 if well.")); err != nil {
			t.Fatal(err)
		}
	}
	e.waitHooks(t, "/twilio/sms", 2)
	e.idle(t)
	hooks := e.app.hooksAt("/twilio/sms")
	if len(hooks) != 2 {
		t.Fatalf("got %d replies, want 2 (the script has two answers)", len(hooks))
	}
	bodies := []string{hooks[0].Form.Get("Body"), hooks[1].Form.Get("Body")}
	slices.Sort(bodies)
	if !slices.Equal(bodies, []string{"1", "Feeling dizzy today"}) {
		t.Errorf("bodies = %q", bodies)
	}
	for _, h := range hooks {
		f := h.Form
		if !h.SigValid || f.Get("From") != patient || f.Get("To") != senderNum || !smSID.MatchString(f.Get("MessageSid")) ||
			f.Get("AccountSid") != testSID || f.Get("NumMedia") != "0" || f.Get("NumSegments") != "1" || f.Get("SmsStatus") != "received" {
			t.Errorf("inbound webhook %v (signature ok %v)", f, h.SigValid)
		}
	}
	if n := len(e.sb.Received()); n != 2 {
		t.Errorf("Received() has %d messages", n)
	}
}

func TestLateReply(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ReplyDelay = 20 * time.Millisecond; c.LateReplyFactor = 5 })
	const late = "+447700900003" // default persona: late replier
	start := time.Now()
	if _, err := e.api.Api.CreateMessage(sms(late, "Are you OK? Reply 1 or 2")); err != nil {
		t.Fatal(err)
	}
	h := e.waitHooks(t, "/twilio/sms", 1)[0]
	if d := h.At.Sub(start); d < 100*time.Millisecond {
		t.Errorf("late persona replied after %v, want at least 100ms", d)
	}
}

func TestOnlyQuestionsAreAnswered(t *testing.T) {
	e := newEnv(t, nil)
	const fine = "+447700900010"
	for _, body := range []string{"Thank you, we have your answer.", "Do you need anything?"} {
		if _, err := e.api.Api.CreateMessage(sms(fine, body)); err != nil {
			t.Fatal(err)
		}
	}
	e.idle(t)
	if hooks := e.app.hooksAt("/twilio/sms"); len(hooks) != 1 {
		t.Fatalf("got %d replies, want 1", len(hooks))
	}
}

func TestStopOptsOut(t *testing.T) {
	e := newEnv(t, nil)
	const stopper = "+447700900005"
	if _, err := e.api.Api.CreateMessage(sms(stopper, "Are you well? Reply 1 or 2")); err != nil {
		t.Fatal(err)
	}
	h := e.waitHooks(t, "/twilio/sms", 1)[0]
	if h.Form.Get("Body") != "STOP" || h.Form.Get("OptOutType") != "STOP" {
		t.Fatalf("reply %v", h.Form)
	}
	_, err := e.api.Api.CreateMessage(sms(stopper, "Hello again"))
	if code, _, _ := twilioapi.ErrorCode(err); code != twilioapi.CodeUnsubscribed {
		t.Fatalf("after STOP: err = %v, want 21610", err)
	}
	if _, err := e.sb.Inbound(waitCtx(t), stopper, senderNum, "START"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.Api.CreateMessage(sms(stopper, "Welcome back")); err != nil {
		t.Fatalf("after START: %v", err)
	}
}

func TestInboundByHandWithTwiMLReply(t *testing.T) {
	e := newEnv(t, nil)
	e.app.setRespond(func(string, url.Values) string {
		return `<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thank you. If you feel unwell call 111.</Message></Response>`
	})
	msg, err := e.sb.Inbound(waitCtx(t), "+447700900123", senderNum, "help me")
	if err != nil {
		t.Fatal(err)
	}
	if !smSID.MatchString(msg.SID) || msg.Direction != DirectionInbound {
		t.Errorf("Inbound returned %+v", msg)
	}
	hooks := e.app.hooksAt("/twilio/sms")
	if len(hooks) != 1 || !hooks[0].SigValid || hooks[0].Form.Get("Body") != "help me" {
		t.Fatalf("hooks %+v", hooks)
	}
	out := e.sb.Messages()
	if len(out) != 1 || out[0].Direction != DirectionOutboundReply || out[0].To != "+447700900123" {
		t.Errorf("TwiML reply not recorded: %+v", out)
	}
}

func TestDuplicateWebhooks(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DuplicateEvery = 1 })
	if _, err := e.api.Api.CreateMessage(sms("+447700900004", "hi").SetStatusCallback("/twilio/status")); err != nil {
		t.Fatal(err)
	}
	e.waitHooks(t, "/twilio/status", 6)
	e.idle(t)
	hooks := e.app.hooksAt("/twilio/status")
	if len(hooks) != 6 {
		t.Fatalf("got %d callbacks, want 6", len(hooks))
	}
	tokens := map[string]int{}
	for _, h := range hooks {
		tokens[h.Token]++
		if !h.SigValid {
			t.Error("bad signature")
		}
	}
	for tok, n := range tokens {
		if n != 2 || tok == "" {
			t.Errorf("token %q seen %d times", tok, n)
		}
	}
}

func TestReset(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CallbackDelay = time.Hour })
	if _, err := e.api.Api.CreateMessage(sms("+447700900000", "hi").SetStatusCallback("/twilio/status")); err != nil {
		t.Fatal(err)
	}
	e.sb.FailNext(1, 500)
	e.sb.Reset()
	if len(e.sb.Messages()) != 0 {
		t.Error("messages survived Reset")
	}
	e.idle(t) // the pending hour-long callback was dropped
	if _, err := e.api.Api.CreateMessage(sms("+447700900000", "hi")); err != nil {
		t.Errorf("injected failure survived Reset: %v", err)
	}
}

func TestListMessagesFindsEarlierSend(t *testing.T) {
	env := newEnv(t, nil)
	to, other := "+447700900100", "+447700900200"
	for _, n := range []string{to, other, to} {
		p := &api.CreateMessageParams{}
		p.SetTo(n)
		p.SetFrom(senderNum)
		p.SetBody("hello " + n)
		if _, err := env.api.Api.CreateMessage(p); err != nil {
			t.Fatal(err)
		}
	}
	lp := &api.ListMessageParams{}
	lp.SetTo(to)
	lp.SetFrom(senderNum)
	lp.SetDateSentAfter(time.Now().Add(-time.Hour))
	lp.SetLimit(20)
	got, err := env.api.Api.ListMessage(lp)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || *got[0].To != to || *got[0].Body != "hello "+to {
		t.Fatalf("list = %d messages", len(got))
	}
	lp.SetDateSentAfter(time.Now().Add(time.Hour))
	got, err = env.api.Api.ListMessage(lp)
	if err != nil || len(got) != 0 {
		t.Fatalf("future filter: %d, %v", len(got), err)
	}
}
