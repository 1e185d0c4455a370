package outreach

import (
	"errors"
	"fmt"
	"slices"

	"github.com/protectnow/protect/store"
)

// attemptMoves is the table of the moves a status callback may make to an
// attempt: from each state, the states it may go to. Only forward moves:
// a callback that arrives late (sent after delivered) or contradicts a
// final state (canceled after delivered) changes nothing. An attempt not
// yet recorded as sent (its worker died, or lost Twilio's answer, or it
// was put back while its sender was held) may learn from a callback that
// Twilio has it.
var attemptMoves = map[string][]string{
	"planned":     toAccepted,
	"queued":      toAccepted,
	"sending":     toAccepted,
	"retry":       toAccepted,
	"sent":        {"delivered", "undelivered", "failed", "cancelled", "answered", "unanswered"},
	"delivered":   nil,
	"undelivered": nil,
	"failed":      nil,
	"cancelled":   nil,
	"answered":    nil,
	"unanswered":  nil,
	"completed":   nil,
}

// toAccepted are the states an attempt Twilio has may take.
var toAccepted = []string{"sent", "delivered", "undelivered", "failed", "cancelled", "answered", "unanswered"}

// canMove reports whether a callback may move an attempt from one state
// to another.
func canMove(from, to string) bool {
	return slices.Contains(attemptMoves[from], to)
}

// messageStates maps Twilio's message statuses to attempt states. Twilio
// has the message in all of them; any other status is refused.
var messageStates = map[string]string{
	"accepted":    "sent",
	"scheduled":   "sent",
	"queued":      "sent",
	"sending":     "sent",
	"sent":        "sent",
	"delivered":   "delivered",
	"read":        "delivered",
	"undelivered": "undelivered",
	"failed":      "failed",
	"canceled":    "cancelled",
}

// messageState maps a Twilio message status to an attempt state.
func messageState(status string) (string, bool) {
	st, ok := messageStates[status]
	return st, ok
}

// Why a status callback is refused. The webhook answers 400 for
// ErrBadCallback and 409 for ErrCallbackConflict.
var (
	ErrBadCallback      = errors.New("status callback refused")
	ErrCallbackConflict = errors.New("status callback conflicts with the attempt")
)

// route is where a callback says its message or call went.
type route struct{ to, from, service string }

// decideStatus is the journey rule for a status callback: adopt a SID
// the attempt does not know yet when the callback's route is the
// attempt's, refuse a callback naming another message or call, and move
// the attempt only forward. ignored says why a callback changed nothing.
func decideStatus(a store.AttemptRow, sid, to string, r route) (d store.StatusDecision, ignored string, err error) {
	switch {
	case a.SID == "":
		if r.to != a.To || !sameSender(a.SentFrom, r) {
			return d, "", fmt.Errorf("%w: attempt has no SID yet and the callback's route is not the attempt's", ErrCallbackConflict)
		}
		d.Adopt = true
	case a.SID != sid:
		return d, "", fmt.Errorf("%w: attempt has SID %s, callback names %s", ErrCallbackConflict, a.SID, sid)
	}
	if a.State == to {
		return d, "", nil // a repeat (Twilio's "sent" after we recorded it sent): nothing to say
	}
	if !canMove(a.State, to) {
		return d, fmt.Sprintf("no move from %s to %s", a.State, to), nil
	}
	d.State = to
	return d, "", nil
}

// sameSender reports whether a callback came from the attempt's sender
// (any sender for an attempt prepared before senders were recorded; a
// messaging service's number is the service's choice).
func sameSender(sentFrom string, r route) bool {
	switch {
	case sentFrom == "":
		return true
	case isServiceSID(sentFrom):
		return r.service == "" || r.service == sentFrom
	default:
		return r.from == sentFrom
	}
}
