package outreach

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

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
	// The route Twilio reports, to adopt a message the attempt has no SID
	// for yet.
	To      string
	From    string
	Service string
}

// ErrUnknownAttempt means a callback named an attempt that does not exist.
var ErrUnknownAttempt = errors.New("unknown attempt")

var statusIgnored = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "protect_status_callbacks_not_applied_total",
	Help: "Status callbacks that changed nothing (not a forward move) or were refused, by reason."}, []string{"reason"})

func init() { prometheus.MustRegister(statusIgnored) }

// HandleStatus applies a message status callback once. Undelivered and
// failed messages move the patient on to the policy's next step (30006
// means a landline: the next step will not text that number again); 21610
// opts the number out. An unknown status is ErrBadCallback; a callback
// naming a message that is not the attempt's is ErrCallbackConflict.
func (e *Engine) HandleStatus(ctx context.Context, cb StatusCallback) error {
	state, ok := messageState(cb.Status)
	if !ok {
		statusIgnored.WithLabelValues("unknown_status").Inc()
		return fmt.Errorf("%w: unknown message status %q", ErrBadCallback, clip.Text(cb.Status, 40))
	}
	code, _ := strconv.Atoi(cb.ErrorCode)
	st, err := e.applyStatus(ctx, store.StatusEvent{AttemptID: cb.AttemptID, SID: cb.SID, Status: cb.Status,
		ErrorCode: code, ErrorMsg: clip.Text(cb.ErrorMsg, 300)}, state, route{cb.To, cb.From, cb.Service})
	if err != nil {
		return err
	}
	if !st.Moved || (st.Decision.State != "undelivered" && st.Decision.State != "failed") || st.PatientDone {
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

// applyStatus records a message or call status callback through the
// transition table, logging why one changed nothing or was refused.
func (e *Engine) applyStatus(ctx context.Context, ev store.StatusEvent, to string, r route) (store.StatusResult, error) {
	var ignored string
	st, err := e.store.ApplyStatus(ctx, ev, func(a store.AttemptRow) (store.StatusDecision, error) {
		d, why, err := decideStatus(a, ev.SID, to, r)
		ignored = why
		return d, err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return st, fmt.Errorf("%w %d", ErrUnknownAttempt, ev.AttemptID)
	case errors.Is(err, ErrCallbackConflict):
		statusIgnored.WithLabelValues("conflict").Inc()
		e.logger.Warn("status callback refused", "attempt", ev.AttemptID, "sid", ev.SID, "status", ev.Status, "reason", err)
		return st, err
	case err != nil:
		return st, err
	}
	if st.Decision.Adopt {
		e.logger.Warn("status callback names a message or call the attempt had not recorded; adopted it",
			"attempt", ev.AttemptID, "sid", ev.SID, "status", ev.Status)
	}
	if ignored != "" {
		statusIgnored.WithLabelValues("not_forward").Inc()
		e.logger.Info("status callback changed nothing", "attempt", ev.AttemptID, "sid", ev.SID, "status", ev.Status, "reason", ignored)
	}
	return st, nil
}
