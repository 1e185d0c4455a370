package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// runKill runs a two-step SMS campaign of silent patients while a random
// worker is killed with SIGKILL (and started again) every few seconds.
// Promise: every patient gets step 1 (the introduction) then step 2 (the
// reminder), exactly once each, and no attempt is left in sending.
func runKill(ctx context.Context, p Params) (*Report, error) {
	r := &Report{Scenario: fmt.Sprintf("kill: %d patients, two SMS steps %s apart, %.0f/s, kill -9 of a worker every %s",
		p.KillPatients, p.KillWait, p.KillPace, p.KillEvery)}
	e, err := newEnv(ctx, p, "kill")
	if err != nil {
		return nil, err
	}
	defer e.close()
	if err := e.freshDB(ctx); err != nil {
		return nil, err
	}
	if err := e.startSandbox(200 * time.Millisecond); err != nil {
		return nil, err
	}
	if err := e.startServe(ctx, 6); err != nil {
		return nil, err
	}
	const workerPool = 4
	if err := e.startWorkers(p.Workers, workerPool); err != nil {
		return nil, err
	}
	patients := makePatients(0, p.KillPatients)
	wait := p.KillWait.String()
	err = e.startCampaign(ctx, campaignSpec{name: "kill", patients: patients, pace: p.KillPace,
		policy: fmt.Sprintf(`{"steps": [{"channel": "sms", "wait": %q}, {"channel": "sms", "wait": %q}], "conversation_timeout": "2h"}`, wait, wait)})
	if err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(p.KillLimit)
	// Kill while both steps should be going out.
	sending := time.Duration(2*float64(len(patients))/p.KillPace*float64(time.Second)) + p.KillWait
	killUntil := start.Add(sending)
	if killUntil.After(deadline) {
		killUntil = deadline
	}
	rnd := rand.New(rand.NewPCG(p.Seed, 11))
	for time.Now().Before(killUntil) && ctx.Err() == nil && len(e.sb.Messages()) < 2*len(patients) {
		sleep(ctx, p.KillEvery)
		if err := e.restartWorker(rnd.IntN(len(e.workers)), workerPool); err != nil {
			return nil, err
		}
	}
	r.add("worker kills (kill -9)", e.restarts)
	waitErr := poll(ctx, time.Until(deadline), time.Second, func() (bool, error) {
		n, err := e.unsettled(ctx)
		return err == nil && n == 0 && len(e.sb.Messages()) >= 2*len(patients), err
	})
	if waitErr != nil && ctx.Err() != nil {
		return nil, waitErr
	}
	sleep(ctx, 5*time.Second)
	r.add("seconds until settled (limit "+p.KillLimit.String()+")", int(time.Since(start).Seconds()))
	texts := e.texts()
	var ok, noIntro, introTwice, noReminder, reminderTwice, wrongFirst, other int
	var broken []string
	for _, pt := range patients {
		var intros, reminders int
		ms := texts[pt.E164]
		for _, m := range ms {
			switch {
			case isIntro(m.Body):
				intros++
			case isReminder(m.Body):
				reminders++
			default:
				other++
			}
		}
		if len(ms) > 0 && !isIntro(ms[0].Body) {
			wrongFirst++
		}
		switch {
		case intros == 0:
			noIntro++
		case intros > 1:
			introTwice++
		}
		switch {
		case reminders == 0:
			noReminder++
		case reminders > 1:
			reminderTwice++
		}
		if len(ms) == 2 && isIntro(ms[0].Body) && isReminder(ms[1].Body) {
			ok++
		} else if len(broken) < 5 {
			broken = append(broken, e.explain(ctx, pt, ms))
		}
	}
	r.Notes = append(r.Notes, broken...)
	r.add("patients", len(patients))
	r.add("patients with step 1 then step 2, once each", ok)
	r.add("patients without the introduction", noIntro)
	r.add("patients with the introduction twice or more", introTwice)
	r.add("patients without the step 2 reminder", noReminder)
	r.add("patients with the reminder twice or more", reminderTwice)
	r.add("patients whose first text is not the intro", wrongFirst)
	r.add("texts that are neither intro nor reminder", other)
	states, err := e.attemptStates(ctx)
	if err != nil {
		return nil, err
	}
	r.add("attempts left in sending", states["sending"])
	r.add("attempts not settled (planned/queued/retry)", states["planned"]+states["queued"]+states["retry"])
	r.add("attempts failed", states["failed"])
	r.add("attempts cancelled", states["cancelled"])
	r.expect(ok == len(patients), "%d of %d patients did not get step 1 then step 2 exactly once each", len(patients)-ok, len(patients))
	r.expect(states["sending"] == 0, "%d attempts left in sending", states["sending"])
	if waitErr != nil {
		r.Notes = append(r.Notes, "not settled at the limit: "+waitErr.Error())
	}
	return r, nil
}
