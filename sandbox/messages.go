package sandbox

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/protectnow/protect/twilioapi"
)

// Message directions (Twilio's values).
const (
	DirectionOutboundAPI   = "outbound-api"   // created through the REST API
	DirectionOutboundReply = "outbound-reply" // a <Message> in the reply to an inbound webhook
	DirectionInbound       = "inbound"        // a persona's SMS to the application
)

// Message is a snapshot of one SMS, in either direction.
type Message struct {
	SID                 string
	AccountSID          string
	MessagingServiceSID string
	Direction           string
	From                string // for a Messaging Service message, empty until queued
	To                  string
	Body                string
	Status              string
	ErrorCode           int
	NumSegments         int
	StatusCallback      string
	History             []string // every status the message went through
	Created             time.Time
	Updated             time.Time
}

// msgRec is the sandbox's record of a message.
type msgRec struct {
	Message
	sender string   // number the message is sent from
	plan   []string // statuses after creation, in order
	step   int      // next entry of plan
	sentAt time.Time
}

func (m *msgRec) snapshot() Message {
	out := m.Message
	out.History = slices.Clone(m.History)
	return out
}

var alphaSender = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)

func validSender(from string) bool {
	return e164.MatchString(from) || (alphaSender.MatchString(from) && strings.ContainsAny(strings.ToLower(from), "abcdefghijklmnopqrstuvwxyz"))
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, newAPIError(http.StatusBadRequest, 20001, "Could not parse request: %v", err))
		return
	}
	f := r.PostForm
	to, from, service := strings.TrimSpace(f.Get("To")), strings.TrimSpace(f.Get("From")), f.Get("MessagingServiceSid")
	body, callback := f.Get("Body"), f.Get("StatusCallback")
	switch {
	case to == "":
		writeError(w, newAPIError(http.StatusBadRequest, 21604, "A 'To' phone number is required."))
		return
	case from == "" && service == "":
		writeError(w, newAPIError(http.StatusBadRequest, 21603, "A 'From' phone number is required."))
		return
	case from != "" && !validSender(from):
		writeError(w, newAPIError(http.StatusBadRequest, 21212, "The 'From' number %s is not a valid phone number, shortcode, or alphanumeric sender ID.", from))
		return
	case service != "" && (!strings.HasPrefix(service, "MG") || len(service) != 34):
		writeError(w, newAPIError(http.StatusBadRequest, 21701, "The Messaging Service Sid %s is invalid.", service))
		return
	case body == "" && f.Get("MediaUrl") == "" && f.Get("ContentSid") == "":
		writeError(w, newAPIError(http.StatusBadRequest, 21602, "Message body is required."))
		return
	case len([]rune(body)) > 1600:
		writeError(w, newAPIError(http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit."))
		return
	}
	if callback != "" {
		abs, err := s.resolve("", callback)
		if err != nil {
			writeError(w, newAPIError(http.StatusBadRequest, 21609, "The StatusCallback URL %s is not a valid URL.", callback))
			return
		}
		callback = abs
	}
	sender := from
	if sender == "" {
		sender = s.serviceSender(service)
	}
	now := time.Now().UTC()
	rec := &msgRec{
		Message: Message{
			SID:                 newSID("SM"),
			AccountSID:          s.cfg.AccountSID,
			MessagingServiceSID: service,
			Direction:           DirectionOutboundAPI,
			From:                from,
			To:                  to,
			Body:                body,
			Status:              "queued",
			NumSegments:         segments(body),
			StatusCallback:      callback,
			Created:             now,
			Updated:             now,
		},
		sender: sender,
	}
	if from == "" {
		rec.Status = "accepted" // Twilio picks the sender later
	}
	rec.History = []string{rec.Status}

	s.mu.Lock()
	p := s.personaLocked(to)
	if p.CreateError == 0 && !e164.MatchString(to) {
		p.CreateError = 21211
	}
	if p.CreateError == 0 && s.optedOut[[2]string{sender, to}] {
		p.CreateError = 21610
	}
	if p.CreateError != 0 {
		s.mu.Unlock()
		s.log.Info("sandbox message refused", "to", twilioapi.Redact(to), "code", p.CreateError)
		writeError(w, createError(p.CreateError, to))
		return
	}
	rec.plan = deliveryPlan(p)
	s.messages[rec.SID] = rec
	s.msgOrder = append(s.msgOrder, rec.SID)
	res := s.messageResource(rec)
	s.changedLocked()
	s.mu.Unlock()

	s.log.Info("sandbox message created", "sid", rec.SID, "to", twilioapi.Redact(to), "persona", p.Label, "segments", rec.NumSegments)
	sid := rec.SID
	s.sched.after(context.Background(), s.cfg.CallbackDelay, func(ctx context.Context) { s.advanceMessage(ctx, sid) })
	writeJSON(w, http.StatusCreated, res)
}

// deliveryPlan lists the statuses a message to p goes through after it is
// created.
func deliveryPlan(p Persona) []string {
	switch {
	case p.DeliveryError != 0 && p.DeliveryStatus == "failed":
		return []string{"queued", "failed"}
	case p.DeliveryError != 0:
		return []string{"queued", "sent", "undelivered"}
	default:
		return []string{"queued", "sent", "delivered"}
	}
}

func (s *Server) serviceSender(service string) string {
	if n, ok := s.cfg.ServiceSenders[service]; ok {
		return n
	}
	return DefaultServiceSender
}

func (s *Server) fetchMessage(w http.ResponseWriter, r *http.Request) {
	sid := strings.TrimSuffix(r.PathValue("file"), ".json")
	s.mu.Lock()
	rec, ok := s.messages[sid]
	var res messageResource
	if ok {
		res = s.messageResource(rec)
	}
	s.mu.Unlock()
	if !ok || !strings.HasSuffix(r.PathValue("file"), ".json") {
		s.notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// messageResource is Twilio's JSON message resource.
type messageResource struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

func twilioTime(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// messageResource renders rec; mu must be held.
func (s *Server) messageResource(rec *msgRec) messageResource {
	base := "/" + apiVersion + "/Accounts/" + rec.AccountSID + "/Messages/" + rec.SID
	res := messageResource{
		AccountSID:          rec.AccountSID,
		APIVersion:          apiVersion,
		Body:                rec.Body,
		DateCreated:         twilioTime(rec.Created),
		DateUpdated:         twilioTime(rec.Updated),
		Direction:           rec.Direction,
		From:                strPtr(rec.From),
		MessagingServiceSID: strPtr(rec.MessagingServiceSID),
		NumMedia:            "0",
		NumSegments:         strconv.Itoa(rec.NumSegments),
		PriceUnit:           "USD",
		SID:                 rec.SID,
		Status:              rec.Status,
		SubresourceURIs: map[string]string{
			"media":    base + "/Media.json",
			"feedback": base + "/Feedback.json",
		},
		To:  rec.To,
		URI: base + ".json",
	}
	if !rec.sentAt.IsZero() {
		sent := twilioTime(rec.sentAt)
		res.DateSent = &sent
		price := "-" + strconv.FormatFloat(0.04*float64(rec.NumSegments), 'f', 5, 64)
		res.Price = &price
	}
	if rec.ErrorCode != 0 {
		code, msg := rec.ErrorCode, deliveryErrorMessage(rec.ErrorCode)
		res.ErrorCode, res.ErrorMessage = &code, &msg
	}
	return res
}

// statusParams are the fields of a message status callback; mu must be held.
func statusParams(rec *msgRec) url.Values {
	v := url.Values{
		"AccountSid":    {rec.AccountSID},
		"ApiVersion":    {apiVersion},
		"MessageSid":    {rec.SID},
		"SmsSid":        {rec.SID},
		"MessageStatus": {rec.Status},
		"SmsStatus":     {rec.Status},
		"From":          {rec.sender},
		"To":            {rec.To},
	}
	if rec.MessagingServiceSID != "" {
		v.Set("MessagingServiceSid", rec.MessagingServiceSID)
	}
	if rec.ErrorCode != 0 {
		v.Set("ErrorCode", strconv.Itoa(rec.ErrorCode))
	}
	return v
}

// listResponse is Twilio's page of a list: one page holds everything here.
// page is the paging part of Twilio's list responses (always one page
// here).
type page struct {
	End             int     `json:"end"`
	FirstPageURI    string  `json:"first_page_uri"`
	NextPageURI     *string `json:"next_page_uri"`
	Page            int     `json:"page"`
	PageSize        int     `json:"page_size"`
	PreviousPageURI *string `json:"previous_page_uri"`
	Start           int     `json:"start"`
	URI             string  `json:"uri"`
}

func newPage(r *http.Request, size int) page {
	return page{PageSize: size, URI: r.URL.RequestURI(), FirstPageURI: r.URL.RequestURI()}
}

// pageSize is a list request's PageSize: 50 unless 1 to 1000 is asked.
func pageSize(r *http.Request) int {
	if n, err := strconv.Atoi(r.URL.Query().Get("PageSize")); err == nil && n > 0 && n <= 1000 {
		return n
	}
	return 50
}

type listResponse struct {
	Messages []messageResource `json:"messages"`
	page
}

// listMessages answers GET Messages.json filtered by To, From and
// DateSent> (or DateSent>=), newest first, as Twilio does. Gateways use it
// to find out whether a send whose response was lost reached Twilio.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, from := q.Get("To"), q.Get("From")
	var after time.Time
	for _, k := range []string{"DateSent>", "DateSent>="} {
		if v := q.Get(k); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				if t, err = time.Parse("2006-01-02", v); err != nil {
					writeJSON(w, http.StatusBadRequest, apiError{Code: 20001, Message: "Invalid " + k, Status: http.StatusBadRequest})
					return
				}
			}
			after = t
		}
	}
	size := pageSize(r)
	s.mu.Lock()
	res := listResponse{page: newPage(r, size), Messages: newest(s.msgOrder, s.messages, size,
		func(rec *msgRec) bool {
			return (to == "" || rec.To == to) && (from == "" || rec.sender == from) && !rec.Created.Before(after)
		}, s.messageResource)}
	s.mu.Unlock()
	res.End = len(res.Messages) - 1
	writeJSON(w, http.StatusOK, res)
}

// newest renders up to size of the records keep accepts, newest first, as
// Twilio lists resources; mu must be held.
func newest[R, T any](order []string, recs map[string]*R, size int, keep func(*R) bool, render func(*R) T) []T {
	out := []T{}
	for i := len(order) - 1; i >= 0 && len(out) < size; i-- {
		if rec := recs[order[i]]; rec != nil && keep(rec) {
			out = append(out, render(rec))
		}
	}
	return out
}
