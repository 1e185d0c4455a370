package escalation

import (
	"context"
	"errors"
	"fmt"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/opsalert"
)

// ErrAlertCannotGo means an operations alert was not texted because the
// fault it reports stops the text too: the account itself is refused, or
// the held sender is the one alerts come from. The operations webhook
// carries it.
var ErrAlertCannotGo = errors.New("the fault stops alert SMS too; the operations webhook carries this alert")

// TextDutyTeam texts an operations alert to the on-call numbers of the
// routing's duty team, from its alert sender, through the same Twilio
// client as escalation alerts. A hold is not texted when the text could
// not go: Twilio refuses the whole account, or the held sender is the
// alert sender. It returns how many numbers were texted, and the errors
// of those that were not.
func (s *Service) TextDutyTeam(ctx context.Context, ev opsalert.Event) (int, error) {
	r := s.Routing()
	if ev.Event == opsalert.SenderHeld && (ev.AccountLevel || ev.Sender == r.AlertSender) {
		return 0, ErrAlertCannotGo
	}
	if s.twilio == nil {
		return 0, errors.New("no Twilio client configured for alerts")
	}
	team := r.Team(r.Duty())
	if team == nil || len(team.OnCall) == 0 {
		return 0, fmt.Errorf("duty team %q has no on-call numbers", r.Duty())
	}
	sent := 0
	var errs []error
	for _, to := range team.OnCall {
		if ctx.Err() != nil {
			return sent, errors.Join(append(errs, ctx.Err())...)
		}
		params := &openapi.CreateMessageParams{}
		params.SetTo(to)
		params.SetFrom(r.AlertSender)
		params.SetBody(clip.Text(ev.Text, 320))
		if _, err := s.twilio.Api.CreateMessage(params); err != nil {
			errs = append(errs, fmt.Errorf("duty alert SMS to on-call number %d of %s: %w", sent+len(errs)+1, team.Key, err))
			continue
		}
		sent++
	}
	if sent > 0 {
		s.logger.Info("duty team texted", "event", ev.Event, "sender", ev.Sender, "team", team.Key, "numbers", sent)
	}
	return sent, errors.Join(errs...)
}
