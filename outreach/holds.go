package outreach

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/store"
)

var (
	sendersHeld = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "protect_senders_held", Help: "Senders whose sending is held by an account or gateway fault (from PostgreSQL)."})
	senderHolds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "protect_sender_holds_total", Help: "Senders held, and released, by this process."}, []string{"event"})
)

func init() { prometheus.MustRegister(sendersHeld, senderHolds) }

// holdSender stops sending from w's sender because of a fault of the
// account or the gateway (code is Twilio's, if any): w goes back to the
// plan without using up a try, nothing moves the patient on, and the
// sender is probed until the fault is fixed. The first worker to hold it
// raises the alarm: an error log and an audit entry.
func (e *Engine) holdSender(ctx context.Context, w store.Work, code int, reason string) error {
	held, err := e.store.HoldSender(ctx, w.Sender, reason, code, e.now().Add(e.probeEvery))
	if err != nil {
		return err
	}
	if err := e.store.HoldAttempt(ctx, w.AttemptID, w.ClaimedAt, code, "sender held: "+clip.Text(reason, 200)); err != nil {
		return err
	}
	sendErrors.WithLabelValues("sender_held").Inc()
	if !held {
		return nil
	}
	senderHolds.WithLabelValues("held").Inc()
	e.logger.Error("SENDING HELD: Twilio refuses this sender's requests; no patient is failed or moved on, "+
		"and sending resumes by itself once a probe succeeds",
		"sender", w.Sender, "code", code, "reason", reason, "attempt", w.AttemptID, "probe_every", e.probeEvery)
	e.auditSender(ctx, "sender.hold", w.Sender, map[string]any{"code": code, "reason": reason, "attempt": w.AttemptID})
	return nil
}

// ProbeHolds probes each held sender whose probe is due with a cheap
// authenticated request, and releases the hold when it succeeds: the
// dispatcher then queues the attempts put back while it was held. It also
// reports the number of held senders as a metric.
func (e *Engine) ProbeHolds(ctx context.Context) error {
	due, err := e.store.DueProbes(ctx, e.probeEvery)
	if err != nil {
		return err
	}
	for _, h := range due {
		if err := e.probe(h.Sender); err != nil {
			e.logger.Error("sending still held: probe failed", "sender", h.Sender, "held_since", h.HeldAt,
				"probes", h.Probes, "reason", h.Reason, "error", err)
			continue
		}
		released, err := e.store.ReleaseSender(ctx, h.Sender)
		if err != nil {
			return err
		}
		if released {
			senderHolds.WithLabelValues("released").Inc()
			e.logger.Warn("sending resumed: probe succeeded", "sender", h.Sender, "held_since", h.HeldAt, "probes", h.Probes)
			e.auditSender(ctx, "sender.resume", h.Sender, map[string]any{"held_since": h.HeldAt, "probes": h.Probes})
		}
	}
	held, err := e.store.HeldSenders(ctx)
	if err != nil {
		return err
	}
	sendersHeld.Set(float64(len(held)))
	return nil
}

// probe lists one message sent from sender: authenticated, cheap, and
// failing the same way a send would for bad credentials, a suspended
// account or an unreachable Twilio.
func (e *Engine) probe(sender string) error {
	params := &openapi.ListMessageParams{}
	if !isServiceSID(sender) {
		params.SetFrom(sender)
	}
	params.SetPageSize(1)
	params.SetLimit(1)
	if _, err := e.twilio.Api.ListMessage(params); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	return nil
}

func (e *Engine) auditSender(ctx context.Context, action, sender string, details map[string]any) {
	err := e.store.Audit(context.WithoutCancel(ctx), store.AuditEntry{Actor: "system", Action: action,
		SubjectType: "sender", SubjectID: sender, Details: details})
	if err != nil {
		e.logger.Error("audit failed", "action", action, "error", err)
	}
}
