package outreach

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
)

// Intervals of the background loops. The dispatcher ticks often so that
// pace is smooth and a pause bites within a tick; the others can be lazy.
const (
	dispatchEvery  = 250 * time.Millisecond
	reconcileEvery = 10 * time.Second
	sweepEvery     = 5 * time.Second
	// probeTick is how often the loop looks for held senders due a
	// probe; probeEvery is how often each is probed.
	probeTick  = 5 * time.Second
	probeEvery = 30 * time.Second
	// staleAfter is how long an attempt may sit queued before the
	// reconciler assumes its task was lost (Redis flushed or failed over).
	staleAfter = 30 * time.Second
	// backlogSeconds is how many seconds of sending the dispatcher keeps
	// queued: enough to keep workers busy, never the whole campaign.
	backlogSeconds = 2.0
)

// Run runs the dispatcher, the reconciler, the sweeper and the probe of
// held senders until ctx ends.
// Any number of worker processes may run them at once: each step is a
// single atomic statement in PostgreSQL.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	loop := func(name string, every time.Duration, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				if err := fn(ctx); err != nil && ctx.Err() == nil {
					e.logger.Error(name+" failed", "error", err)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	loop("dispatcher", dispatchEvery, e.Dispatch)
	loop("reconciler", reconcileEvery, e.Reconcile)
	loop("sweeper", sweepEvery, e.Sweep)
	loop("sender probe", probeTick, e.ProbeHolds)
	wg.Wait()
}

// Dispatch hands due attempts of running campaigns whose sender is not
// held to the queue, keeping
// about backlogSeconds of sending queued per campaign, so Redis never holds
// more than a few seconds of work however large the campaign.
func (e *Engine) Dispatch(ctx context.Context) error {
	cs, err := e.store.ActiveCampaigns(ctx)
	if err != nil {
		return err
	}
	holds, err := e.store.HeldSenders(ctx)
	if err != nil {
		return err
	}
	held := map[string]bool{}
	for _, h := range holds {
		held[h.Sender] = true
	}
	for _, c := range cs {
		if c.State != store.CampaignRunning || held[c.Sender] {
			continue
		}
		queued, err := e.store.QueuedCount(ctx, c.ID)
		if err != nil {
			return err
		}
		want := int(math.Ceil(c.Pace*backlogSeconds)) - queued
		if want <= 0 {
			continue
		}
		ids, err := e.store.QueueDue(ctx, c.ID, want)
		if err != nil {
			return err
		}
		for _, a := range ids {
			if err := e.enqueue(ctx, SendPayload{Attempt: a.ID, Sender: c.Sender, Pace: c.Pace, Channel: a.Channel}); err != nil {
				// Left queued: the reconciler enqueues it again.
				return err
			}
		}
		attemptsQueued.Add(float64(len(ids)))
	}
	return nil
}

// Reconcile enqueues again attempts whose tasks may have been lost: queued
// for a while, or claimed by a worker whose lease ran out. Each re-enqueue
// is a new task (a new generation), so a task the queue still holds for a
// killed worker, or archived after its retries, never holds the attempt
// back; the claim in PostgreSQL refuses an attempt already sent or being
// sent, so the old task, when the queue runs it at last, sends nothing.
func (e *Engine) Reconcile(ctx context.Context) error {
	stale, err := e.store.RequeueStale(ctx, e.stale, 5000)
	if err != nil {
		return err
	}
	if len(stale) == 0 {
		return nil
	}
	pace := map[int64]store.Campaign{}
	for _, a := range stale {
		c, err := e.campaignOfAttempt(ctx, a.ID, pace)
		if err != nil {
			return err
		}
		if err := e.enqueue(ctx, SendPayload{Attempt: a.ID, Sender: c.Sender, Pace: c.Pace, Channel: a.Channel, Generation: a.Generation}); err != nil {
			return err
		}
	}
	attemptsRequeued.Add(float64(len(stale)))
	e.logger.Info("reconciler re-enqueued attempts", "count", len(stale))
	return nil
}

func (e *Engine) campaignOfAttempt(ctx context.Context, attemptID int64, cache map[int64]store.Campaign) (store.Campaign, error) {
	cid, err := e.store.AttemptCampaign(ctx, attemptID)
	if err != nil {
		return store.Campaign{}, err
	}
	if c, ok := cache[cid]; ok {
		return c, nil
	}
	c, err := e.store.Campaign(ctx, cid)
	if err != nil {
		return c, err
	}
	cache[cid] = c
	return c, nil
}

// Sweep moves on patients whose wait ran out: no reply to an attempt means
// the next step of the policy (or unreachable when there is none); a
// conversation left unfinished goes to a person. It also completes
// campaigns where everyone has an outcome.
func (e *Engine) Sweep(ctx context.Context) error {
	for {
		js, err := e.store.DueJourneys(ctx, 500)
		if err != nil {
			return err
		}
		for _, j := range js {
			if err := e.expire(ctx, j); err != nil {
				return err
			}
		}
		if len(js) < 500 {
			break
		}
	}
	ids, err := e.store.CompleteFinishedCampaigns(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		e.audit(ctx, "system", "campaign.complete", id, nil)
	}
	return nil
}

func (e *Engine) expire(ctx context.Context, j store.Journey) error {
	pol, err := e.policy(j.Policy)
	if err != nil {
		return fmt.Errorf("journey %d/%d: %w", j.CampaignID, j.PatientID, err)
	}
	if j.State == "contacting" {
		return e.moveOn(ctx, j.CampaignID, j.PatientID, j.Step, pol)
	}
	// Conversing: the patient started answering and stopped. Their needs
	// so far were recorded as they answered; a person follows up the rest.
	var state questionnaire.State
	_ = json.Unmarshal(j.Conversation, &state)
	reason := "stopped answering part-way"
	_, err = e.store.FinishJourney(ctx, j.CampaignID, j.PatientID, "need", reason,
		[]store.NeedRow{{Category: string(questionnaire.CategoryCallBack), Priority: "normal",
			Detail: fmt.Sprintf("stopped answering at question %q", state.QuestionID)}}, "conversing")
	return err
}
