package escalation_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/store"
)

func TestResolveWithin(t *testing.T) {
	base := testRouting("https://team.example/hook")
	tests := []struct {
		name               string
		extra              string
		category, priority string
		want               time.Duration
	}{
		{"default: a working day", "", "food", "normal", escalation.DefaultResolveSLA},
		{"default: urgent within the hour", "", "clinical-urgent", "urgent", escalation.DefaultUrgentResolveSLA},
		{"per category", "resolve_sla: {food: 2h, default: 24h}\n", "food", "normal", 2 * time.Hour},
		{"file default", "resolve_sla: {food: 2h, default: 24h}\n", "social", "normal", 24 * time.Hour},
		{"priority cap from the file", "priority_resolve_sla: {high: 30m}\n", "clinical", "high", 30 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := escalation.ParseRouting("test", []byte(base+tc.extra), os.LookupEnv)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.ResolveWithin(tc.category, tc.priority); got != tc.want {
				t.Fatalf("ResolveWithin(%s, %s) = %v, want %v", tc.category, tc.priority, got, tc.want)
			}
		})
	}
}

// A claimed escalation not resolved within its resolve SLA stays with its
// team and claimer, goes up a tier, alerts the team again (SMS whatever the
// priority, and the webhook naming the claimer), shows as overdue, and is
// alerted again each period until resolved.
func TestResolveSLA(t *testing.T) {
	tests := []struct {
		name, locality, category, priority string
		within                             time.Duration
		onCall                             string
		wantText                           string
	}{
		{"normal food need", "Norwich", "food", "normal", escalation.DefaultResolveSLA, "+447700900024",
			"Protect: 1 normal escalation for Norwich council claimed but not resolved in time, open the console"},
		{"urgent clinical need", "", "clinical-urgent", "urgent", escalation.DefaultUrgentResolveSLA, "+447700900004",
			"Protect: 1 urgent escalation for Clinical team claimed but not resolved in time, open the console"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			p := e.patient("9434765919", tc.locality, "")
			e.need(p, tc.category, tc.priority)
			e.intake()
			e.deliver()
			esc := e.escalation(p, tc.category)
			nina := escalation.Actor{Name: "user:nina", Role: store.RoleHandler, Teams: []string{esc.Team}}
			if err := e.svc.Claim(ctx, nina, esc.ID); err != nil {
				t.Fatal(err)
			}
			claimed := e.escalation(p, tc.category)
			if claimed.ResolveBy == nil || !claimed.ResolveBy.Equal(e.clock.Now().Add(tc.within)) {
				t.Fatalf("resolve by %v, want %v", claimed.ResolveBy, e.clock.Now().Add(tc.within))
			}
			texts := len(e.sms(tc.onCall))
			hooks := len(e.hook.received())

			// Not yet due: the queued check and the sweep change nothing.
			e.clock.Add(tc.within - time.Minute)
			payload, _ := json.Marshal(map[string]any{"escalation": esc.ID, "tier": claimed.Tier})
			task := asynq.NewTask(escalation.TaskSLA, payload)
			if err := e.svc.HandleSLA(ctx, task); err != nil {
				t.Fatal(err)
			}
			if n, err := e.svc.CheckSLAs(ctx); err != nil || n != 0 {
				t.Fatalf("before the deadline: %d handled, %v", n, err)
			}

			// Due: the queued check alerts again, once however often it runs.
			e.clock.Add(2 * time.Minute)
			for range 2 {
				if err := e.svc.HandleSLA(ctx, task); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := e.svc.CheckSLAs(ctx); err != nil || n != 0 {
				t.Fatalf("sweep after the queued check: %d handled, %v", n, err)
			}
			e.deliver()
			got := e.escalation(p, tc.category)
			if got.State != store.EscalationClaimed || got.ClaimedBy != "user:nina" || got.Team != claimed.Team || got.Tier != claimed.Tier+1 {
				t.Fatalf("after the resolve deadline: %+v", got)
			}
			sms := e.sms(tc.onCall)
			if len(sms) != texts+1 || sms[len(sms)-1] != tc.wantText {
				t.Fatalf("texts to %s: %q", tc.onCall, sms)
			}
			if claimed.Team == "clinical" {
				hs := e.hook.received()
				if len(hs) != hooks+1 {
					t.Fatalf("webhooks: %d, want %d", len(hs), hooks+1)
				}
				var ev escalation.WebhookEvent
				if err := json.Unmarshal(hs[len(hs)-1].body, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Event != "escalation.unresolved" || ev.ClaimedBy != "user:nina" {
					t.Fatalf("webhook event %+v", ev)
				}
			}
			events, err := e.st.EscalationEvents(ctx, esc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if last := events[len(events)-1]; last.Kind != "not-resolved-in-time" || !strings.Contains(last.Detail, "user:nina") {
				t.Fatalf("last event %+v", last)
			}
			if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'escalation.unresolved' AND subject_id = $1`,
				strconv.FormatInt(esc.ID, 10)); n != 1 {
				t.Fatalf("audited %d times", n)
			}

			// The new resolve-by is a period away; past it, the claimer and
			// the team's inbox see it as overdue.
			in, err := e.svc.Inbox(ctx, nina, escalation.InboxQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if in.Counts.Overdue != 0 || in.MyOverdue != 0 {
				t.Fatalf("re-alerted escalation still overdue at once: %+v, mine %d", in.Counts, in.MyOverdue)
			}
			e.clock.Add(tc.within + time.Minute)
			in, err = e.svc.Inbox(ctx, nina, escalation.InboxQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if in.Counts.Overdue != 1 || in.MyOverdue != 1 {
				t.Fatalf("overdue claim not shown: counts %+v, mine %d", in.Counts, in.MyOverdue)
			}

			// Each period alerts again until it is resolved.
			if n, err := e.svc.CheckSLAs(ctx); err != nil || n != 1 {
				t.Fatalf("second period: %d handled, %v", n, err)
			}
			if err := e.svc.Resolve(ctx, nina, esc.ID, "helped", "called, seen by the GP"); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(10 * tc.within)
			if n, err := e.svc.CheckSLAs(ctx); err != nil || n != 0 {
				t.Fatalf("resolved escalation alerted: %d %v", n, err)
			}
		})
	}
}
