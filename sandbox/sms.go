package sandbox

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/protectnow/protect/twilioapi"
)

// advanceMessage moves a message to its next status, posts the status
// callback and schedules what follows: the next status, or the persona's
// reply once delivered.
func (s *Server) advanceMessage(ctx context.Context, sid string) {
	s.mu.Lock()
	rec, ok := s.messages[sid]
	if !ok || rec.step >= len(rec.plan) {
		s.mu.Unlock()
		return
	}
	status := rec.plan[rec.step]
	rec.step++
	now := time.Now().UTC()
	if rec.Status != status {
		rec.History = append(rec.History, status)
	}
	rec.Status, rec.Updated = status, now
	if rec.From == "" {
		rec.From = rec.sender
	}
	switch status {
	case "sent":
		rec.sentAt = now
	case "undelivered", "failed":
		rec.ErrorCode = s.personaLocked(rec.To).DeliveryError
	}
	more := rec.step < len(rec.plan)
	callback, params := rec.StatusCallback, statusParams(rec)
	msg := rec.snapshot()
	s.changedLocked()
	s.mu.Unlock()

	if callback != "" {
		if _, _, err := s.send(ctx, KindMessageStatus, http.MethodPost, callback, params); err != nil {
			s.log.Warn("sandbox status callback failed", "sid", sid, "status", status, "err", err)
		}
	}
	if more {
		s.sched.after(ctx, s.cfg.CallbackDelay, func(ctx context.Context) { s.advanceMessage(ctx, sid) })
		return
	}
	if status == "delivered" {
		s.personaReceives(ctx, msg)
	}
}

// personaReceives lets the persona behind msg.To answer it, if its script
// says so, after its reply delay.
func (s *Server) personaReceives(ctx context.Context, msg Message) {
	s.mu.Lock()
	p := s.personaLocked(msg.To)
	used := s.replies[p.Number]
	if !p.wantsToAnswer(msg.Body) || used >= len(p.Replies) {
		s.mu.Unlock()
		return
	}
	reply := p.Replies[used]
	s.replies[p.Number] = used + 1
	s.mu.Unlock()
	s.sched.after(ctx, p.replyDelay(s.cfg), func(ctx context.Context) {
		if _, err := s.inbound(ctx, p.Number, msg.From, reply, msg.MessagingServiceSID); err != nil {
			s.log.Warn("sandbox persona reply failed", "from", twilioapi.Redact(p.Number), "err", err)
		}
	})
}

// Inbound sends an SMS from a patient (from) to one of the application's
// numbers (to) now, as a signed webhook to Config.InboundSMSURL, and waits
// for the answer. Opt-out keywords take effect as with a persona. The
// MessagingServiceSid is taken from the last message sent to from by to.
func (s *Server) Inbound(ctx context.Context, from, to, body string) (Message, error) {
	s.mu.Lock()
	service := ""
	for i := len(s.msgOrder) - 1; i >= 0; i-- {
		if m := s.messages[s.msgOrder[i]]; m.Direction != DirectionInbound && m.To == from && m.sender == to {
			service = m.MessagingServiceSID
			break
		}
	}
	s.mu.Unlock()
	return s.inbound(ctx, from, to, body, service)
}

func (s *Server) inbound(ctx context.Context, from, to, body, service string) (Message, error) {
	now := time.Now().UTC()
	rec := &msgRec{
		Message: Message{
			SID:                 newSID("SM"),
			AccountSID:          s.cfg.AccountSID,
			MessagingServiceSID: service,
			Direction:           DirectionInbound,
			From:                from,
			To:                  to,
			Body:                body,
			Status:              "received",
			NumSegments:         segments(body),
			History:             []string{"received"},
			Created:             now,
			Updated:             now,
		},
		sender: from,
	}
	kw := keyword(body)
	s.mu.Lock()
	s.messages[rec.SID] = rec
	s.msgOrder = append(s.msgOrder, rec.SID)
	switch kw {
	case "STOP":
		s.optedOut[[2]string{to, from}] = true
	case "START":
		delete(s.optedOut, [2]string{to, from})
	}
	msg := rec.snapshot()
	s.changedLocked()
	s.mu.Unlock()
	s.log.Info("sandbox inbound sms", "sid", msg.SID, "from", twilioapi.Redact(from), "keyword", kw)

	if s.cfg.InboundSMSURL == "" {
		return msg, nil
	}
	params := url.Values{
		"AccountSid":    {s.cfg.AccountSID},
		"ApiVersion":    {apiVersion},
		"MessageSid":    {msg.SID},
		"SmsSid":        {msg.SID},
		"SmsMessageSid": {msg.SID},
		"SmsStatus":     {"received"},
		"From":          {from},
		"To":            {to},
		"Body":          {body},
		"NumMedia":      {"0"},
		"NumSegments":   {strconv.Itoa(msg.NumSegments)},
	}
	if service != "" {
		params.Set("MessagingServiceSid", service)
	}
	if kw != "" {
		params.Set("OptOutType", kw)
	}
	for _, pair := range [][2]string{{"From", from}, {"To", to}} {
		if strings.HasPrefix(pair[1], "+44") {
			params.Set(pair[0]+"Country", "GB")
		}
	}
	_, resp, err := s.send(ctx, KindInboundSMS, http.MethodPost, s.cfg.InboundSMSURL, params)
	if err != nil {
		return msg, err
	}
	for _, text := range messagingReplies(resp) {
		s.replyMessage(ctx, to, from, text, service)
	}
	return msg, nil
}

// replyMessage records a <Message> returned in answer to an inbound webhook
// as delivered, and lets the persona read it.
func (s *Server) replyMessage(ctx context.Context, from, to, body, service string) {
	now := time.Now().UTC()
	rec := &msgRec{
		Message: Message{
			SID:                 newSID("SM"),
			AccountSID:          s.cfg.AccountSID,
			MessagingServiceSID: service,
			Direction:           DirectionOutboundReply,
			From:                from,
			To:                  to,
			Body:                body,
			Status:              "delivered",
			NumSegments:         segments(body),
			History:             []string{"queued", "sent", "delivered"},
			Created:             now,
			Updated:             now,
		},
		sender: from,
		sentAt: now,
	}
	s.mu.Lock()
	s.messages[rec.SID] = rec
	s.msgOrder = append(s.msgOrder, rec.SID)
	msg := rec.snapshot()
	s.changedLocked()
	s.mu.Unlock()
	s.personaReceives(ctx, msg)
}

// messagingReplies extracts the <Message> texts of a messaging TwiML
// response; anything else gives none.
func messagingReplies(body []byte) []string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '<' {
		return nil
	}
	var doc struct {
		XMLName  xml.Name `xml:"Response"`
		Messages []struct {
			Text string `xml:",chardata"`
			Body string `xml:"Body"`
		} `xml:"Message"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil
	}
	var out []string
	for _, m := range doc.Messages {
		text := strings.TrimSpace(m.Body)
		if text == "" {
			text = strings.TrimSpace(m.Text)
		}
		if text != "" {
			out = append(out, text)
		}
	}
	return out
}

var errTimeout = errors.New("sandbox: wait timed out")
