package sandbox

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
	"github.com/twilio/twilio-go/twiml"

	"github.com/protectnow/protect/twilioapi"
)

var caSID = regexp.MustCompile(`^CA[0-9a-f]{32}$`)

const (
	sayHello  = "Hello, this is the NHS Protect service."
	sayQ1     = "Are you well? Press 1 for yes, 2 for no."
	sayRepeat = "Sorry, we did not hear a key press."
	sayQ2     = "Do you need help with food or medicines? Press 1 for yes, 2 for no."
	sayBye    = "Thank you. Goodbye."
)

// ivr is a small TwiML application written with twilio-go's twiml package.
func ivr(t *testing.T) func(path string, form url.Values) string {
	return func(path string, form url.Values) string {
		var verbs []twiml.Element
		switch path {
		case "/voice/start":
			verbs = []twiml.Element{
				&twiml.VoiceSay{Message: sayHello},
				&twiml.VoiceGather{Action: "/voice/q1", NumDigits: "1", Timeout: "5",
					// SSML inside a Say is heard as its words.
					InnerElements: []twiml.Element{&twiml.VoiceSay{InnerElements: []twiml.Element{&twiml.VoiceProsody{Rate: "90%", Words: sayQ1}}}}},
				&twiml.VoiceSay{Message: sayRepeat},
				&twiml.VoiceRedirect{Url: "/voice/start"},
			}
		case "/voice/q1":
			verbs = []twiml.Element{
				&twiml.VoiceGather{Action: "/voice/q2", NumDigits: "1",
					InnerElements: []twiml.Element{&twiml.VoicePause{Length: "1"}, &twiml.VoiceSay{Message: sayQ2}}},
				&twiml.VoiceHangup{},
			}
		case "/voice/q2":
			if form.Get("Digits") == "1" {
				verbs = []twiml.Element{
					&twiml.VoiceDial{Action: "/voice/dialed", InnerElements: []twiml.Element{&twiml.VoiceNumber{PhoneNumber: "+441603000000"}}},
				}
				break
			}
			verbs = []twiml.Element{&twiml.VoiceSay{Message: sayBye}, &twiml.VoiceHangup{}}
		case "/voice/dialed":
			verbs = []twiml.Element{&twiml.VoiceSay{Message: "Dial " + form.Get("DialCallStatus")}, &twiml.VoiceHangup{}}
		case "/voice/loop":
			verbs = []twiml.Element{&twiml.VoiceSay{Message: "again"}, &twiml.VoiceRedirect{Url: "/voice/loop"}}
		default:
			verbs = []twiml.Element{&twiml.VoiceHangup{}}
		}
		doc, err := twiml.Voice(verbs)
		if err != nil {
			t.Errorf("twiml: %v", err)
		}
		return doc
	}
}

func call(to, path string) *api.CreateCallParams {
	return (&api.CreateCallParams{}).SetTo(to).SetFrom(senderNum).SetUrl(path).SetStatusCallback("/voice/status")
}

func TestCallScenarios(t *testing.T) {
	tests := []struct {
		name       string
		persona    Persona
		params     func(*api.CreateCallParams)
		cfg        func(*Config)
		status     string
		answeredBy string
		said       []string // nil with heard: anything
		heard      bool
		pressed    []string
		lastStep   string
	}{
		{
			name:    "presses digits through the menu",
			persona: Persona{Voice: VoiceBehaviour{Digits: []string{"1", "2"}}},
			status:  "completed", said: []string{sayHello, sayQ1, sayQ2, sayBye}, pressed: []string{"1", "2"}, lastStep: StepHangup,
		},
		{
			name:    "timeout continues after the Gather",
			persona: Persona{Voice: VoiceBehaviour{Digits: []string{"", "1", "2"}}},
			status:  "completed", said: []string{sayHello, sayQ1, sayRepeat, sayHello, sayQ1, sayQ2, sayBye}, pressed: []string{"1", "2"}, lastStep: StepHangup,
		},
		{
			name:    "finishOnKey and numDigits",
			persona: Persona{Voice: VoiceBehaviour{Digits: []string{"12", "2#"}}},
			status:  "completed", said: []string{sayHello, sayQ1, sayQ2, sayBye}, pressed: []string{"1", "2"}, lastStep: StepHangup,
		},
		{
			name:    "dial with action",
			persona: Persona{Voice: VoiceBehaviour{Digits: []string{"2", "1"}}},
			cfg:     func(c *Config) { c.DialCallStatus = "no-answer" },
			status:  "completed", said: []string{sayHello, sayQ1, sayQ2, "Dial no-answer"}, pressed: []string{"2", "1"}, lastStep: StepHangup,
		},
		{
			name:    "hangs up at the second prompt",
			persona: Persona{Voice: VoiceBehaviour{Digits: []string{"1", "1"}, HangupAfter: 2}},
			status:  "completed", said: []string{sayHello, sayQ1, sayQ2}, pressed: []string{"1"}, lastStep: StepCallerHangup,
		},
		{
			name:    "busy",
			persona: Persona{Voice: VoiceBehaviour{Answer: AnswerBusy}},
			status:  "busy",
		},
		{
			name:    "no answer",
			persona: Persona{Voice: VoiceBehaviour{Answer: AnswerNoAnswer}},
			status:  "no-answer",
		},
		{
			name:    "failed",
			persona: Persona{Voice: VoiceBehaviour{Answer: AnswerFailed}},
			status:  "failed",
		},
		{
			name:    "machine with detection",
			persona: Persona{Voice: VoiceBehaviour{Answer: AnswerMachine, Digits: []string{"1"}}},
			params:  func(p *api.CreateCallParams) { p.SetMachineDetection("Enable") },
			status:  "completed", answeredBy: "machine_start", heard: true, lastStep: StepCallerHangup,
		},
		{
			name:    "human with detection",
			persona: Persona{Voice: VoiceBehaviour{Digits: []string{"1", "2"}}},
			params:  func(p *api.CreateCallParams) { p.SetMachineDetection("Enable") },
			status:  "completed", answeredBy: "human", said: []string{sayHello, sayQ1, sayQ2, sayBye}, pressed: []string{"1", "2"}, lastStep: StepHangup,
		},
		{
			name:    "fax",
			persona: Persona{Voice: VoiceBehaviour{Answer: AnswerFax}},
			params:  func(p *api.CreateCallParams) { p.SetMachineDetection("Enable") },
			status:  "completed", answeredBy: "fax", lastStep: StepCallerHangup,
		},
		{
			name:    "inline twiml",
			persona: Persona{},
			params: func(p *api.CreateCallParams) {
				p.Url = nil
				p.SetTwiml(`<Response><Say>Inline hello</Say><Hangup/></Response>`)
			},
			status: "completed", said: []string{"Inline hello"}, lastStep: StepHangup,
		},
		{
			name:    "redirect loop is bounded",
			persona: Persona{},
			params:  func(p *api.CreateCallParams) { p.SetUrl("/voice/loop") },
			cfg:     func(c *Config) { c.MaxTwiMLFetches = 4 },
			status:  "completed", said: []string{"again", "again", "again", "again"}, lastStep: StepError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			e.app.setRespond(ivr(t))
			const patient = "+447700900321"
			tt.persona.Number = patient
			e.sb.SetPersona(tt.persona)
			p := call(patient, "/voice/start")
			if tt.params != nil {
				tt.params(p)
			}
			res, err := e.api.Api.CreateCall(p)
			if err != nil {
				t.Fatalf("CreateCall: %v", err)
			}
			if !caSID.MatchString(*res.Sid) || *res.Status != "queued" || *res.Direction != "outbound-api" || *res.To != patient {
				t.Errorf("create returned %+v", res)
			}
			final := e.waitHooks(t, "/voice/status", 1)[0]
			e.idle(t)
			c, _ := e.sb.Call(*res.Sid)
			if c.Status != tt.status || c.AnsweredBy != tt.answeredBy {
				t.Errorf("status %q answered by %q, want %q %q; transcript %+v", c.Status, c.AnsweredBy, tt.status, tt.answeredBy, c.Transcript)
			}
			if tt.heard && len(c.Said()) == 0 {
				t.Error("the machine heard nothing")
			}
			if !tt.heard && !slices.Equal(c.Said(), tt.said) {
				t.Errorf("said %q, want %q", c.Said(), tt.said)
			}
			if !slices.Equal(c.Pressed(), tt.pressed) {
				t.Errorf("pressed %q, want %q", c.Pressed(), tt.pressed)
			}
			if tt.lastStep != "" && (len(c.Transcript) == 0 || c.Transcript[len(c.Transcript)-1].Verb != tt.lastStep) {
				t.Errorf("transcript %+v should end with %q", c.Transcript, tt.lastStep)
			}
			f := final.Form
			if !final.SigValid || f.Get("CallSid") != *res.Sid || f.Get("CallStatus") != tt.status || f.Get("AnsweredBy") != tt.answeredBy ||
				f.Get("CallDuration") != strconv.Itoa(c.Duration) || f.Get("AccountSid") != testSID {
				t.Errorf("status callback %v (signature ok %v)", f, final.SigValid)
			}
			if tt.status == "completed" && len(tt.said) > 0 && c.Duration <= 0 {
				t.Errorf("duration %d", c.Duration)
			}
			for _, h := range e.app.hooksAt("/voice/start") {
				if !h.SigValid || h.Form.Get("CallStatus") != "in-progress" || h.Form.Get("Direction") != "outbound-api" ||
					h.Form.Get("From") != senderNum || h.Form.Get("To") != patient || h.Form.Get("AnsweredBy") != tt.answeredBy {
					t.Errorf("TwiML request %v (signature ok %v)", h.Form, h.SigValid)
				}
			}
			if tt.status != "completed" && len(e.app.hooksAt("/voice/start")) != 0 {
				t.Error("TwiML fetched for an unanswered call")
			}
			if got, err := e.api.Api.FetchCall(*res.Sid, nil); err != nil || *got.Status != tt.status {
				t.Errorf("FetchCall = %v, %v", got, err)
			}
		})
	}
}

func TestGatherActionCarriesDigits(t *testing.T) {
	e := newEnv(t, nil)
	e.app.setRespond(ivr(t))
	const patient = "+447700900320"
	e.sb.SetPersona(Persona{Number: patient, Voice: VoiceBehaviour{Digits: []string{"1", "2"}}})
	if _, err := e.api.Api.CreateCall(call(patient, "/voice/start")); err != nil {
		t.Fatal(err)
	}
	e.waitHooks(t, "/voice/status", 1)
	for path, digits := range map[string]string{"/voice/q1": "1", "/voice/q2": "2"} {
		hooks := e.app.hooksAt(path)
		if len(hooks) != 1 || !hooks[0].SigValid || hooks[0].Form.Get("Digits") != digits {
			t.Errorf("%s: %+v", path, hooks)
		}
	}
}

func TestCallStatusEvents(t *testing.T) {
	e := newEnv(t, nil)
	e.app.setRespond(ivr(t))
	p := call("+447700900000", "/voice/start").SetStatusCallbackEvent([]string{"initiated", "ringing", "answered", "completed"})
	if _, err := e.api.Api.CreateCall(p); err != nil {
		t.Fatal(err)
	}
	e.waitHooks(t, "/voice/status", 4)
	e.idle(t)
	var got []string
	for _, h := range e.app.hooksAt("/voice/status") {
		if !h.SigValid {
			t.Error("bad signature")
		}
		got = append(got, h.Form.Get("CallStatus"))
	}
	if want := []string{"initiated", "ringing", "in-progress", "completed"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestCreateCallErrors(t *testing.T) {
	tests := []struct {
		name   string
		params *api.CreateCallParams
		code   int
	}{
		{"invalid persona", call("+447700900008", "/voice/start"), 21211},
		{"not E.164", call("01603 000000", "/voice/start"), 21211},
		{"no To", (&api.CreateCallParams{}).SetFrom(senderNum).SetUrl("/voice/start"), 21201},
		{"no From", (&api.CreateCallParams{}).SetTo("+447700900000").SetUrl("/voice/start"), 21213},
		{"no Url", (&api.CreateCallParams{}).SetTo("+447700900000").SetFrom(senderNum), 21205},
	}
	e := newEnv(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.api.Api.CreateCall(tt.params)
			if code, status, ok := twilioapi.ErrorCode(err); !ok || code != tt.code || status != 400 {
				t.Errorf("err = %v, want code %d", err, tt.code)
			}
		})
	}
	if n := len(e.sb.Calls()); n != 0 {
		t.Errorf("%d refused calls recorded", n)
	}
}

func TestCancelQueuedCall(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CallbackDelay = 50 * time.Millisecond })
	e.app.setRespond(ivr(t))
	res, err := e.api.Api.CreateCall(call("+447700900000", "/voice/start"))
	if err != nil {
		t.Fatal(err)
	}
	upd, err := e.api.Api.UpdateCall(*res.Sid, (&api.UpdateCallParams{}).SetStatus("canceled"))
	if err != nil || *upd.Status != "canceled" {
		t.Fatalf("UpdateCall = %v, %v", upd, err)
	}
	final := e.waitHooks(t, "/voice/status", 1)[0]
	if final.Form.Get("CallStatus") != "canceled" || len(e.app.hooksAt("/voice/start")) != 0 {
		t.Errorf("final %v", final.Form)
	}
}

func TestDefaultPersonaCalls(t *testing.T) {
	tests := []struct {
		number, status string
		pressed        []string
	}{
		{"+447700900000", "completed", []string{"1", "1"}},
		{"+447700900011", "completed", []string{"2", "2"}},
		{"+447700900024", "no-answer", nil},
		{"+447700900035", "busy", nil},
		{"+447700900992", "failed", nil},
	}
	for _, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			e := newEnv(t, nil)
			e.app.setRespond(ivr(t))
			res, err := e.api.Api.CreateCall(call(tt.number, "/voice/start"))
			if err != nil {
				t.Fatal(err)
			}
			e.waitHooks(t, "/voice/status", 1)
			c, _ := e.sb.Call(*res.Sid)
			if c.Status != tt.status || !slices.Equal(c.Pressed(), tt.pressed) {
				t.Errorf("status %q pressed %q; transcript %+v", c.Status, c.Pressed(), c.Transcript)
			}
		})
	}
}

func TestListCallsFindsEarlierCall(t *testing.T) {
	e := newEnv(t, nil)
	e.app.setRespond(ivr(t))
	to, other := "+447700900330", "+447700900331"
	var sids []string
	for _, n := range []string{to, other, to} {
		res, err := e.api.Api.CreateCall(call(n, "/voice/start"))
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, *res.Sid)
	}
	lp := &api.ListCallParams{}
	lp.SetTo(to)
	lp.SetFrom(senderNum)
	lp.SetLimit(20)
	got, err := e.api.Api.ListCall(lp)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || *got[0].Sid != sids[2] || *got[1].Sid != sids[0] || *got[0].To != to || got[0].DateCreated == nil {
		t.Fatalf("list = %+v", got)
	}
	lp.SetFrom("+441603999999")
	if got, err := e.api.Api.ListCall(lp); err != nil || len(got) != 0 {
		t.Fatalf("another caller's calls: %d, %v", len(got), err)
	}
}
