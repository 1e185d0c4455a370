package sandbox

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// machineListens is how long (simulated seconds) a voicemail records
// before it hangs up.
const machineListens = 60

// runCall rings the persona, plays the call if it is answered and posts the
// final status callback.
func (s *Server) runCall(ctx context.Context, sid string) {
	s.mu.Lock()
	rec, ok := s.calls[sid]
	if !ok {
		s.mu.Unlock()
		return
	}
	canceled := rec.Status == "canceled"
	p := s.personaLocked(rec.To)
	if !canceled {
		s.setCallStatusLocked(rec, "ringing")
		s.changedLocked()
	}
	s.mu.Unlock()
	if canceled {
		s.finishCall(ctx, sid, "canceled")
		return
	}
	s.callEvent(ctx, sid, "initiated", "initiated")
	s.callEvent(ctx, sid, "ringing", "ringing")

	switch p.Voice.Answer {
	case AnswerBusy:
		s.finishCall(ctx, sid, "busy")
		return
	case AnswerNoAnswer:
		s.finishCall(ctx, sid, "no-answer")
		return
	case AnswerFailed:
		s.finishCall(ctx, sid, "failed")
		return
	}

	s.mu.Lock()
	if rec.Status == "canceled" {
		s.mu.Unlock()
		s.finishCall(ctx, sid, "canceled")
		return
	}
	rec.started = time.Now().UTC()
	rec.AnsweredBy = answeredBy(rec.MachineDetection, p.Voice.Answer)
	s.setCallStatusLocked(rec, "in-progress")
	d := &dialog{s: s, sid: sid, persona: p, rec: rec.snapshot()}
	s.changedLocked()
	s.mu.Unlock()
	s.log.Info("sandbox call answered", "sid", sid, "answered_by", d.rec.AnsweredBy)
	s.callEvent(ctx, sid, "answered", "in-progress")

	d.run(ctx)

	s.mu.Lock()
	rec.Duration = int(math.Ceil(d.seconds))
	s.mu.Unlock()
	s.finishCall(ctx, sid, "completed")
}

func answeredBy(detection, answer string) string {
	if detection == "" {
		return ""
	}
	switch answer {
	case AnswerMachine:
		if strings.EqualFold(detection, "DetectMessageEnd") {
			return "machine_end_beep"
		}
		return "machine_start"
	case AnswerFax:
		return "fax"
	default:
		return "human"
	}
}

// finishCall sets the final status and posts the status callback, which
// Twilio sends whatever StatusCallbackEvent says.
func (s *Server) finishCall(ctx context.Context, sid, status string) {
	s.mu.Lock()
	rec, ok := s.calls[sid]
	if !ok {
		s.mu.Unlock()
		return
	}
	s.setCallStatusLocked(rec, status)
	rec.ended = time.Now().UTC()
	s.changedLocked()
	s.mu.Unlock()
	s.log.Info("sandbox call ended", "sid", sid, "status", status)
	s.callEvent(ctx, sid, "completed", status)
}

// callEvent posts a call status callback for event if the call asked for
// it ("completed" always).
func (s *Server) callEvent(ctx context.Context, sid, event, status string) {
	s.mu.Lock()
	rec, ok := s.calls[sid]
	if !ok || rec.StatusCallback == "" || (event != "completed" && !slices.Contains(rec.StatusCallbackEvents, event)) {
		s.mu.Unlock()
		return
	}
	params := callParams(rec)
	params.Set("CallStatus", status)
	params.Set("CallbackSource", "call-progress-events")
	params.Set("SequenceNumber", strconv.Itoa(rec.seq))
	params.Set("Timestamp", twilioTime(time.Now()))
	rec.seq++
	if event == "completed" {
		params.Set("CallDuration", strconv.Itoa(rec.Duration))
		params.Set("Duration", strconv.Itoa((rec.Duration+59)/60))
	}
	target, method := rec.StatusCallback, rec.StatusCallbackMethod
	s.mu.Unlock()
	if _, _, err := s.send(ctx, KindCallStatus, method, target, params); err != nil {
		s.log.Warn("sandbox call status callback failed", "sid", sid, "status", status, "err", err)
	}
}

// dialog plays one answered call.
type dialog struct {
	s       *Server
	sid     string
	persona Persona
	rec     Call // snapshot taken at answer time

	fetches int
	prompts int
	digits  int // next entry of persona.Voice.Digits
	seconds float64
}

// next is the document to fetch after the current one.
type next struct {
	url    string
	method string
	params url.Values
}

func (d *dialog) step(verb, text string) {
	d.s.mu.Lock()
	if rec, ok := d.s.calls[d.sid]; ok {
		rec.Transcript = append(rec.Transcript, Step{Verb: verb, Text: text})
		d.s.changedLocked()
	}
	d.s.mu.Unlock()
}

func (d *dialog) run(ctx context.Context) {
	var (
		verbs  []verb
		docURL string
		err    error
	)
	if d.rec.Twiml != "" {
		verbs, err = parseTwiML([]byte(d.rec.Twiml))
	} else {
		docURL = d.rec.URL
		verbs, err = d.fetch(ctx, next{url: d.rec.URL, method: d.rec.Method})
	}
	for {
		if err != nil {
			d.step(StepError, err.Error())
			return
		}
		if d.persona.Voice.Answer == AnswerFax {
			d.step(StepCallerHangup, "fax tone")
			return
		}
		n, done := d.play(ctx, verbs, docURL)
		if done || n == nil {
			return
		}
		if d.fetches >= d.s.cfg.MaxTwiMLFetches {
			d.step(StepError, fmt.Sprintf("more than %d TwiML documents", d.s.cfg.MaxTwiMLFetches))
			return
		}
		docURL = n.url
		verbs, err = d.fetch(ctx, *n)
	}
}

func (d *dialog) fetch(ctx context.Context, n next) ([]verb, error) {
	d.fetches++
	d.step(StepFetch, n.url)
	d.s.mu.Lock()
	rec, ok := d.s.calls[d.sid]
	if !ok {
		d.s.mu.Unlock()
		return nil, fmt.Errorf("call %s forgotten", d.sid)
	}
	params := callParams(rec)
	d.s.mu.Unlock()
	for k, vs := range n.params {
		params[k] = vs
	}
	_, body, err := d.s.send(ctx, KindVoice, n.method, n.url, params)
	if err != nil {
		return nil, fmt.Errorf("fetch TwiML: %w", err)
	}
	return parseTwiML(body)
}

// stop reports whether the call must end before the next verb.
func (d *dialog) stop(ctx context.Context) bool {
	if ctx.Err() != nil {
		d.step(StepError, "sandbox closed")
		return true
	}
	d.s.mu.Lock()
	rec, ok := d.s.calls[d.sid]
	hangup := ok && rec.hangup
	d.s.mu.Unlock()
	switch {
	case !ok:
		return true
	case hangup:
		d.step(StepHangup, "completed through the API")
		return true
	case d.seconds >= float64(d.rec.TimeLimit):
		d.step(StepError, "time limit reached")
		return true
	case d.persona.Voice.Answer == AnswerMachine && d.seconds >= machineListens:
		d.step(StepCallerHangup, "voicemail full")
		return true
	}
	return false
}

// play runs verbs and returns the next document to fetch, or done when the
// call is over. Running off the end of the document ends the call.
func (d *dialog) play(ctx context.Context, verbs []verb, docURL string) (*next, bool) {
	for _, v := range verbs {
		if d.stop(ctx) {
			return nil, true
		}
		switch v.XMLName.Local {
		case "Say", "Play", "Pause":
			d.hear(v)
		case "Gather":
			n, done, ok := d.gather(v, docURL)
			if done || ok {
				return n, done
			}
		case "Redirect":
			target, err := d.s.resolve(docURL, v.text())
			if err != nil {
				d.step(StepError, "redirect: "+err.Error())
				return nil, true
			}
			d.step(StepRedirect, target)
			return &next{url: target, method: methodOr(v.attr("method"))}, false
		case "Dial":
			if n, ok := d.dial(ctx, v, docURL); ok {
				return n, n == nil
			}
		case "Hangup", "Reject":
			d.step(StepHangup, v.XMLName.Local)
			return nil, true
		default:
			d.step(StepUnsupported, v.XMLName.Local)
		}
	}
	return nil, true
}

// hear records a Say, Play or Pause and the time it takes.
func (d *dialog) hear(v verb) {
	switch v.XMLName.Local {
	case "Say":
		text := v.spoken()
		loops := intOr(v.attr("loop"), 1)
		for range min(loops, 3) {
			d.step(StepSay, text)
			d.seconds += math.Max(1, float64(len(strings.Fields(text)))/2.5)
		}
	case "Play":
		d.step(StepPlay, v.text())
		d.seconds += 5
	case "Pause":
		length := 1
		if n, err := strconv.Atoi(v.attr("length")); err == nil && n >= 0 {
			length = n
		}
		d.step(StepPause, strconv.Itoa(length))
		d.seconds += float64(length)
	}
}

// gather plays a prompt and lets the persona answer. ok is false when the
// call goes on with the verb after the Gather.
func (d *dialog) gather(v verb, docURL string) (n *next, done, ok bool) {
	d.prompts++
	action, err := d.s.resolve(docURL, v.attr("action"))
	if v.attr("action") == "" {
		action, err = docURL, nil
		if docURL == "" {
			err = fmt.Errorf("no action and no document URL")
		}
	}
	d.step(StepGather, action)
	for _, c := range v.Children {
		if c.XMLName.Local == "Say" || c.XMLName.Local == "Play" || c.XMLName.Local == "Pause" {
			d.hear(c)
		}
	}
	if h := d.persona.Voice.HangupAfter; h > 0 && d.prompts >= h {
		d.step(StepCallerHangup, fmt.Sprintf("during prompt %d", d.prompts))
		return nil, true, true
	}
	pressed, finishedOnKey, checked := d.answerCheck(v)
	if !checked {
		pressed, finishedOnKey = d.press(v)
	}
	params := url.Values{}
	if pressed == "" {
		d.seconds += float64(intOr(v.attr("timeout"), 5))
		d.step(StepTimeout, "")
		if v.attr("actionOnEmptyResult") != "true" {
			return nil, false, false
		}
	} else {
		d.seconds += float64(len(pressed))
		d.step(StepDigits, pressed)
		params.Set("Digits", pressed)
		if finishedOnKey != "" {
			params.Set("FinishedOnKey", finishedOnKey)
		}
		params.Set("msg", "Gather End")
	}
	if err != nil {
		d.step(StepError, "gather action: "+err.Error())
		return nil, true, true
	}
	return &next{url: action, method: methodOr(v.attr("method")), params: params}, false, true
}

// answerCheck answers a call's identity check as the persona would,
// without using an entry of Digits: the Identify key at "If you are
// <name>, press 1", and the BirthDate at a Gather of several keys ended
// by #. ok is false for any other Gather.
func (d *dialog) answerCheck(v verb) (digits, finishedOnKey string, ok bool) {
	vb := d.persona.Voice
	if vb.Answer == AnswerMachine || (vb.Identify == "" && vb.BirthDate == "") {
		// A persona that does not play the check presses its Digits.
		return "", "", false
	}
	var prompt strings.Builder
	for _, c := range v.Children {
		prompt.WriteString(c.spoken() + " ")
	}
	switch {
	case strings.Contains(prompt.String(), "If you are"):
		if d.persona.Voice.Identify != "" {
			return d.persona.Voice.Identify, "", true
		}
		return "1", "", true
	case d.persona.Voice.BirthDate != "" && v.attr("numDigits") == "" && len(d.persona.Voice.BirthDate) == 10:
		b := d.persona.Voice.BirthDate
		if strings.Contains(strings.ToLower(prompt.String()), "year") {
			return b[:4], "#", true
		}
		return b[8:10] + b[5:7], "#", true
	}
	return "", "", false
}

// press returns the persona's next keys for a Gather, cut at numDigits or
// finishOnKey as Twilio would.
func (d *dialog) press(v verb) (digits, finishedOnKey string) {
	if d.persona.Voice.Answer == AnswerMachine || d.digits >= len(d.persona.Voice.Digits) {
		return "", ""
	}
	digits = d.persona.Voice.Digits[d.digits]
	d.digits++
	finish := "#"
	for _, a := range v.Attrs {
		if a.Name.Local == "finishOnKey" {
			finish = a.Value
		}
	}
	if finish != "" {
		if i := strings.Index(digits, finish); i >= 0 {
			digits, finishedOnKey = digits[:i], finish
		}
	}
	if n := intOr(v.attr("numDigits"), 0); n > 0 && len(digits) > n {
		digits = digits[:n]
	}
	return digits, finishedOnKey
}

// dial simulates connecting the call to a number. ok is true when the
// document ends here: n is the action to fetch, or nil to end the call.
// A <Number url="..."> whisper is played to the persona of the number
// dialled (the team member), who accepts by leaving the whisper without
// a hangup; a whisper that hangs up does not connect, and Twilio still
// reports the Dial as completed.
func (d *dialog) dial(ctx context.Context, v verb, docURL string) (n *next, ok bool) {
	number, whisper, whisperMethod := v.text(), "", ""
	for _, c := range v.Children {
		if c.XMLName.Local == "Number" {
			number, whisper, whisperMethod = c.text(), c.attr("url"), methodOr(c.attr("method"))
		}
	}
	status := d.s.cfg.DialCallStatus
	if d.persona.Voice.DialStatus != "" {
		status = d.persona.Voice.DialStatus
	}
	connected := status == "completed"
	if connected && whisper != "" {
		target, err := d.s.resolve(docURL, whisper)
		if err != nil {
			d.step(StepError, "whisper url: "+err.Error())
			return nil, true
		}
		status, connected = d.whisper(ctx, number, target, whisperMethod)
	}
	duration := 0
	if connected {
		duration = 30
	}
	d.seconds += float64(duration + 5)
	d.step(StepDial, number+" "+status)
	if v.attr("action") == "" {
		return nil, false
	}
	action, err := d.s.resolve(docURL, v.attr("action"))
	if err != nil {
		d.step(StepError, "dial action: "+err.Error())
		return nil, true
	}
	return &next{url: action, method: methodOr(v.attr("method")), params: url.Values{
		"DialCallStatus":   {status},
		"DialCallSid":      {newSID("CA")},
		"DialCallDuration": {strconv.Itoa(duration)},
	}}, true
}

// whisper plays a <Number url> document to the persona of the number
// dialled, as the child call Twilio places. Their telephone may ring out
// or be busy; if they answer, they hear the whisper and press their
// Digits at its Gathers. The call connects when the whisper ends without
// a hangup. What they hear and press is in the transcript as StepWhisper.
func (d *dialog) whisper(ctx context.Context, number, target, method string) (status string, connected bool) {
	d.s.mu.Lock()
	team := d.s.personaLocked(number)
	rec, ok := d.s.calls[d.sid]
	params := url.Values{}
	if ok {
		params = callParams(rec)
	}
	d.s.mu.Unlock()
	switch team.Voice.Answer {
	case AnswerBusy, AnswerNoAnswer, AnswerFailed:
		return team.Voice.Answer, false
	}
	child := newSID("CA")
	params.Set("ParentCallSid", d.sid)
	params.Set("CallSid", child)
	params.Set("To", number)
	params.Set("Called", number)
	params.Set("Direction", "outbound-dial")
	params.Set("CallStatus", "in-progress")
	pressed := 0
	for range d.s.cfg.MaxTwiMLFetches {
		_, body, err := d.s.send(ctx, KindVoice, method, target, params)
		if err != nil {
			d.step(StepError, "whisper: "+err.Error())
			return "failed", false
		}
		verbs, err := parseTwiML(body)
		if err != nil {
			d.step(StepError, "whisper: "+err.Error())
			return "failed", false
		}
		var nextURL string
		for _, v := range verbs {
			switch v.XMLName.Local {
			case "Say":
				d.step(StepWhisper, v.spoken())
			case "Hangup", "Reject":
				d.step(StepWhisper, "team member's call hung up")
				return "completed", false
			case "Gather":
				for _, c := range v.Children {
					if c.XMLName.Local == "Say" {
						d.step(StepWhisper, c.spoken())
					}
				}
				keys := ""
				if pressed < len(team.Voice.Digits) {
					keys = team.Voice.Digits[pressed]
					pressed++
				}
				d.step(StepWhisper, "team member pressed "+strconv.Quote(keys))
				if keys == "" && v.attr("actionOnEmptyResult") != "true" {
					continue
				}
				if nextURL, err = d.s.resolve(target, v.attr("action")); err != nil {
					d.step(StepError, "whisper gather action: "+err.Error())
					return "failed", false
				}
				params = cloneValues(params)
				params.Set("Digits", keys)
				method = methodOr(v.attr("method"))
			}
			if nextURL != "" {
				break
			}
		}
		if nextURL == "" {
			d.step(StepWhisper, "connected")
			return "completed", true
		}
		target = nextURL
	}
	d.step(StepError, "whisper: too many documents")
	return "failed", false
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
