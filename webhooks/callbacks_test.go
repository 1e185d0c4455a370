package webhooks_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/internal/logbuf"
	"github.com/protectnow/protect/internal/spool"
	"github.com/protectnow/protect/ivr"
	"github.com/protectnow/protect/twilioapi"
)

// captureLogs sends the handler's log to a buffer the test reads.
func (w *world) captureLogs() *logbuf.Buffer {
	buf := &logbuf.Buffer{}
	w.handler.Logger = slog.New(slog.NewTextHandler(buf, nil))
	return buf
}

// postSig posts a form with the given signature (a forged one if sig is
// not empty, a valid one otherwise).
func (w *world) postSig(path string, form url.Values, sig string) int {
	w.t.Helper()
	if sig == "" {
		sig = twilioapi.Sign(gatewaytest.Token, w.app.URL+path, form)
	}
	req, _ := http.NewRequest(http.MethodPost, w.app.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// sentAttempt returns patient p's sent first message (its attempt and
// SID), put back to state sent with no status recorded, once the
// sandbox's own callbacks for it are over, so the test decides what
// follows.
func (w *world) sentAttempt(p int) (int64, string) {
	w.t.Helper()
	var id int64
	var sid string
	if err := w.st.Pool().QueryRow(context.Background(), `SELECT a.id, a.provider_sid FROM attempts a
		JOIN patients pt ON pt.id = a.patient_id WHERE pt.mobile = $1 AND a.provider_sid IS NOT NULL`,
		w.numbers[p]).Scan(&id, &sid); err != nil {
		w.t.Fatal(err)
	}
	w.eventually("the sandbox's delivery callback", 10*time.Second, func() bool {
		return w.count(`SELECT count(*) FROM status_events WHERE provider_sid = $1 AND status = 'delivered'`, sid) == 1
	})
	if _, err := w.st.Pool().Exec(context.Background(), `UPDATE attempts SET state = 'sent' WHERE id = $1;`, id); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.st.Pool().Exec(context.Background(), `DELETE FROM status_events WHERE provider_sid = $1`, sid); err != nil {
		w.t.Fatal(err)
	}
	return id, sid
}

// callAttempt makes patient p's first attempt a placed call with SID
// sid, in state sent, as the IVR records a call Twilio accepted.
func (w *world) callAttempt(p int, sid string) int64 {
	w.t.Helper()
	var id int64
	if err := w.st.Pool().QueryRow(context.Background(), `UPDATE attempts a SET channel = 'voice', provider_sid = $2,
		state = 'sent' FROM patients pt WHERE pt.id = a.patient_id AND pt.mobile = $1 AND a.provider_sid IS NOT NULL
		RETURNING a.id`, w.numbers[p], sid).Scan(&id); err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) attemptState(id int64) string {
	w.t.Helper()
	var st string
	if err := w.st.Pool().QueryRow(context.Background(), `SELECT state FROM attempts WHERE id = $1`, id).Scan(&st); err != nil {
		w.t.Fatal(err)
	}
	return st
}

func callSID(n int) string { return fmt.Sprintf("CA%032d", n) }

// callbackCase is one status callback posted in turn on one attempt.
type callbackCase struct {
	name    string
	status  string // the callback's status
	sid     string // the SID it names ("" the attempt's)
	attempt string // the attempt it names ("" the attempt's)
	forged  bool
	want    int
	state   string // the attempt's state after it
	log     string // a refusal logged with this reason ("" none)
}

// runCallbacks posts the cases in turn through the real handlers, with
// Twilio's fields for a message or a call status callback, and checks
// the answer, the attempt's state and the refusal logged.
func runCallbacks(t *testing.T, w *world, path, sidField, statusField string, attempt int64, sid string, cases []callbackCase) {
	logs := w.captureLogs()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"AccountSid": {gatewaytest.SID}, "To": {w.numbers[0]}, "From": {gatewaytest.Sender}}
			form.Set(sidField, sid)
			if tc.sid != "" {
				form.Set(sidField, tc.sid)
			}
			if tc.status != "" {
				form.Set(statusField, tc.status)
			}
			a := strconv.FormatInt(attempt, 10)
			if tc.attempt != "" {
				a = tc.attempt
			}
			sig := ""
			if tc.forged {
				sig = twilioapi.Sign("0123456789abcdef0123456789abcdef", w.app.URL+path+"?attempt="+a, form)
			}
			logs.Take()
			if got := w.postSig(path+"?attempt="+a, form, sig); got != tc.want {
				t.Errorf("answered %d, want %d", got, tc.want)
			}
			if got := w.attemptState(attempt); got != tc.state {
				t.Errorf("attempt state %s, want %s", got, tc.state)
			}
			logged := logs.Take()
			refused := strings.Contains(logged, "webhook refused")
			switch {
			case tc.log == "" && refused:
				t.Errorf("accepted callback logged a refusal: %s", logged)
			case tc.log != "" && (!refused || !strings.Contains(logged, "reason="+tc.log+" ")):
				t.Errorf("refusal not logged with reason %s: %q", tc.log, logged)
			}
			if strings.Contains(logged, w.numbers[0]) || strings.Contains(logged, gatewaytest.Sender) {
				t.Errorf("a phone number was logged: %s", logged)
			}
		})
	}
}

// Message status callbacks through the real handlers: only forward
// moves, repeats change nothing, and every refusal is a logged 4xx.
func TestSMSStatusCallbackTable(t *testing.T) {
	w := newWorld(t, 1, spool.Options{})
	attempt, sid := w.sentAttempt(0)
	other := msgSID(9, 9)
	runCallbacks(t, w, "/webhooks/twilio/sms/status", "MessageSid", "MessageStatus", attempt, sid, []callbackCase{
		{name: "forged signature", status: "delivered", forged: true, want: http.StatusForbidden, state: "sent", log: "signature"},
		{name: "no status", want: http.StatusBadRequest, state: "sent", log: "fields"},
		{name: "unknown status", status: "exploded", want: http.StatusBadRequest, state: "sent", log: "status"},
		{name: "another message's SID", status: "delivered", sid: other, want: http.StatusConflict, state: "sent", log: "status_conflict"},
		{name: "unknown attempt", status: "delivered", attempt: "987654321", want: http.StatusNotFound, state: "sent", log: "unknown_attempt"},
		{name: "delivered", status: "delivered", want: http.StatusNoContent, state: "delivered"},
		{name: "delivered again", status: "delivered", want: http.StatusNoContent, state: "delivered"},
		{name: "canceled after delivered", status: "canceled", want: http.StatusNoContent, state: "delivered"},
		{name: "undelivered after delivered", status: "undelivered", want: http.StatusNoContent, state: "delivered"},
	})
	if got := w.count(`SELECT count(*) FROM status_events WHERE provider_sid = $1 AND status = 'delivered'`, sid); got != 1 {
		t.Errorf("delivered recorded %d times, want 1", got)
	}
	if got := w.count(`SELECT count(*) FROM status_events WHERE provider_sid = $1`, other); got != 0 {
		t.Errorf("the refused callback stored %d events", got)
	}
	if got := w.metric(`protect_webhooks_rejected_total{reason="unknown_attempt"}`); got == "" || got == "0" {
		t.Errorf("refusals of unknown attempts counted %q", got)
	}
}

// Call status callbacks through the real handlers, the same way.
func TestCallStatusCallbackTable(t *testing.T) {
	w := newWorld(t, 1, spool.Options{})
	sid := callSID(1)
	attempt := w.callAttempt(0, sid)
	runCallbacks(t, w, "/webhooks/twilio/voice/status", "CallSid", "CallStatus", attempt, sid, []callbackCase{
		{name: "forged signature", status: "completed", forged: true, want: http.StatusForbidden, state: "sent", log: "signature"},
		{name: "no status", want: http.StatusBadRequest, state: "sent", log: "fields"},
		{name: "a message SID", status: "completed", sid: msgSID(0, 0), want: http.StatusBadRequest, state: "sent", log: "fields"},
		{name: "unknown status", status: "exploded", want: http.StatusBadRequest, state: "sent", log: "status"},
		{name: "another call's SID", status: "completed", sid: callSID(2), want: http.StatusConflict, state: "sent", log: "status_conflict"},
		{name: "unknown attempt", status: "completed", attempt: "987654321", want: http.StatusNotFound, state: "sent", log: "unknown_attempt"},
		{name: "ringing changes nothing", status: "ringing", want: http.StatusNoContent, state: "sent"},
		// No dialog began: the call ended before it, so unanswered.
		{name: "completed", status: "completed", want: http.StatusNoContent, state: "unanswered"},
		{name: "completed again", status: "completed", want: http.StatusNoContent, state: "unanswered"},
		{name: "failed after completed", status: "failed", want: http.StatusNoContent, state: "unanswered"},
		{name: "canceled after completed", status: "canceled", want: http.StatusNoContent, state: "unanswered"},
	})
	if got := w.count(`SELECT count(*) FROM status_events WHERE provider_sid = $1 AND status = 'completed'`, sid); got != 1 {
		t.Errorf("completed recorded %d times, want 1", got)
	}
}

// While PostgreSQL is unavailable a call's status callback is kept and
// answered 204, and a repeat goes behind it; when PostgreSQL is back it
// is applied once, and a replay repeated changes nothing.
func TestCallStatusSpooledWhilePostgresDown(t *testing.T) {
	w := newWorld(t, 1, spool.Options{})
	sid := callSID(3)
	attempt := w.callAttempt(0, sid)
	path := "/webhooks/twilio/voice/status?attempt=" + strconv.FormatInt(attempt, 10)
	form := url.Values{"CallSid": {sid}, "CallStatus": {"no-answer"}, "AccountSid": {gatewaytest.SID},
		"To": {w.numbers[0]}, "From": {gatewaytest.Sender}}

	w.proxy.Down()
	for i := range 2 { // Twilio's callback and a repeat
		if status, body := w.post(path, form); status != http.StatusNoContent || body != "" {
			t.Fatalf("call status callback %d while PostgreSQL is down: %d %q", i, status, body)
		}
	}
	if d, _ := w.handler.Spool.Stats(); d != 2 {
		t.Fatalf("spool depth %d, want 2", d)
	}
	if got := w.count(`SELECT count(*) FROM status_events WHERE provider_sid = $1`, sid); got != 0 {
		t.Fatalf("%d status events reached PostgreSQL through a closed proxy", got)
	}

	w.proxy.Up()
	w.replay()
	w.eventually("spool drained", 30*time.Second, func() bool {
		d, _ := w.handler.Spool.Stats()
		return d == 0
	})
	if got := w.attemptState(attempt); got != "unanswered" {
		t.Errorf("attempt state %s after replay, want unanswered", got)
	}
	if got := w.count(`SELECT count(*) FROM status_events WHERE provider_sid = $1 AND status = 'no-answer'`, sid); got != 1 {
		t.Errorf("spooled call status applied %d times, want 1", got)
	}
	next := w.count(`SELECT count(*) FROM attempts a JOIN attempts b ON b.campaign_id = a.campaign_id
		AND b.patient_id = a.patient_id AND b.id <> a.id WHERE a.id = $1`, attempt)

	// Replayed again (the acknowledgement never reached the disk):
	// nothing changes.
	if err := w.handler.Spool.Append(spool.Entry{Kind: "voice_status", Key: "status:" + sid, Received: time.Now(),
		Query: "attempt=" + strconv.FormatInt(attempt, 10), Form: form.Encode()}); err != nil {
		t.Fatal(err)
	}
	if left := w.handler.ReplayOnce(context.Background()); left != 0 {
		t.Fatalf("%d left after replaying again", left)
	}
	if got := w.count(`SELECT count(*) FROM status_events WHERE provider_sid = $1`, sid); got != 1 {
		t.Errorf("status events after replaying again = %d, want 1", got)
	}
	if got := w.count(`SELECT count(*) FROM attempts a JOIN attempts b ON b.campaign_id = a.campaign_id
		AND b.patient_id = a.patient_id AND b.id <> a.id WHERE a.id = $1`, attempt); got != next {
		t.Errorf("replaying again planned %d more attempts", got-next)
	}
	// Live again once the spool is empty.
	if status, _ := w.post(path, form); status != http.StatusNoContent {
		t.Errorf("live call status after recovery: %d", status)
	}
	if d, _ := w.handler.Spool.Stats(); d != 0 {
		t.Errorf("spool depth %d after a live callback", d)
	}
}

// The IVR's dialog webhooks log their refusals too, and while PostgreSQL
// is unavailable they cannot wait: the caller hears an apology and the
// call ends, and so does a team member being put through.
func TestVoiceDialogRefusalsAndOutage(t *testing.T) {
	w := newWorld(t, 1, spool.Options{})
	logs := &logbuf.Buffer{}
	w.extra = ivr.New(ivr.Options{Engine: w.engine, Store: w.db, PublicURL: "http://gateway.invalid",
		Logger: slog.New(slog.NewTextHandler(logs, nil))}).Register
	w.serve(spool.Options{})
	form := url.Values{"CallSid": {callSID(5)}, "AccountSid": {gatewaytest.SID}, "Digits": {"1"}}

	refusals := []struct {
		path   string
		want   int
		reason string
	}{
		{"/webhooks/twilio/voice/gather?attempt=987654321&seq=2", http.StatusNotFound, "unknown_attempt"},
		{"/webhooks/twilio/voice/gather?attempt=1", http.StatusBadRequest, "fields"},
		{"/webhooks/twilio/voice/whisper?attempt=1&call=nonsense", http.StatusBadRequest, "fields"},
	}
	for _, r := range refusals {
		logs.Take()
		if status, _ := w.post(r.path, form); status != r.want {
			t.Errorf("%s: %d, want %d", r.path, status, r.want)
		}
		if got := logs.Take(); !strings.Contains(got, "webhook refused") || !strings.Contains(got, "reason="+r.reason+" ") {
			t.Errorf("%s: refusal not logged with reason %s: %q", r.path, r.reason, got)
		}
	}

	w.proxy.Down()
	for _, tc := range []struct{ path, said string }{
		{"/webhooks/twilio/voice/answer?attempt=1", "cannot take your answers"},
		{"/webhooks/twilio/voice/gather?attempt=1&seq=2", "cannot take your answers"},
		{"/webhooks/twilio/voice/whisper?attempt=1&call=" + callSID(6), "cannot be put through"},
		{"/webhooks/twilio/voice/whisper?attempt=1&step=answer&call=" + callSID(6), "cannot be put through"},
	} {
		status, tw := w.post(tc.path, form)
		if status != http.StatusOK || !strings.Contains(tw, tc.said) || !strings.Contains(tw, "<Hangup") {
			t.Errorf("%s while PostgreSQL is down: %d %q", tc.path, status, tw)
		}
	}
}
