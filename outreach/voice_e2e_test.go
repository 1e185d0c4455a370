package outreach_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/sandbox"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
)

// Policies for voice tests. The retry gap is cut short by makeDue.
var (
	voiceTwice   = []byte(`{"steps":[{"channel":"voice","wait":"1h"},{"channel":"voice","wait":"1h"}],"conversation_timeout":"1h","call_retry_after":"1m"}`)
	smsThenVoice = []byte(`{"steps":[{"channel":"sms","wait":"1h"},{"channel":"voice","wait":"1h"}],"conversation_timeout":"1h","call_retry_after":"1m"}`)
)

const landline = "+441603123456"

// teamLine is the campaigns' team phone (01603 000000) as a Dial calls it.
const teamLine = "+441603000000"

// makeDue brings planned attempts forward (the retry gap after an
// unanswered call) and ends waits, as time passing would.
func (h *harness) makeDue() {
	h.exec(`UPDATE attempts SET due_at = now() WHERE state = 'planned' AND due_at > now()`)
}

// callsTo returns the sandbox's calls to a number.
func (h *harness) callsTo(number string) []sandbox.Call {
	var out []sandbox.Call
	for _, c := range h.sb.Calls() {
		if c.To == number {
			out = append(out, c)
		}
	}
	return out
}

func (h *harness) outcome(campaignID int64) (string, string) {
	h.t.Helper()
	var oc, reason string
	if err := h.st.Pool().QueryRow(context.Background(), `SELECT coalesce(outcome, ''), outcome_reason FROM campaign_patients WHERE campaign_id = $1`,
		campaignID).Scan(&oc, &reason); err != nil {
		h.t.Fatal(err)
	}
	return oc, reason
}

func TestVoiceCalls(t *testing.T) {
	fine := fineDigits
	tests := []struct {
		name     string
		mobile   string
		landline string
		persona  sandbox.Persona
		policy   []byte
		dup      bool // the sandbox delivers every other webhook twice
		outcome  string
		calls    int
		sms      int
		answers  int
		needs    map[string]int // category -> count
		said     string         // a text said on the last call
		notSaid  string         // never said on any call
	}{
		{name: "landline only: called at once, answers fine", landline: landline,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Digits: fine}}, outcome: "fine", calls: 1, answers: 5,
			said: "press 1"},
		{name: "Twilio repeats every other webhook: applied once", landline: landline, dup: true,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Digits: fine}}, outcome: "fine", calls: 1, answers: 5},
		{name: "needs help", landline: landline, policy: voiceTwice,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Digits: repeatDigits("2", 10)}}, outcome: "need", calls: 1, answers: 5,
			needs: map[string]int{"call-back": 1}},
		{name: "urgent: advice spoken", landline: landline, policy: voiceTwice,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Digits: []string{"1", "1", "2", "2", "1", "1"}}}, outcome: "need", calls: 1, answers: 5,
			needs: map[string]int{"clinical-urgent": 1}, said: "call 9 9 9 now"},
		{name: "repeat and a wrong key", landline: landline, policy: voiceTwice,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Digits: []string{"1", "9", "7", "1", "2", "2", "2", "2"}}}, outcome: "fine", calls: 1, answers: 5,
			said: "Thank you"},
		{name: "machine twice: voicemail, then unreachable", landline: landline, policy: voiceTwice,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Answer: sandbox.AnswerMachine}}, outcome: "unreachable", calls: 2,
			needs: map[string]int{"unreachable": 1}, said: "Please call us back", notSaid: "Voice"},
		{name: "busy twice: unreachable", landline: landline, policy: voiceTwice,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Answer: sandbox.AnswerBusy}}, outcome: "unreachable", calls: 2},
		{name: "no answer twice: unreachable", landline: landline, policy: voiceTwice,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Answer: sandbox.AnswerNoAnswer}}, outcome: "unreachable", calls: 2},
		{name: "fax: number given up at once", landline: landline, policy: voiceTwice,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Answer: sandbox.AnswerFax}}, outcome: "unreachable", calls: 1},
		{name: "silence: goodbye, called again, unreachable", landline: landline, policy: voiceTwice,
			persona: sandbox.Persona{}, outcome: "unreachable", calls: 2, said: "Goodbye"},
		{name: "pressed 0, nobody at the team: call back", landline: landline, policy: voiceTwice,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Digits: []string{"1", "0"}, DialStatus: "no-answer"}}, outcome: "need", calls: 1,
			needs: map[string]int{"call-back": 1}, said: "call you back"},
		{name: "pressed 0, put through to the team", landline: landline, policy: voiceTwice,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Digits: []string{"1", "1", "0"}, DialStatus: "completed"}}, outcome: "need", calls: 1,
			answers: 1, needs: map[string]int{"call-back": 1}},
		{name: "hung up after a need: a person follows up", landline: landline, policy: voiceTwice,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Digits: repeatDigits("2", 10), HangupAfter: 5}}, outcome: "need", calls: 1,
			answers: 1, needs: map[string]int{"call-back": 2}},
		{name: "SMS to a landline (30006): called instead", mobile: testNumber(516), policy: smsThenVoice,
			persona: sandbox.Persona{DeliveryError: 30006, Voice: sandbox.VoiceBehaviour{Digits: fine}}, outcome: "fine", calls: 1, sms: 1, answers: 5},
		{name: "no reply to SMS: called", mobile: testNumber(524), policy: smsThenVoice,
			persona: sandbox.Persona{Voice: sandbox.VoiceBehaviour{Digits: fine}}, outcome: "fine", calls: 1, sms: 1, answers: 5},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *sandbox.Config) {
				if tt.dup {
					c.DuplicateEvery = 2
				}
			})
			ctx := context.Background()
			number := tt.landline
			if number == "" {
				number = tt.mobile
			}
			p := tt.persona
			p.Number, p.Label = number, tt.name
			// The patient confirms who they are (greeting, who, date of
			// birth are the first three prompts); the team member accepts
			// a transfer at the whisper.
			p.Voice.BirthDate = birthDate(tt.mobile)
			h.sb.SetPersona(p)
			h.sb.SetPersona(sandbox.Persona{Number: teamLine, Label: "team member", Voice: sandbox.VoiceBehaviour{Digits: []string{"1"}}})
			h.importCohort("voice", []patient{{nhs(600 + i), "Voicey", tt.mobile, strings.Replace(tt.landline, "+44", "0", 1)}})
			c := h.campaign("voice", "voice", 20, tt.policy)
			if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
				t.Fatal(err)
			}
			h.eventually("an outcome", func() bool {
				h.makeDue()
				h.exec(`UPDATE campaign_patients SET wait_until = now() - interval '1 second' WHERE state = 'contacting' AND channel = 'sms'`)
				oc, _ := h.outcome(c.ID)
				return oc != ""
			})
			h.eventually("calls over", func() bool {
				for _, call := range h.callsTo(number) {
					switch call.Status {
					case "queued", "ringing", "in-progress":
						return false
					}
				}
				return h.count(`SELECT count(*) FROM attempts WHERE state IN ('sending', 'queued', 'sent')`) == 0
			})
			if oc, reason := h.outcome(c.ID); oc != tt.outcome {
				t.Errorf("outcome %q (%s), want %q", oc, reason, tt.outcome)
			}
			calls := h.callsTo(number)
			if len(calls) != tt.calls {
				t.Errorf("%d calls, want %d", len(calls), tt.calls)
			}
			if got := h.sentTo(number); got != tt.sms {
				t.Errorf("%d SMS, want %d", got, tt.sms)
			}
			if got := h.count(`SELECT count(*) FROM answers WHERE channel = 'voice'`); got != tt.answers {
				t.Errorf("%d voice answers, want %d", got, tt.answers)
			}
			for cat, n := range tt.needs {
				if got := h.count(`SELECT count(*) FROM needs WHERE category = $1`, cat); got != n {
					t.Errorf("%d %s needs, want %d", got, cat, n)
				}
			}
			for _, call := range calls {
				if call.MachineDetection == "" || call.Timeout != 30 || call.TimeLimit != 600 {
					t.Errorf("call placed without AMD, ring timeout or time limit: %+v", call)
				}
				said := strings.Join(call.Said(), " | ")
				if strings.Contains(said, "Voicey") && len(call.Pressed()) == 0 {
					t.Errorf("the patient's name was said before they chose to go on: %s", said)
				}
				if tt.notSaid != "" && strings.Contains(said, tt.notSaid) {
					t.Errorf("said %q: %s", tt.notSaid, said)
				}
			}
			if tt.said != "" && len(calls) > 0 {
				if said := strings.Join(calls[len(calls)-1].Said(), " | "); !strings.Contains(said, tt.said) {
					t.Errorf("call did not say %q: %s", tt.said, said)
				}
			}
			if got := h.count(`SELECT count(*) FROM campaign_patients WHERE state = 'done'`); got != 1 {
				t.Errorf("the patient has no outcome")
			}
		})
	}
}

// fineDigits go on from the greeting, say OK and need nothing.
var fineDigits = []string{"1", "1", "2", "2", "2", "2"}

func repeatDigits(d string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// A call cut short with no need reported keeps its answers; the next call
// resumes at the question it stopped at.
func TestVoiceHangupResumesOnNextCall(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	// Hangs up at the third question prompt: after the greeting, the
	// identity check (two prompts) and one answer.
	h.sb.SetPersona(sandbox.Persona{Number: landline, Voice: sandbox.VoiceBehaviour{Digits: repeatDigits("1", 10), HangupAfter: 5,
		BirthDate: birthDate("")}})
	h.importCohort("hangup", []patient{{nhs(700), "Hangs", "", "01603 123456"}})
	c := h.campaign("hangup", "hangup", 20, voiceTwice)
	if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	h.eventually("first call over, second planned", func() bool {
		return h.count(`SELECT count(*) FROM attempts WHERE step = 2 AND state = 'planned'`) == 1
	})
	if got := h.count(`SELECT count(*) FROM answers WHERE channel = 'voice'`); got != 1 {
		t.Fatalf("answers kept from the first call: %d", got)
	}
	var state string
	h.st.Pool().QueryRow(ctx, `SELECT state FROM attempts WHERE step = 1`).Scan(&state)
	if state != "unanswered" {
		t.Fatalf("first attempt %s, want unanswered", state)
	}
	h.sb.SetPersona(sandbox.Persona{Number: landline, Voice: sandbox.VoiceBehaviour{Digits: []string{"1", "2", "2", "2", "2"}, BirthDate: birthDate("")}})
	h.eventually("outcome", func() bool {
		h.makeDue()
		oc, _ := h.outcome(c.ID)
		return oc != ""
	})
	if oc, _ := h.outcome(c.ID); oc != "fine" {
		t.Fatalf("outcome %s", oc)
	}
	calls := h.callsTo(landline)
	if len(calls) != 2 {
		t.Fatalf("%d calls", len(calls))
	}
	said := strings.Join(calls[1].Said(), " | ")
	if strings.Contains(said, "Are you OK?") || !strings.Contains(said, "food") {
		t.Fatalf("second call should resume at the food question: %s", said)
	}
	if got := h.count(`SELECT count(*) FROM answers WHERE channel = 'voice'`); got != 5 {
		t.Fatalf("answers %d, want 5", got)
	}
}

// A task that runs several times (the queue repeats it, the reconciler
// enqueues it again) rings the patient once.
func TestVoiceNoDoubleCall(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	h.sb.SetPersona(sandbox.Persona{Number: landline, Voice: sandbox.VoiceBehaviour{Digits: repeatDigits("1", 10), BirthDate: birthDate("")}})
	h.importCohort("twice", []patient{{nhs(710), "Twice", "", "01603 123456"}})
	c := h.campaign("twice", "twice", 20, voiceTwice)
	attemptID := h.startAlone(c)
	h.exec(`UPDATE attempts SET state = 'queued', queued_at = now() WHERE id = $1`, attemptID)
	payload, _ := json.Marshal(outreach.SendPayload{Attempt: attemptID, Sender: sender, Pace: 20, Channel: outreach.Voice})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.engine.HandleSend(ctx, newTask(payload)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	h.eventually("outcome", func() bool { oc, _ := h.outcome(c.ID); return oc != "" })
	// Once more after the call, as a late duplicate task would.
	if err := h.engine.HandleSend(ctx, newTask(payload)); err != nil {
		t.Fatal(err)
	}
	if got := len(h.callsTo(landline)); got != 1 {
		t.Fatalf("%d calls, want 1", got)
	}
	// A worker that placed the call and died before recording it: the
	// retried claim adopts the call instead of ringing again.
	h.exec(`UPDATE attempts SET state = 'queued', tries = 1, provider_sid = NULL WHERE id = $1`, attemptID)
	h.exec(`UPDATE campaign_patients SET state = 'contacting', outcome = NULL, outcome_at = NULL`)
	if err := h.engine.HandleSend(ctx, newTask(payload)); err != nil {
		t.Fatal(err)
	}
	if got := len(h.callsTo(landline)); got != 1 {
		t.Fatalf("%d calls after a retried claim, want 1", got)
	}
}

// A retried claim asks Twilio for a call an earlier try placed whose
// webhooks have not come yet (it is still ringing, or its response was
// lost), and adopts it; a call from before the attempt began (an earlier
// step's) is not this attempt's, so the patient is called.
func TestVoiceRetryAdoptsACallStillRinging(t *testing.T) {
	tests := []struct {
		name    string
		earlier bool
		want    int
	}{
		{"the dead worker's call is adopted", false, 1},
		{"an earlier step's call is not", true, 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			ctx := context.Background()
			number := fmt.Sprintf("+4416031234%02d", 60+i)
			h.importCohort("ringing", []patient{{nhs(720 + i), "Ringing", "", "01603 1234" + number[len(number)-2:]}})
			attemptID := h.startAlone(h.campaign("ringing", "ringing", 20, voiceTwice))
			w, res, err := h.st.ClaimAttempt(ctx, attemptID, time.Minute)
			if err != nil || res != store.Claimed {
				t.Fatalf("claim: %v %v", res, err)
			}
			// The dead worker got as far as recording the attempt as
			// prepared (what it does just before asking Twilio).
			if ok, err := h.st.PrepareAttempt(ctx, store.Prepared{AttemptID: attemptID, ClaimedAt: w.ClaimedAt, From: sender, Wait: time.Hour}); err != nil || !ok {
				t.Fatalf("prepare: %v %v", ok, err)
			}
			// The call Twilio has; its answer URL goes nowhere, so no
			// webhook tells us about it.
			p := &openapi.CreateCallParams{}
			p.SetTo(number)
			p.SetFrom(sender)
			p.SetUrl("http://127.0.0.1:1/nowhere")
			if _, err := twilioapi.New(sid, token, h.twilio.URL).Api.CreateCall(p); err != nil {
				t.Fatal(err)
			}
			if tt.earlier {
				h.exec(`UPDATE attempts SET first_claimed_at = now() + interval '1 minute' WHERE id = $1`, attemptID)
			}
			h.exec(`UPDATE attempts SET lease_until = now() - interval '1 minute' WHERE id = $1`, attemptID)
			payload, _ := json.Marshal(outreach.SendPayload{Attempt: attemptID, Sender: sender, Pace: 20, Channel: outreach.Voice})
			if err := h.engine.HandleSend(ctx, newTask(payload)); err != nil {
				t.Fatal(err)
			}
			if got := len(h.callsTo(number)); got != tt.want {
				t.Fatalf("%d calls, want %d", got, tt.want)
			}
			if got := h.count(`SELECT count(*) FROM attempts WHERE id = $1 AND provider_sid IS NOT NULL`, attemptID); got != 1 {
				t.Fatalf("attempt not recorded as placed")
			}
		})
	}
}

func newTask(payload []byte) *asynq.Task { return asynq.NewTask(outreach.TaskSend, payload) }

// Voice webhooks sit behind the same signature check as SMS.
func TestVoiceWebhooksNeedASignature(t *testing.T) {
	h := newHarness(t, nil)
	form := url.Values{"CallSid": {"CA" + strings.Repeat("a", 32)}, "AccountSid": {sid}, "CallStatus": {"completed"}}
	for _, path := range []string{"/webhooks/twilio/voice/answer?attempt=1", "/webhooks/twilio/voice/gather?attempt=1&seq=1",
		"/webhooks/twilio/voice/dial?attempt=1&seq=2", "/webhooks/twilio/voice/status?attempt=1"} {
		if resp, _ := h.post(path, form, false); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s unsigned: %d", path, resp.StatusCode)
		}
		if resp, _ := h.post(path, form, true); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s signed, unknown attempt: %d", path, resp.StatusCode)
		}
	}
	if got := h.count(`SELECT count(*) FROM calls`); got != 0 {
		t.Fatalf("refused webhooks stored %d calls", got)
	}
}
