package escalation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/protectnow/protect/store"
)

// Task types and the queue SLA checks run on.
const (
	TaskSLA         = "escalation:sla"
	QueueEscalation = "escalation"
)

// intakeBatch is how many needs one intake transaction takes.
const intakeBatch = 100

// gather is how long a woken loop waits for more work to arrive, so that
// under load one transaction carries many needs rather than one each.
const gather = 5 * time.Millisecond

// Intervals of the safety-net loops; notifications and direct kicks do the
// work as it arrives.
const (
	intakeEvery  = time.Second
	alertEvery   = time.Second
	slaEvery     = 15 * time.Second
	sessionEvery = time.Hour
)

var rank = map[string]int{"urgent": 0, "high": 1, "normal": 2, "low": 3}

func higher(a, b string) string {
	if rank[b] < rank[a] {
		return b
	}
	return a
}

// Intake turns up to one batch of needs not yet escalated into
// escalations, alerts and SLA checks, and returns how many needs it took.
// Any number of workers may run it at once.
func (s *Service) Intake(ctx context.Context) (int, error) {
	r := s.Routing()
	now := s.now()
	changes, err := s.store.EscalateNeeds(ctx, intakeBatch, now, func(n store.PendingNeed, open *store.Escalation) store.Routing {
		detail := n.Detail
		if open == nil {
			team := r.Route(n)
			return store.Routing{Team: team, Priority: n.Priority, Due: now.Add(r.ClaimWithin(n.Category, n.Priority)),
				Alerts: r.Alerts(team, n.Priority), Event: detail}
		}
		pri := higher(open.Priority, n.Priority)
		rt := store.Routing{Priority: pri, Event: detail, Due: now.Add(r.ClaimWithin(open.Category, pri))}
		if pri != open.Priority && open.State == store.EscalationOpen {
			// Raised: an urgent one goes to the urgent team; either way the
			// team hears of it again at a new tier.
			rt.Move, rt.Team = true, open.Team
			if pri == "urgent" {
				rt.Team = r.UrgentTeam
			}
			rt.Alerts = r.Alerts(rt.Team, pri)
		}
		return rt
	})
	if err != nil {
		return 0, err
	}
	alerts := 0
	for _, c := range changes {
		if c.Opened || c.Alerts > 0 {
			s.scheduleSLA(ctx, c)
		}
		alerts += c.Alerts
	}
	if alerts > 0 {
		s.alerts.wake()
	}
	return len(changes), nil
}

// changed follows up a transition: its SLA check and its alerts.
func (s *Service) changed(ctx context.Context, c store.EscalationChange) {
	s.scheduleSLA(ctx, c)
	if c.Alerts > 0 {
		s.alerts.wake()
	}
}

type slaPayload struct {
	Escalation int64 `json:"escalation"`
	Tier       int   `json:"tier"`
}

// scheduleSLA queues the check at an escalation's next deadline: to
// re-escalate it if still unclaimed, or to alert again if claimed but still
// unresolved. The task ID makes a repeat a no-op; a lost
// task is covered by the periodic sweep.
func (s *Service) scheduleSLA(ctx context.Context, c store.EscalationChange) {
	if s.queue == nil {
		return
	}
	b, _ := json.Marshal(slaPayload{Escalation: c.EscalationID, Tier: c.Tier})
	id := "sla:" + strconv.FormatInt(c.EscalationID, 10) + ":" + strconv.Itoa(c.Tier) + ":" + strconv.FormatInt(c.Due.Unix(), 10)
	_, err := s.queue.EnqueueContext(ctx, asynq.NewTask(TaskSLA, b), asynq.TaskID(id), asynq.ProcessAt(c.Due),
		asynq.Queue(QueueEscalation), asynq.MaxRetry(20), asynq.Timeout(time.Minute), asynq.Retention(time.Hour))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		s.logger.Warn("SLA check not queued; the sweep will catch it", "escalation", c.EscalationID, "error", err)
	}
}

// HandleSLA is the queue handler for TaskSLA: by the service's clock, it
// re-escalates the escalation if it is still open at the same tier and past
// its claim deadline, or alerts again if it is still claimed at the same
// tier and past its resolve deadline.
func (s *Service) HandleSLA(ctx context.Context, t *asynq.Task) error {
	var p slaPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("bad payload: %v: %w", err, asynq.SkipRetry)
	}
	e, err := s.store.Escalation(ctx, p.Escalation)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	deadline := e.DueAt
	switch {
	case e.Tier != p.Tier:
		return nil // moved on: its new tier has its own check
	case e.State == store.EscalationClaimed && e.ResolveBy != nil:
		deadline = *e.ResolveBy
	case e.State != store.EscalationOpen:
		return nil // closed: nothing to do
	}
	if s.now().Before(deadline) {
		s.scheduleSLA(ctx, store.EscalationChange{EscalationID: e.ID, Tier: e.Tier, Due: deadline})
		return nil
	}
	return s.overdue(ctx, store.DueEscalation{ID: e.ID, Tier: e.Tier, Team: e.Team, Category: e.Category, Priority: e.Priority,
		State: e.State, ClaimedBy: e.ClaimedBy, DueAt: deadline})
}

// CheckSLAs re-escalates every open escalation past its claim deadline and
// alerts again for every claimed one past its resolve deadline: the safety
// net under the queued checks.
func (s *Service) CheckSLAs(ctx context.Context) (int, error) {
	n := 0
	for {
		due, err := s.store.DueEscalations(ctx, s.now(), 200)
		if err != nil {
			return n, err
		}
		for _, d := range due {
			if err := s.overdue(ctx, d); err != nil {
				return n, err
			}
			n++
		}
		if len(due) < 200 {
			return n, nil
		}
	}
}

// overdue acts on an escalation past its deadline, alerting by SMS
// whatever the priority. One nobody claimed in time moves to the next
// tier's team. One claimed but not resolved in time stays with its team and
// claimer at the next tier: the team is alerted again and the claimer sees
// it marked overdue (the webhook names them for the team's system).
func (s *Service) overdue(ctx context.Context, d store.DueEscalation) error {
	r := s.Routing()
	now := s.now()
	t := store.Transition{ID: d.ID, Actor: "system", At: now, Tier: d.Tier}
	action, change := "escalation.reescalate", s.store.Reescalate
	details := map[string]any{"from": d.Team}
	if d.State == store.EscalationClaimed {
		within := r.ResolveWithin(d.Category, d.Priority)
		t.Team, t.Due = d.Team, now.Add(within)
		t.Note = fmt.Sprintf("claimed by %s, not resolved within %s", d.ClaimedBy, within)
		action, change = "escalation.unresolved", s.store.Unresolved
		details["claimed_by"] = d.ClaimedBy
	} else {
		sla := r.ClaimWithin(d.Category, d.Priority)
		t.Team, t.Due = r.NextTeam(d.Tier+1, d.Team), now.Add(sla)
		t.Note = fmt.Sprintf("not claimed within %s (was with %s)", sla, d.Team)
	}
	t.Alerts = r.OverdueAlerts(t.Team)
	c, err := change(ctx, t)
	if errors.Is(err, store.ErrEscalationState) {
		return nil // claimed, resolved or moved on meanwhile
	}
	if err != nil {
		return err
	}
	s.logger.Info("escalation overdue", "escalation", d.ID, "state", d.State, "tier", c.Tier, "team", t.Team, "priority", d.Priority)
	details["to"], details["tier"] = t.Team, c.Tier
	s.audit(ctx, Actor{Name: "system"}, action, "escalation", d.ID, nil, details)
	s.changed(ctx, c)
	return nil
}

// kickChannel is the Redis channel that carries NeedsRecorded kicks.
const kickChannel = "protect:escalation:needs"

// NeedsRecorded wakes intake at once, in this process and (through Redis)
// in the worker processes: the outreach engine calls it after committing a
// reply's needs, so an urgent need is escalated and alerted in moments.
// It never fails: the sweep catches any kick that is lost.
func (s *Service) NeedsRecorded(ctx context.Context) {
	s.needs.wake()
	if s.redis == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := s.redis.Publish(ctx, kickChannel, "1").Err(); err != nil {
		s.logger.Debug("intake kick not published", "error", err)
	}
}

// listenKicks wakes intake on kicks from other processes until ctx ends.
func (s *Service) listenKicks(ctx context.Context) {
	for ctx.Err() == nil {
		sub := s.redis.Subscribe(ctx, kickChannel)
		ch := sub.Channel()
	recv:
		for {
			select {
			case <-ctx.Done():
				break recv
			case _, ok := <-ch:
				if !ok {
					break recv
				}
				s.needs.wake()
			}
		}
		sub.Close()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Run runs the intake, alert and SLA loops until ctx ends. Intake wakes on
// NeedsRecorded kicks, so an urgent need is escalated and alerted within
// moments; every loop also runs on a timer as a safety net.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if s.redis != nil {
		wg.Go(func() { s.listenKicks(ctx) })
	}
	drain := func(name string, w *waker, every time.Duration, fn func(context.Context) (int, error)) {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			wake := w.wait()
			for {
				n, err := fn(ctx)
				if err != nil && ctx.Err() == nil {
					s.logger.Error(name+" failed", "error", err)
				}
				if err != nil || n == 0 {
					break
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-wake:
				// Let a burst gather so one transaction takes many.
				time.Sleep(gather)
			case <-t.C:
			}
		}
	}
	for range s.nIntake {
		wg.Go(func() { drain("escalation intake", &s.needs, intakeEvery, s.Intake) })
	}
	for range s.nAlert {
		wg.Go(func() { drain("alert delivery", &s.alerts, alertEvery, s.DeliverAlerts) })
	}
	wg.Go(func() {
		var never waker
		drain("SLA check", &never, slaEvery, func(ctx context.Context) (int, error) {
			_, err := s.CheckSLAs(ctx)
			return 0, err
		})
	})
	wg.Go(func() {
		var never waker
		drain("session cleanup", &never, sessionEvery, func(ctx context.Context) (int, error) {
			return 0, s.store.DeleteExpiredSessions(ctx, s.now())
		})
	})
	s.needs.wake()
	wg.Wait()
}
