package sandbox

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/protectnow/protect/twilioapi"
)

// Transcript step kinds (Step.Verb).
const (
	StepFetch        = "fetch"         // a TwiML document was requested (Text: URL)
	StepSay          = "say"           // Text: what was said
	StepPlay         = "play"          // Text: the audio URL
	StepPause        = "pause"         // Text: seconds
	StepGather       = "gather"        // a prompt started (Text: action URL)
	StepDigits       = "digits"        // the persona pressed keys (Text: the digits)
	StepTimeout      = "timeout"       // a Gather ended without input
	StepRedirect     = "redirect"      // Text: the target URL
	StepDial         = "dial"          // Text: number and DialCallStatus
	StepWhisper      = "whisper"       // the team member's leg of a Dial: what they heard and pressed
	StepHangup       = "hangup"        // the application hung up
	StepCallerHangup = "caller-hangup" // the persona hung up
	StepError        = "error"         // fetch or TwiML failure, loop limit (Text: why)
	StepUnsupported  = "unsupported"   // a verb the sandbox skips (Text: its name)
)

// Step is one line of a call's transcript.
type Step struct {
	Verb string
	Text string
}

// Call is a snapshot of one outbound call.
type Call struct {
	SID                  string
	AccountSID           string
	From                 string
	To                   string
	Status               string // queued, ringing, in-progress, completed, busy, no-answer, failed, canceled
	AnsweredBy           string // with MachineDetection: human, machine_start, machine_end_beep, fax
	URL                  string
	Method               string
	Twiml                string
	StatusCallback       string
	StatusCallbackMethod string
	StatusCallbackEvents []string
	MachineDetection     string
	Timeout              int
	TimeLimit            int
	Duration             int // simulated seconds
	Transcript           []Step
	History              []string
	Created              time.Time
	Updated              time.Time
}

// Said returns everything the application said (Say), in order.
func (c Call) Said() []string { return c.stepTexts(StepSay) }

// Pressed returns the digits the persona pressed, one entry per Gather.
func (c Call) Pressed() []string { return c.stepTexts(StepDigits) }

// Whispered returns what the team member's leg of a Dial heard and
// pressed (a <Number url> whisper).
func (c Call) Whispered() []string { return c.stepTexts(StepWhisper) }

func (c Call) stepTexts(kind string) []string {
	var out []string
	for _, s := range c.Transcript {
		if s.Verb == kind {
			out = append(out, s.Text)
		}
	}
	return out
}

type callRec struct {
	Call
	hangup  bool // Status=completed requested while in progress
	started time.Time
	ended   time.Time
	seq     int
}

func (c *callRec) snapshot() Call {
	out := c.Call
	out.Transcript = slices.Clone(c.Transcript)
	out.History = slices.Clone(c.History)
	out.StatusCallbackEvents = slices.Clone(c.StatusCallbackEvents)
	return out
}

func (s *Server) createCall(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, newAPIError(http.StatusBadRequest, 20001, "Could not parse request: %v", err))
		return
	}
	f := r.PostForm
	to, from := strings.TrimSpace(f.Get("To")), strings.TrimSpace(f.Get("From"))
	rawURL, twiml := f.Get("Url"), f.Get("Twiml")
	switch {
	case to == "":
		writeError(w, newAPIError(http.StatusBadRequest, 21201, "No 'To' number is specified"))
		return
	case from == "":
		writeError(w, newAPIError(http.StatusBadRequest, 21213, "No 'From' number is specified"))
		return
	case !e164.MatchString(from):
		writeError(w, newAPIError(http.StatusBadRequest, 21212, "The 'From' number %s is not a valid phone number.", from))
		return
	case rawURL == "" && twiml == "":
		writeError(w, newAPIError(http.StatusBadRequest, 21205, "Url parameter is required."))
		return
	}
	if twiml != "" {
		if _, err := parseTwiML([]byte(twiml)); err != nil {
			writeError(w, newAPIError(http.StatusBadRequest, 21660, "Twiml is not valid: %v", err))
			return
		}
	}
	if rawURL != "" {
		abs, err := s.resolve("", rawURL)
		if err != nil {
			writeError(w, newAPIError(http.StatusBadRequest, 21205, "Url is not a valid URL: %s", rawURL))
			return
		}
		rawURL = abs
	}
	callback := f.Get("StatusCallback")
	if callback != "" {
		abs, err := s.resolve("", callback)
		if err != nil {
			writeError(w, newAPIError(http.StatusBadRequest, 21609, "The StatusCallback URL %s is not a valid URL.", callback))
			return
		}
		callback = abs
	}
	var events []string
	for _, v := range f["StatusCallbackEvent"] {
		events = append(events, strings.Fields(v)...)
	}
	now := time.Now().UTC()
	rec := &callRec{Call: Call{
		SID:                  newSID("CA"),
		AccountSID:           s.cfg.AccountSID,
		From:                 from,
		To:                   to,
		Status:               "queued",
		URL:                  rawURL,
		Method:               methodOr(f.Get("Method")),
		Twiml:                twiml,
		StatusCallback:       callback,
		StatusCallbackMethod: methodOr(f.Get("StatusCallbackMethod")),
		StatusCallbackEvents: events,
		MachineDetection:     f.Get("MachineDetection"),
		Timeout:              intOr(f.Get("Timeout"), 60),
		TimeLimit:            intOr(f.Get("TimeLimit"), 14400),
		History:              []string{"queued"},
		Created:              now,
		Updated:              now,
	}}

	s.mu.Lock()
	p := s.personaLocked(to)
	if !e164.MatchString(to) || p.CreateError == 21211 {
		s.mu.Unlock()
		s.log.Info("sandbox call refused", "to", twilioapi.Redact(to), "code", 21211)
		writeError(w, createError(21211, to))
		return
	}
	s.calls[rec.SID] = rec
	s.callOrder = append(s.callOrder, rec.SID)
	res := callResource(rec)
	s.changedLocked()
	s.mu.Unlock()

	s.log.Info("sandbox call created", "sid", rec.SID, "to", twilioapi.Redact(to), "persona", p.Label)
	sid := rec.SID
	s.sched.after(context.Background(), s.cfg.CallbackDelay, func(ctx context.Context) { s.runCall(ctx, sid) })
	writeJSON(w, http.StatusCreated, res)
}

func (s *Server) fetchCall(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	s.mu.Lock()
	rec, ok := s.calls[strings.TrimSuffix(file, ".json")]
	var res callJSON
	if ok {
		res = callResource(rec)
	}
	s.mu.Unlock()
	if !ok || !strings.HasSuffix(file, ".json") {
		s.notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

type callList struct {
	Calls []callJSON `json:"calls"`
	page
}

// listCalls answers GET Calls.json filtered by To and From, newest first,
// as Twilio does. Gateways use it to find out whether a call whose
// response was lost was placed.
func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, from := q.Get("To"), q.Get("From")
	size := pageSize(r)
	s.mu.Lock()
	res := callList{page: newPage(r, size), Calls: newest(s.callOrder, s.calls, size,
		func(rec *callRec) bool { return (to == "" || rec.To == to) && (from == "" || rec.From == from) }, callResource)}
	s.mu.Unlock()
	res.End = len(res.Calls) - 1
	writeJSON(w, http.StatusOK, res)
}

// updateCall supports Status=canceled (a call not yet answered) and
// Status=completed (hang up now, or cancel if not yet answered).
func (s *Server) updateCall(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, newAPIError(http.StatusBadRequest, 20001, "Could not parse request: %v", err))
		return
	}
	file := r.PathValue("file")
	want := r.PostForm.Get("Status")
	if want != "" && want != "canceled" && want != "completed" {
		writeError(w, newAPIError(http.StatusBadRequest, 21218, "Invalid Status %q: must be canceled or completed", want))
		return
	}
	s.mu.Lock()
	rec, ok := s.calls[strings.TrimSuffix(file, ".json")]
	if !ok || !strings.HasSuffix(file, ".json") {
		s.mu.Unlock()
		s.notFound(w, r)
		return
	}
	switch {
	case want == "":
	case rec.Status == "queued" || rec.Status == "ringing":
		s.setCallStatusLocked(rec, "canceled")
	case rec.Status == "in-progress" && want == "completed":
		rec.hangup = true
	}
	res := callResource(rec)
	s.changedLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) setCallStatusLocked(rec *callRec, status string) {
	if rec.Status != status {
		rec.History = append(rec.History, status)
	}
	rec.Status = status
	rec.Updated = time.Now().UTC()
}

func methodOr(m string) string {
	if m == "" {
		return http.MethodPost
	}
	return strings.ToUpper(m)
}

func intOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n
	}
	return def
}

// callJSON is Twilio's JSON call resource.
type callJSON struct {
	AccountSID      string            `json:"account_sid"`
	Annotation      *string           `json:"annotation"`
	AnsweredBy      *string           `json:"answered_by"`
	APIVersion      string            `json:"api_version"`
	CallerName      *string           `json:"caller_name"`
	DateCreated     string            `json:"date_created"`
	DateUpdated     string            `json:"date_updated"`
	Direction       string            `json:"direction"`
	Duration        *string           `json:"duration"`
	EndTime         *string           `json:"end_time"`
	ForwardedFrom   *string           `json:"forwarded_from"`
	From            string            `json:"from"`
	FromFormatted   string            `json:"from_formatted"`
	GroupSID        *string           `json:"group_sid"`
	ParentCallSID   *string           `json:"parent_call_sid"`
	PhoneNumberSID  *string           `json:"phone_number_sid"`
	Price           *string           `json:"price"`
	PriceUnit       string            `json:"price_unit"`
	QueueTime       string            `json:"queue_time"`
	SID             string            `json:"sid"`
	StartTime       *string           `json:"start_time"`
	Status          string            `json:"status"`
	SubresourceURIs map[string]string `json:"subresource_uris"`
	To              string            `json:"to"`
	ToFormatted     string            `json:"to_formatted"`
	TrunkSID        *string           `json:"trunk_sid"`
	URI             string            `json:"uri"`
}

// callResource renders rec; mu must be held.
func callResource(rec *callRec) callJSON {
	base := "/" + apiVersion + "/Accounts/" + rec.AccountSID + "/Calls/" + rec.SID
	res := callJSON{
		AccountSID:    rec.AccountSID,
		AnsweredBy:    strPtr(rec.AnsweredBy),
		APIVersion:    apiVersion,
		DateCreated:   twilioTime(rec.Created),
		DateUpdated:   twilioTime(rec.Updated),
		Direction:     "outbound-api",
		From:          rec.From,
		FromFormatted: rec.From,
		PriceUnit:     "USD",
		QueueTime:     "0",
		SID:           rec.SID,
		Status:        rec.Status,
		SubresourceURIs: map[string]string{
			"notifications": base + "/Notifications.json",
			"recordings":    base + "/Recordings.json",
			"events":        base + "/Events.json",
		},
		To:          rec.To,
		ToFormatted: rec.To,
		URI:         base + ".json",
	}
	if !rec.started.IsZero() {
		res.StartTime = strPtr(twilioTime(rec.started))
	}
	if !rec.ended.IsZero() {
		res.EndTime = strPtr(twilioTime(rec.ended))
		d := strconv.Itoa(rec.Duration)
		res.Duration = &d
	}
	return res
}

// callParams are the fields every voice webhook carries; mu must be held.
func callParams(rec *callRec) url.Values {
	v := url.Values{
		"AccountSid": {rec.AccountSID},
		"ApiVersion": {apiVersion},
		"CallSid":    {rec.SID},
		"CallStatus": {rec.Status},
		"Direction":  {"outbound-api"},
		"From":       {rec.From},
		"Caller":     {rec.From},
		"To":         {rec.To},
		"Called":     {rec.To},
	}
	if rec.AnsweredBy != "" {
		v.Set("AnsweredBy", rec.AnsweredBy)
	}
	return v
}
