package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/protectnow/protect/sandbox"
)

// runLossy runs a one-step campaign with a long wait while a proxy loses
// Twilio's answers to a share of the message creations (after Twilio
// created the message) and status callbacks come late. Promise: every
// patient gets exactly one text, the introduction.
func runLossy(ctx context.Context, p Params) (*Report, error) {
	r := &Report{Scenario: fmt.Sprintf("lossy: %d patients, %.0f%% of creations' answers dropped, %.0f%% answered 502, callbacks %s apart",
		p.LossyPatients, p.Drop*100, p.BadGateway*100, p.CallbackDelay)}
	e, err := newEnv(ctx, p, "lossy")
	if err != nil {
		return nil, err
	}
	defer e.close()
	if err := e.freshDB(ctx); err != nil {
		return nil, err
	}
	if err := e.startSandbox(p.CallbackDelay); err != nil {
		return nil, err
	}
	proxy := newLossyProxy(e.sandboxURL, p.Drop, p.BadGateway, p.Seed)
	var stopProxy func()
	if e.twilioURL, stopProxy, err = proxy.start(); err != nil {
		return nil, err
	}
	defer stopProxy()
	if err := e.startServe(ctx, 6); err != nil {
		return nil, err
	}
	if err := e.startWorkers(p.Workers, 4); err != nil {
		return nil, err
	}
	patients := makePatients(0, p.LossyPatients)
	// One step and a wait far longer than the run: any second text is a
	// duplicate.
	err = e.startCampaign(ctx, campaignSpec{name: "lossy", patients: patients, pace: p.LossyPace,
		policy: `{"steps": [{"channel": "sms", "wait": "2h"}], "conversation_timeout": "2h"}`})
	if err != nil {
		return nil, err
	}
	start := time.Now()
	// Settled: every attempt sent (or given up), and every patient texted.
	waitErr := poll(ctx, p.LossyLimit, 500*time.Millisecond, func() (bool, error) {
		n, err := e.unsettled(ctx)
		return err == nil && n == 0 && len(e.texts()) >= len(patients), err
	})
	if waitErr != nil && ctx.Err() != nil {
		return nil, waitErr
	}
	// Late callbacks and retries may still text someone: watch a while.
	quiet := 3*p.CallbackDelay + 5*time.Second
	sleep(ctx, quiet)
	r.add("seconds to settle (limit "+p.LossyLimit.String()+")", int(time.Since(start).Seconds()))
	texts := e.texts()
	var texted, second, wrongFirst, never int
	for _, pt := range patients {
		ms := texts[pt.E164]
		switch {
		case len(ms) == 0:
			never++
			continue
		case len(ms) > 1:
			second++
		}
		texted++
		if !isIntro(ms[0].Body) {
			wrongFirst++
		}
	}
	r.add("patients", len(patients))
	r.add("message creations through the proxy", int(proxy.creates.Load()))
	r.add("answers dropped after Twilio created", int(proxy.dropped.Load()))
	r.add("answers replaced by 502", int(proxy.badGateway.Load()))
	r.add("patients texted", texted)
	r.add("patients texted twice or more (second texts)", second)
	r.add("patients whose first text is not the intro", wrongFirst)
	r.add("patients never texted", never)
	cb5xx, cb4xx := callbackErrors(e)
	r.add("status callbacks answered 5xx", cb5xx)
	r.add("status callbacks answered 4xx", cb4xx)
	states, err := e.attemptStates(ctx)
	if err != nil {
		return nil, err
	}
	r.add("attempts not settled (planned/queued/sending/retry)", states["planned"]+states["queued"]+states["sending"]+states["retry"])
	r.add("attempts failed", states["failed"])
	r.expect(second == 0, "%d patients got a second text", second)
	r.expect(wrongFirst == 0, "%d patients' first text was not the introduction", wrongFirst)
	r.expect(never == 0, "%d patients were never texted", never)
	if waitErr != nil {
		r.Notes = append(r.Notes, "attempts still unsettled at the limit: "+waitErr.Error())
	}
	return r, nil
}

// callbackErrors counts the status callbacks serve refused, by class.
func callbackErrors(e *env) (server, client int) {
	for _, w := range e.sb.Webhooks() {
		if w.Kind != sandbox.KindMessageStatus {
			continue
		}
		switch {
		case w.StatusCode >= http.StatusInternalServerError:
			server++
		case w.StatusCode >= http.StatusBadRequest:
			client++
		}
	}
	return server, client
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
