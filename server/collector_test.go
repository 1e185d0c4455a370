package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
)

// The gauges count what PostgreSQL and Redis hold at the scrape: a need
// opened as an escalation and overdue, the campaign's patients by outcome,
// the queue's tasks, and the build.
func TestCollectorGauges(t *testing.T) {
	testdb.Reset(t)
	ctx := context.Background()
	st := testdb.Store(t)
	rdb := testdb.Redis(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	routing, err := escalation.LoadRoutingFile("")
	if err != nil {
		t.Fatal(err)
	}
	svc := escalation.New(escalation.Options{Store: st, Routing: routing, Logger: logger})
	eng := outreach.New(outreach.Options{Store: st, Logger: logger, PublicURL: "http://127.0.0.1"})
	gatewaytest.ImportOne(t, st, "metrics", "Ada")
	gatewaytest.ImportOne(t, st, "metrics", "Bob")
	c, err := eng.CreateCampaign(ctx, outreach.CampaignSpec{Name: "spring", Cohort: "metrics", Sender: gatewaytest.Sender, Pace: 1,
		Window:    json.RawMessage(`{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00", "bank_holidays": "none"}`),
		CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Start(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	var ada int64
	if err := st.Pool().QueryRow(ctx, `SELECT p.id FROM patients p JOIN campaign_patients cp ON cp.patient_id = p.id
		WHERE cp.campaign_id = $1 AND p.given_name = 'Ada'`, c.ID).Scan(&ada); err != nil {
		t.Fatal(err)
	}
	if _, err := st.FinishJourney(ctx, c.ID, ada, "need", "test", []store.NeedRow{{Category: "food", Priority: "normal", Detail: "food"}}); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Intake(ctx); err != nil || n != 1 {
		t.Fatalf("intake %d %v", n, err)
	}
	if _, err := st.RefreshCampaignReport(ctx, c.ID, time.Now(), time.UTC); err != nil {
		t.Fatal(err)
	}
	q := asynq.NewClientFromRedisClient(rdb)
	if _, err := q.Enqueue(asynq.NewTask("test", nil), asynq.Queue("metrics-test"), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var team string
	if err := st.Pool().QueryRow(ctx, `SELECT team FROM escalations`).Scan(&team); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	col := &server.Collector{Store: st, Inspector: asynq.NewInspectorFromRedisClient(rdb), Logger: logger,
		Now: func() time.Time { return time.Now().Add(30 * 24 * time.Hour) }} // a month on: overdue
	reg.MustRegister(col, server.BuildInfo("1.2.3"))
	tests := []struct{ name, want string }{
		{"protect_escalations_open", `protect_escalations_open{priority="normal",state="open",team="` + team + `"} 1`},
		{"protect_escalations_overdue", `protect_escalations_overdue{priority="normal",team="` + team + `"} 1`},
		{"protect_campaign_patients", `protect_campaign_patients{campaign="spring",outcome="need",state="running"} 1`},
		{"protect_campaign_patients", `protect_campaign_patients{campaign="spring",outcome="in_progress",state="running"} 1`},
		{"asynq_tasks_enqueued_total", `asynq_tasks_enqueued_total{queue="metrics-test",state="scheduled"} 1`},
		{"asynq_queue_size", `asynq_queue_size{queue="metrics-test"} 1`},
		{"protect_build_info", `protect_build_info{goversion="go`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			var b strings.Builder
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				if mf.GetName() != tt.name {
					continue
				}
				for _, m := range mf.GetMetric() {
					b.WriteString(tt.name + "{")
					for i, l := range m.GetLabel() {
						if i > 0 {
							b.WriteString(",")
						}
						b.WriteString(l.GetName() + `="` + l.GetValue() + `"`)
					}
					b.WriteString("} " + strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64) + "\n")
				}
			}
			if !strings.Contains(b.String(), tt.want) {
				t.Errorf("lacks %s in\n%s", tt.want, b.String())
			}
		})
	}
}
