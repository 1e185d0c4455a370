package outreach

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
)

// StatusCallback is a message status callback from Twilio.
type StatusCallback struct {
	AttemptID int64
	SID       string
	Status    string
	ErrorCode string
	ErrorMsg  string
}

// ErrUnknownAttempt means a callback named an attempt that does not exist.
var ErrUnknownAttempt = errors.New("unknown attempt")

// HandleStatus applies a status callback once. Undelivered and failed
// messages move the patient on to the policy's next step (30006 means a
// landline: the next step will not text that number again); 21610 opts the
// number out.
func (e *Engine) HandleStatus(ctx context.Context, cb StatusCallback) error {
	code, _ := strconv.Atoi(cb.ErrorCode)
	st, err := e.store.ApplyStatus(ctx, store.AttemptStatus{AttemptID: cb.AttemptID, SID: cb.SID, Status: cb.Status,
		State: attemptState(cb.Status), ErrorCode: code, ErrorMsg: clip.Text(cb.ErrorMsg, 300)}, stateRank)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w %d", ErrUnknownAttempt, cb.AttemptID)
	}
	if err != nil {
		return err
	}
	if !st.First || (st.State != "undelivered" && st.State != "failed") || st.PatientDone {
		return nil
	}
	if code == twilioapi.CodeUnsubscribed {
		j, err := e.store.Journey(ctx, st.CampaignID, st.PatientID)
		if err != nil {
			return err
		}
		_, err = e.store.OptOut(ctx, j.ContactNumber, "unsubscribed at Twilio (21610)")
		return err
	}
	c, err := e.store.Campaign(ctx, st.CampaignID)
	if err != nil {
		return err
	}
	pol, err := ParsePolicy(c.Policy, true)
	if err != nil {
		return err
	}
	return e.moveOn(ctx, st.CampaignID, st.PatientID, st.Step, pol)
}
