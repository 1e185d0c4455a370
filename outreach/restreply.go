package outreach

import (
	"context"
	"fmt"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/redact"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
)

// ReplayInbound applies an inbound SMS that the webhook spooled while
// PostgreSQL was unavailable, then sends its answer by REST, since the
// webhook answered Twilio with no TwiML. It is safe to run any number of
// times for one message: the message is acted on once (its MessageSid is
// the key) and each text of its answer is sent once.
//
// An error means "try again later"; the spool keeps the message.
func (e *Engine) ReplayInbound(ctx context.Context, in InboundSMS) error {
	if _, err := e.HandleInbound(ctx, in); err != nil {
		return err
	}
	return e.ReplyByREST(ctx, in.SID)
}

// ReplyByREST sends the texts answering the inbound message sid (rendered
// and stored when the message was handled, the same texts a TwiML answer
// carries) through the REST API, each once. A text whose earlier send may
// have reached Twilio is looked up there first. A text Twilio refuses for
// good is recorded as failed and logged; a temporary failure returns an
// error so the caller tries again.
func (e *Engine) ReplyByREST(ctx context.Context, sid string) error {
	replies, err := e.store.ClaimRESTReplies(ctx, sid)
	if err != nil {
		return err
	}
	for _, r := range replies {
		if r.Retried {
			found, msgSID, err := e.findReply(r)
			if err != nil {
				return fmt.Errorf("look up earlier reply to %s: %w", sid, err)
			}
			if found {
				if err := e.store.RESTReplySent(ctx, r.ID, msgSID); err != nil {
					return err
				}
				continue
			}
		}
		params := &openapi.CreateMessageParams{}
		params.SetTo(r.To)
		params.SetFrom(r.From)
		params.SetBody(r.Body)
		msg, err := e.twilio.Api.CreateMessage(params)
		if err != nil {
			if twilioapi.Temporary(err) {
				return fmt.Errorf("reply to %s: %w", sid, err)
			}
			code, _, _ := twilioapi.ErrorCode(err)
			e.logger.Error("reply to a spooled message refused by Twilio", "sid", sid, "to", redact.Phone(r.To), "code", code)
			if err := e.store.RESTReplyFailed(ctx, r.ID); err != nil {
				return err
			}
			continue
		}
		msgSID := ""
		if msg.Sid != nil {
			msgSID = *msg.Sid
		}
		if err := e.store.RESTReplySent(ctx, r.ID, msgSID); err != nil {
			return err
		}
		restReplies.Inc()
	}
	return nil
}

// findReply looks for a reply an earlier try sent: same route and text,
// created since that try began.
func (e *Engine) findReply(r store.RESTReply) (bool, string, error) {
	params := &openapi.ListMessageParams{}
	params.SetTo(r.To)
	params.SetFrom(r.From)
	params.SetPageSize(50)
	params.SetLimit(50)
	msgs, err := e.twilio.Api.ListMessage(params)
	if err != nil {
		return false, "", err
	}
	for _, m := range msgs {
		if m.Body != nil && *m.Body == r.Body && m.Sid != nil && twilioapi.CreatedSince(m.DateCreated, r.Since) {
			return true, *m.Sid, nil
		}
	}
	return false, "", nil
}
