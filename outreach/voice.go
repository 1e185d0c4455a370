package outreach

import (
	"context"

	"github.com/protectnow/protect/store"
)

// Caller places a voice attempt. The IVR package provides it; an engine
// without one refuses policies with voice steps, so a voice attempt only
// reaches here if calls were switched off after it was planned.
type Caller interface {
	Call(ctx context.Context, w store.Work) error
}

// SetCaller enables voice attempts.
func (e *Engine) SetCaller(c Caller) {
	e.caller = c
	e.voice = c != nil
}

func (e *Engine) handleCall(ctx context.Context, p SendPayload) error {
	w, res, err := e.store.ClaimAttempt(ctx, p.Attempt, lease)
	if err != nil || res != store.Claimed {
		return err
	}
	if e.caller == nil {
		return e.giveUp(ctx, w, 0, "voice calls are not configured on this gateway")
	}
	return e.caller.Call(ctx, w)
}
