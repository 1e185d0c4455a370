package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/twilio/twilio-go"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/ratelimit"
	"github.com/protectnow/protect/redact"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
	"github.com/protectnow/protect/webhooks"
)

// Options configure an IVR.
type Options struct {
	Engine *outreach.Engine
	Store  *store.Store
	Twilio *twilio.RestClient
	// Calls caps the calls in progress per caller number across every
	// worker; nil places calls without a cap.
	Calls *ratelimit.Semaphore
	// MaxCalls is the cap per caller number (default 10).
	MaxCalls int
	// PublicURL is the base URL Twilio reaches the webhooks on.
	PublicURL string
	Speech    Speech
	Logger    *slog.Logger
	// Now is the clock; tests set it.
	Now func() time.Time
}

// IVR places calls (it is the engine's outreach.Caller) and answers the
// voice webhooks.
type IVR struct {
	o Options
}

// New builds an IVR. Register its routes with the webhooks handler
// (Handler.Extra) and give it to the engine with SetCaller.
func New(o Options) *IVR {
	if o.MaxCalls <= 0 {
		o.MaxCalls = 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Speech = o.Speech.withDefaults()
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	return &IVR{o: o}
}

// unavailableText is said when a call's answers cannot be stored
// (PostgreSQL unavailable). It is fixed English: the templates that would
// render it live in the same database.
const unavailableText = "Sorry, we cannot take your answers at the moment, so we will end this call. " +
	"If you need medical help, call 111, or 999 in an emergency. Goodbye."

// whisperUnavailableText is said to the team member instead of putting a
// patient through when the transfer cannot be recorded (PostgreSQL
// unavailable); the patient's side goes on to the Dial action.
const whisperUnavailableText = "Sorry, this call cannot be put through at the moment. Goodbye."

// voicePath is where the voice webhooks live, under the webhooks group.
const voicePath = "/webhooks/twilio/voice"

func (v *IVR) url(kind string, attempt int64, seq int) string {
	u := v.o.PublicURL + voicePath + "/" + kind + "?attempt=" + strconv.FormatInt(attempt, 10)
	if seq >= 0 {
		u += "&seq=" + strconv.Itoa(seq)
	}
	return u
}

// callerNumber is the number calls come from: the campaign's voice
// sender, else its SMS sender when that is a number.
func callerNumber(w store.Work) string {
	if w.VoiceSender != "" {
		return w.VoiceSender
	}
	if strings.HasPrefix(w.Sender, "+") {
		return w.Sender
	}
	return ""
}

// Call places a claimed voice attempt. A retried task whose call already
// reached Twilio adopts that call; when the caller number has as many
// calls in progress as allowed, the attempt goes back to the plan a few
// seconds later (never failed).
func (v *IVR) Call(ctx context.Context, w store.Work) error {
	log := v.o.Logger.With("attempt", w.AttemptID, "campaign", w.CampaignID)
	from := callerNumber(w)
	if from == "" {
		return v.o.Engine.GiveUpCall(ctx, w, "the campaign has no number to call from (voice_sender)")
	}
	pol, err := outreach.ParsePolicy(w.Policy, true)
	if err != nil {
		return fmt.Errorf("attempt %d: %w", w.AttemptID, err)
	}
	if w.Prepared {
		// An earlier try got as far as asking Twilio for the call and may
		// have placed it before its worker died or its response was
		// lost: adopt it rather than ring again.
		// Our records know it once its webhooks named the attempt; Twilio
		// knows it before (a call still ringing has sent none).
		sid, found, err := v.o.Store.AttemptCallSID(ctx, w.AttemptID)
		if err != nil {
			return err
		}
		if !found {
			if sid, found, err = v.placed(w, from); err != nil {
				// Ringing blind could call the patient twice: try later.
				return v.o.Engine.CallFailed(ctx, w, err)
			}
		}
		if found {
			log.Warn("earlier try had placed the call; adopting it", "tries", w.Tries)
			return v.o.Engine.CallPlaced(ctx, w, sid, from)
		}
	}
	holder := strconv.FormatInt(w.AttemptID, 10)
	if v.o.Calls != nil {
		lease := pol.Ring() + pol.TimeLimit() + time.Minute
		ok, err := v.o.Calls.Acquire(ctx, from, v.o.MaxCalls, lease, holder)
		if err != nil || !ok {
			due := v.o.Now().Add(5*time.Second + rand.N(10*time.Second))
			if err != nil {
				log.Error("call cap unavailable; call held back", "error", err)
			} else {
				log.Info("caller number at its call cap; call held back", "due", due)
			}
			callsHeldBack.Inc()
			return v.o.Store.Reschedule(ctx, w.AttemptID, due)
		}
	}
	// Recorded before Twilio is asked, so that a retry looks for this
	// call first; the step's wait starts when Twilio accepts it.
	if ok, err := v.o.Engine.BeforeCall(ctx, w, from); err != nil || !ok {
		v.release(ctx, from, holder)
		return err
	}
	params := &openapi.CreateCallParams{}
	params.SetTo(w.To)
	params.SetFrom(from)
	params.SetUrl(v.url("answer", w.AttemptID, -1))
	params.SetMethod(http.MethodPost)
	params.SetStatusCallback(v.url("status", w.AttemptID, -1))
	params.SetStatusCallbackMethod(http.MethodPost)
	params.SetStatusCallbackEvent([]string{"completed"})
	params.SetMachineDetection("DetectMessageEnd")
	params.SetTimeout(int(pol.Ring().Seconds()))
	params.SetTimeLimit(int(pol.TimeLimit().Seconds()))
	call, err := v.o.Twilio.Api.CreateCall(params)
	if err != nil {
		v.release(ctx, from, holder)
		return v.o.Engine.CallFailed(ctx, w, err)
	}
	sid := ""
	if call.Sid != nil {
		sid = *call.Sid
	}
	callsPlaced.Inc()
	log.Debug("call placed", "to", redact.Phone(w.To), "step", w.Step, "sid", sid)
	if err := v.o.Engine.CallPlaced(ctx, w, sid, from); err != nil {
		// Twilio has the call; its webhooks and status callback name the
		// attempt and settle it even if this write never lands.
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return nil
}

// placed asks Twilio for a call an earlier try of w placed: one from this
// number to the patient, created since the attempt's first try began.
func (v *IVR) placed(w store.Work, from string) (string, bool, error) {
	params := &openapi.ListCallParams{}
	params.SetTo(w.To)
	params.SetFrom(from)
	params.SetPageSize(20)
	params.SetLimit(20)
	calls, err := v.o.Twilio.Api.ListCall(params)
	if err != nil {
		return "", false, fmt.Errorf("look up earlier calls: %w", err)
	}
	for _, c := range calls {
		if c.Sid != nil && twilioapi.CreatedSince(c.DateCreated, w.FirstClaimedAt) {
			return *c.Sid, true, nil
		}
	}
	return "", false, nil
}

func (v *IVR) release(ctx context.Context, from, holder string) {
	if v.o.Calls == nil || from == "" {
		return
	}
	if _, err := v.o.Calls.Release(context.WithoutCancel(ctx), from, holder); err != nil {
		v.o.Logger.Warn("release call place", "attempt", holder, "error", err)
	}
}

// Register adds the voice dialog webhooks to the signature-checked Twilio
// group (use it as webhooks.Handler.Extra): the answer URL, Gather and
// Dial actions and the transfer's whisper, each naming the attempt. The
// status callback (voice/status) is the webhooks package's: like a
// message's, it is kept while PostgreSQL is unavailable, and the engine
// passes it on to CallEnded.
func (v *IVR) Register(g *gin.RouterGroup) {
	g.POST("/voice/answer", v.answer)
	g.POST("/voice/gather", v.gather)
	g.POST("/voice/dial", v.dial)
	g.POST("/voice/whisper", v.whisper)
}

// CallEnded frees the caller number's place when a call is over (the
// engine's outreach.CallEnder).
func (v *IVR) CallEnded(ctx context.Context, cb outreach.CallStatus) {
	v.release(ctx, cb.From, strconv.FormatInt(cb.AttemptID, 10))
}

func validCallSID(s string) bool { return len(s) == 34 && strings.HasPrefix(s, "CA") }

func (v *IVR) answer(c *gin.Context) { v.step(c, "answer") }
func (v *IVR) gather(c *gin.Context) { v.step(c, "gather") }
func (v *IVR) dial(c *gin.Context)   { v.step(c, "dial") }

// step applies one dialog webhook once and answers with its TwiML.
func (v *IVR) step(c *gin.Context, kind string) {
	f := c.Request.PostForm
	attempt, aerr := strconv.ParseInt(c.Query("attempt"), 10, 64)
	seq := 0
	var serr error
	if kind != "answer" {
		seq, serr = strconv.Atoi(c.Query("seq"))
	}
	sid := f.Get("CallSid")
	if aerr != nil || attempt <= 0 || serr != nil || seq < 0 || !validCallSID(sid) {
		webhooks.Refuse(c, v.o.Logger, http.StatusBadRequest, "fields", "attempt, seq and CallSid are required",
			"kind", kind, "attempt", clip.Text(c.Query("attempt"), 20), "seq", clip.Text(c.Query("seq"), 20), "sid", clip.Text(sid, 40))
		return
	}
	t := turn{kind: kind, digits: f.Get("Digits"), answeredBy: f.Get("AnsweredBy"), dialStatus: f.Get("DialCallStatus")}
	input := t.digits
	if kind == "dial" {
		input = t.dialStatus
	}
	ctx := c.Request.Context()
	needs := false
	tw, replayed, err := v.o.Store.ApplyCallStep(ctx, store.CallStep{SID: sid, AttemptID: attempt, Seq: seq, Input: input,
		AnsweredBy: t.answeredBy}, func(d store.CallDialog) (store.CallChange, error) {
		g, err := v.dialogFor(ctx, d)
		if err != nil {
			return store.CallChange{}, err
		}
		ch, err := g.decide(d, t)
		needs = len(ch.Needs) > 0
		return ch, err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		webhooks.Refuse(c, v.o.Logger, http.StatusNotFound, "unknown_attempt", "unknown call or attempt",
			"kind", kind, "attempt", attempt, "sid", sid)
		return
	case err != nil && store.Unavailable(err):
		// A caller on the line cannot wait for PostgreSQL, and a 500
		// makes Twilio say "an application error has occurred": say
		// sorry plainly and end the call. Nothing of this step is
		// stored.
		v.o.Logger.Error("voice webhook: PostgreSQL unavailable, call ended with an apology", "kind", kind, "attempt", attempt,
			"sid", sid, "error", err)
		tw, terr := (&doc{sp: v.o.Speech}).say([]outreach.Spoken{{Text: unavailableText, Language: "en"}}).hangup().String()
		if terr != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.Data(http.StatusOK, "application/xml; charset=utf-8", []byte(tw))
		return
	case err != nil:
		v.o.Logger.Error("voice webhook failed", "kind", kind, "attempt", attempt, "sid", sid, "error", err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	if replayed {
		voiceReplays.Inc()
	} else if needs {
		// An urgent answer on the phone is escalated as fast as one by SMS.
		v.o.Engine.NeedsRecorded(ctx)
	}
	c.Data(http.StatusOK, "application/xml; charset=utf-8", []byte(tw))
}

// dialogFor builds the dialog of one step of a call.
func (v *IVR) dialogFor(ctx context.Context, d store.CallDialog) (*dialog, error) {
	qn, err := v.o.Engine.Questionnaire(ctx, d.QuestionnaireID)
	if err != nil {
		return nil, err
	}
	vals := outreach.PatientValues(d.GivenName, d.PracticeName, d.PracticePhone, d.ProgrammeName, d.TeamPhone)
	team := d.TeamPhone
	if team == "" {
		team = d.PracticePhone
	}
	from := callerNumber(store.Work{VoiceSender: d.VoiceSender, Sender: d.Sender})
	lang := d.Language
	if !v.o.Speech.speaks(lang) {
		lang = "en"
	}
	return &dialog{
		qn: qn, sp: v.o.Speech,
		say: func(keys ...string) ([]outreach.Spoken, error) {
			return v.o.Engine.VoiceText(ctx, d.CampaignID, lang, vals, keys...)
		},
		gatherURL:  v.url("gather", d.AttemptID, d.Seq+2),
		dialURL:    v.url("dial", d.AttemptID, d.Seq+2),
		whisperURL: v.url("whisper", d.AttemptID, -1) + "&call=" + url.QueryEscape(d.CallSID),
		teamPhone:  e164(team),
		callerID:   from,
		lang:       lang,
		now:        v.o.Now,
	}, nil
}

// whisper is what the team member hears when a patient who pressed 0 is
// put through: who is calling (a patient in a locality, no name or
// health detail) and "press 1 to accept". Pressing 1 is recorded on the
// patient's call and connects it; anything else hangs up the team's leg,
// and the patient is promised a call back.
func (v *IVR) whisper(c *gin.Context) {
	f := c.Request.PostForm
	attempt, err := strconv.ParseInt(c.Query("attempt"), 10, 64)
	sid := c.Query("call")
	if err != nil || attempt <= 0 || !validCallSID(sid) {
		webhooks.Refuse(c, v.o.Logger, http.StatusBadRequest, "fields", "attempt and call are required",
			"kind", "whisper", "attempt", clip.Text(c.Query("attempt"), 20), "sid", clip.Text(sid, 40))
		return
	}
	ctx := c.Request.Context()
	d := &doc{sp: v.o.Speech}
	en := func(text string) []outreach.Spoken { return []outreach.Spoken{{Text: text, Language: "en"}} }
	switch {
	case c.Query("step") == "":
		locality, err := v.o.Store.CallWhisper(ctx, sid, attempt)
		if errors.Is(err, store.ErrNotFound) {
			d.hangup()
			break
		}
		if err != nil && store.Unavailable(err) {
			v.o.Logger.Error("whisper: PostgreSQL unavailable, team member's leg ended with an apology", "attempt", attempt,
				"sid", sid, "error", err)
			d.say(en(whisperUnavailableText)).hangup()
			break
		}
		if err != nil {
			v.o.Logger.Error("whisper failed", "attempt", attempt, "sid", sid, "error", err)
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		about := "a patient"
		if locality != "" {
			about += " in " + locality
		}
		d.gather(v.url("whisper", attempt, -1)+"&call="+url.QueryEscape(sid)+"&step=answer",
			en("Protect call about "+about+". Press 1 to accept."))
	case f.Get("Digits") == "1":
		err := v.o.Store.AcceptTransfer(ctx, sid, attempt)
		if errors.Is(err, store.ErrNotFound) {
			d.hangup()
			break
		}
		if err != nil && store.Unavailable(err) {
			v.o.Logger.Error("accept transfer: PostgreSQL unavailable, team member's leg ended with an apology", "attempt", attempt,
				"sid", sid, "error", err)
			d.say(en(whisperUnavailableText)).hangup()
			break
		}
		if err != nil {
			v.o.Logger.Error("accept transfer failed", "attempt", attempt, "sid", sid, "error", err)
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		// An empty document connects the two calls.
		transfersAccepted.Inc()
	default:
		d.hangup()
	}
	tw, err := d.String()
	if err != nil {
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Data(http.StatusOK, "application/xml; charset=utf-8", []byte(tw))
}
