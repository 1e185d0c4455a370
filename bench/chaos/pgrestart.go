package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/protectnow/protect/bench/internal/inbound"
	"github.com/protectnow/protect/bench/internal/load"
	"github.com/protectnow/protect/config"
)

// scripts are the patients' answers to the wellbeing check (ok, food,
// medicines, unwell, call back; 1 is yes, 2 is no): fine, needs food,
// needs medicines, not OK. Patient i answers with scripts[i%4].
var scripts = [][]string{
	{"1", "2", "2", "2", "2"},
	{"1", "1", "2", "2", "2"},
	{"1", "2", "1", "2", "2"},
	{"2", "2", "2", "2", "2"},
}

const answersEach = 5

// pgResult is one run of the reply stream.
type pgResult struct {
	sent, ok2xx, failed, refused, inline, rest, stored, unanswered int
	outcomes                                                       map[string]string // NHS number: state/outcome
	seconds                                                        int
}

// runPGRestart texts every patient once, then plays the patients: each
// answers the whole wellbeing check by SMS, signed as Twilio signs it,
// at ReplyRate replies a second in all. It does so twice on a PostgreSQL
// cluster of its own: once as it is, once with the cluster stopped for
// Outage while the replies arrive. Promise: every reply stored once and
// answered, and every patient's outcome the same in both runs.
func runPGRestart(ctx context.Context, p Params) (*Report, error) {
	r := &Report{Scenario: fmt.Sprintf("pgrestart: %d patients x %d replies at %.0f/s, PostgreSQL down for %s from %s into the replies",
		p.PGPatients, answersEach, p.ReplyRate, p.Outage, p.OutageAt)}
	cluster, err := newPGCluster(ctx, p.Dir)
	if err != nil {
		return nil, err
	}
	defer cluster.close()
	base, err := pgRun(ctx, p, cluster, "pg-baseline", false)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	res, err := pgRun(ctx, p, cluster, "pg-restart", true)
	if err != nil {
		return nil, fmt.Errorf("with the restart: %w", err)
	}
	for _, x := range []struct {
		name string
		res  *pgResult
	}{{"baseline", base}, {"restart", res}} {
		r.add(x.name+": replies sent", x.res.sent)
		r.add(x.name+": answered 2xx", x.res.ok2xx)
		r.add(x.name+": answered 5xx", x.res.refused)
		r.add(x.name+": no answer (connection failed)", x.res.failed)
		r.add(x.name+": replies stored in PostgreSQL", x.res.stored)
		r.add(x.name+": answered in the webhook's TwiML", x.res.inline)
		r.add(x.name+": answered later by REST", x.res.rest)
		r.add(x.name+": replies never answered", x.res.unanswered)
		r.add(x.name+": seconds from first reply to settled", x.res.seconds)
	}
	differ := 0
	for nhs, o := range base.outcomes {
		if res.outcomes[nhs] != o {
			differ++
		}
	}
	r.add("patients whose outcome differs from the baseline", differ)
	r.expect(base.stored == base.sent && base.unanswered == 0,
		"baseline (no fault) already loses replies: %d of %d stored, %d unanswered", base.stored, base.sent, base.unanswered)
	r.expect(res.stored == res.sent, "%d of %d replies stored with the restart", res.stored, res.sent)
	r.expect(res.unanswered == 0, "%d replies never answered with the restart", res.unanswered)
	r.expect(differ == 0, "%d of %d patients ended with another outcome than without the restart", differ, len(base.outcomes))
	return r, nil
}

func pgRun(ctx context.Context, p Params, cluster *pgCluster, name string, outage bool) (*pgResult, error) {
	e, err := newEnv(ctx, p, name)
	if err != nil {
		return nil, err
	}
	defer e.close()
	e.adminURL = cluster.adminURL()
	if err := e.freshDB(ctx); err != nil {
		return nil, err
	}
	if err := e.startSandbox(200 * time.Millisecond); err != nil {
		return nil, err
	}
	if err := e.startServe(ctx, 16); err != nil {
		return nil, err
	}
	if err := e.startWorkers(p.Workers, 6); err != nil {
		return nil, err
	}
	patients := makePatients(0, p.PGPatients)
	err = e.startCampaign(ctx, campaignSpec{name: "replies", patients: patients, pace: p.PGPace,
		policy: `{"steps": [{"channel": "sms", "wait": "2h"}], "conversation_timeout": "2h"}`})
	if err != nil {
		return nil, err
	}
	// Everyone has had the first text and waits to answer.
	limit := time.Duration(float64(len(patients))/p.PGPace*2*float64(time.Second)) + time.Minute
	err = poll(ctx, limit, 500*time.Millisecond, func() (bool, error) {
		n, err := e.count(ctx, `SELECT count(*) FROM campaign_patients WHERE state = 'contacting'`)
		return err == nil && n == len(patients) && len(e.sb.Messages()) >= len(patients), err
	})
	if err != nil {
		return nil, fmt.Errorf("first texts: %w", err)
	}
	idle, cancel := context.WithTimeout(ctx, time.Minute)
	e.sb.WaitIdle(idle) //nolint:errcheck // bounded; the counts below show what is missing
	cancel()

	n := len(patients) * answersEach
	statuses := make([]int, n)
	inline := make([]bool, n)
	target := e.publicURL + "/webhooks/twilio/sms"
	next := func(i int) *http.Request {
		pt, q := i%len(patients), i/len(patients)
		return inbound.SMS{Serial: i + 1, AccountSID: config.SandboxAccountSID, From: patients[pt].E164, To: sender,
			Body: scripts[pt%len(scripts)][q]}.Request(target, config.SandboxAuthToken)
	}
	observe := func(i, status int, body []byte) {
		statuses[i] = status
		inline[i] = status < 300 && bytes.Contains(body, []byte("<Message"))
	}
	start := time.Now()
	var wg sync.WaitGroup
	var startErr error
	if outage {
		wg.Go(func() {
			sleep(ctx, p.OutageAt)
			cluster.stop()
			sleep(ctx, p.Outage)
			startErr = cluster.start(context.WithoutCancel(ctx))
		})
	}
	load.RunN(load.Client(), p.ReplyRate, n, 512, next, observe)
	wg.Wait()
	if startErr != nil {
		return nil, fmt.Errorf("start PostgreSQL again: %w", startErr)
	}
	// Replies kept while PostgreSQL was down may be applied now: wait
	// until all are stored, or nothing has changed for 20 s.
	last, lastChange := -1, time.Now()
	err = poll(ctx, p.PGLimit, time.Second, func() (bool, error) {
		stored, err := e.count(ctx, `SELECT count(*) FROM messages WHERE direction = 'in'`)
		if err != nil {
			return false, nil // the pool reconnects after the restart
		}
		if stored != last {
			last, lastChange = stored, time.Now()
		}
		return stored >= n || time.Since(lastChange) > 20*time.Second, nil
	})
	if err != nil && ctx.Err() != nil {
		return nil, err
	}
	idle, cancel = context.WithTimeout(ctx, 30*time.Second)
	e.sb.WaitIdle(idle) //nolint:errcheck
	cancel()
	res := &pgResult{sent: n, seconds: int(time.Since(start).Seconds()), outcomes: map[string]string{}}
	for i, s := range statuses {
		switch {
		case s == 0:
			res.failed++
		case s < 300:
			res.ok2xx++
		default:
			res.refused++
		}
		if inline[i] {
			res.inline++
		}
	}
	if res.stored, err = e.count(ctx, `SELECT count(DISTINCT provider_sid) FROM messages WHERE direction = 'in'`); err != nil {
		return nil, err
	}
	// Per patient: answers in TwiML plus texts sent by REST after the
	// first one; each reply wants one.
	inlineBy := make([]int, len(patients))
	for i, ok := range inline {
		if ok {
			inlineBy[i%len(patients)]++
		}
	}
	texts := e.texts()
	for i, pt := range patients {
		later := max(0, len(texts[pt.E164])-1)
		res.rest += later
		res.unanswered += max(0, answersEach-inlineBy[i]-later)
	}
	res.outcomes, err = e.outcomes(ctx)
	return res, err
}
