package outreach

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/opsalert"
	"github.com/protectnow/protect/redact"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
)

// Defaults of Options.HoldAfterFaults and Options.FaultWindow: twenty
// gateway faults of one sender within a minute, across all workers, hold
// it.
const (
	DefaultHoldAfterFaults = 20
	DefaultFaultWindow     = time.Minute
)

var (
	sendersHeld = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "protect_senders_held", Help: "Senders whose sending is held by an account or gateway fault (from PostgreSQL)."})
	senderHolds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "protect_sender_holds_total", Help: "Senders held, and released, by this process."}, []string{"event"})
	gatewayFaults = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "protect_gateway_faults_total", Help: "Sends that failed because of Twilio or the network (429, 5xx, network errors, time-outs)."})
)

func init() { prometheus.MustRegister(sendersHeld, senderHolds, gatewayFaults) }

// OpsAlerter is told when a sender is held and when it resumes, to alert
// the duty team (opsalert.Notifier). Alert must not block.
type OpsAlerter interface {
	Alert(ctx context.Context, ev opsalert.Event)
}

// holdSender stops sending from w's sender because of a fault of the
// account (account set) or the gateway (code is Twilio's, if any): w goes
// back to the plan without using up a try, nothing moves the patient on,
// and the sender is probed until the fault is fixed. The first worker to
// hold it raises the alarm: an error log, an audit entry and an alert to
// the duty team.
func (e *Engine) holdSender(ctx context.Context, w store.Work, code int, account bool, reason string) error {
	reason = redact.Scrub(reason)
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
	e.logger.Error("SENDING HELD: Twilio refuses or fails this sender's requests; no patient is failed or moved on, "+
		"and sending resumes by itself once a probe succeeds",
		"sender", w.Sender, "code", code, "reason", reason, "attempt", w.AttemptID, "probe_every", e.probeEvery)
	e.auditSender(ctx, "sender.hold", w.Sender, map[string]any{"code": code, "reason": reason, "attempt": w.AttemptID})
	now := e.now()
	e.alert(ctx, opsalert.Event{Event: opsalert.SenderHeld, Sender: w.Sender, Code: code, Reason: reason,
		AccountLevel: account, HeldSince: now, At: now})
	return nil
}

// gatewayFault handles a send that failed because of Twilio or the
// network (HTTP 429, a 5xx, a network error or a time-out), not because of
// the patient's message: it counts against the sender across all workers,
// and too many within the window hold the sender at once; otherwise the
// attempt is tried again, and one that fails try after try holds the
// sender too.
func (e *Engine) gatewayFault(ctx context.Context, w store.Work, code, status int, err error) error {
	gatewayFaults.Inc()
	if n := e.countFault(ctx, w.Sender); n >= e.holdAfter {
		return e.holdSender(ctx, w, code, false, fmt.Sprintf("%d gateway faults within %v across attempts, the last: %s",
			n, e.faultWindow, clip.Text(err.Error(), 300)))
	}
	if w.Tries < maxTries {
		backoff := time.Duration(1<<min(w.Tries, 8)) * time.Second
		if err := e.store.MarkRetry(ctx, w.AttemptID, backoff, code, clip.Text(err.Error(), 300)); err != nil {
			return err
		}
		sendErrors.WithLabelValues("temporary").Inc()
		return fmt.Errorf("temporary send failure (status %d): %w", status, err)
	}
	return e.holdSender(ctx, w, code, false, fmt.Sprintf("still failing after %d tries: %s", w.Tries, clip.Text(err.Error(), 300)))
}

// countFault records a gateway fault of sender and returns how many it has
// had within the window; 0 when faults are not counted or the count
// failed (the attempt's own tries still bound it).
func (e *Engine) countFault(ctx context.Context, sender string) int {
	if e.faults == nil {
		return 0
	}
	n, err := e.faults.Add(context.WithoutCancel(ctx), sender, e.faultWindow)
	if err != nil {
		e.logger.Warn("gateway fault not counted", "sender", sender, "error", err)
		return 0
	}
	return n
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
		if err := e.release(ctx, h); err != nil {
			return err
		}
	}
	held, err := e.store.HeldSenders(ctx)
	if err != nil {
		return err
	}
	sendersHeld.Set(float64(len(held)))
	return nil
}

// release ends a hold whose probe succeeded. The process that ends it
// logs, audits and alerts, and forgets the sender's gateway faults so
// that sending starts afresh.
func (e *Engine) release(ctx context.Context, h store.SenderHold) error {
	released, err := e.store.ReleaseSender(ctx, h.Sender)
	if err != nil || !released {
		return err
	}
	if e.faults != nil {
		if err := e.faults.Reset(context.WithoutCancel(ctx), h.Sender); err != nil {
			e.logger.Warn("gateway faults not reset", "sender", h.Sender, "error", err)
		}
	}
	senderHolds.WithLabelValues("released").Inc()
	e.logger.Warn("sending resumed: probe succeeded", "sender", h.Sender, "held_since", h.HeldAt, "probes", h.Probes)
	e.auditSender(ctx, "sender.resume", h.Sender, map[string]any{"held_since": h.HeldAt, "probes": h.Probes})
	e.alert(ctx, opsalert.Event{Event: opsalert.SenderResumed, Sender: h.Sender, Code: h.ErrorCode, Reason: h.Reason,
		AccountLevel: twilioapi.AccountLevelCode(h.ErrorCode), HeldSince: h.HeldAt, At: e.now()})
	return nil
}

// alert hands an event to the duty team's alerts, if any.
func (e *Engine) alert(ctx context.Context, ev opsalert.Event) {
	if e.ops != nil {
		e.ops.Alert(context.WithoutCancel(ctx), ev)
	}
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
