package server

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/protectnow/protect/store"
)

// collectTimeout bounds the queries of one scrape: a slow database must not
// hold Prometheus up.
const collectTimeout = 3 * time.Second

var (
	escalationsOpenDesc = prometheus.NewDesc("protect_escalations_open",
		"Unresolved escalations by team, priority and state (open or claimed).", []string{"team", "priority", "state"}, nil)
	escalationsOverdueDesc = prometheus.NewDesc("protect_escalations_overdue",
		"Escalations open past their time to claim or claimed past their time to resolve, by team and priority.",
		[]string{"team", "priority"}, nil)
	campaignPatientsDesc = prometheus.NewDesc("protect_campaign_patients",
		"Patients of each campaign by outcome (in_progress: none yet), from the campaign's latest report.",
		[]string{"campaign", "state", "outcome"}, nil)
	// The queue metrics take the names of asynq's own metrics collector
	// (asynq/x/metrics), so dashboards made for it work unchanged.
	queueSizeDesc  = prometheus.NewDesc("asynq_queue_size", "Tasks in the queue.", []string{"queue"}, nil)
	queueTasksDesc = prometheus.NewDesc("asynq_tasks_enqueued_total", "Tasks in the queue by state.",
		[]string{"queue", "state"}, nil)
	queueLatencyDesc = prometheus.NewDesc("asynq_queue_latency_seconds",
		"How long the oldest pending task of the queue has waited.", []string{"queue"}, nil)
	queuePausedDesc = prometheus.NewDesc("asynq_queue_paused_total", "1 when the queue is paused.", []string{"queue"}, nil)
)

// Collector reports, at each scrape, the escalation and campaign gauges
// from PostgreSQL and the depth of every Asynq queue from Redis.
type Collector struct {
	Store     *store.Store
	Inspector *asynq.Inspector // nil: no queue metrics
	Logger    *slog.Logger
	Now       func() time.Time
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{escalationsOpenDesc, escalationsOverdueDesc, campaignPatientsDesc,
		queueSizeDesc, queueTasksDesc, queueLatencyDesc, queuePausedDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A source that fails is logged
// and left out of the scrape; the others are still reported.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	if loads, err := c.Store.EscalationLoads(ctx, now); err != nil {
		c.Logger.Warn("metrics: escalation gauges", "error", err)
	} else {
		overdue := map[[2]string]int{}
		for _, l := range loads {
			ch <- prometheus.MustNewConstMetric(escalationsOpenDesc, prometheus.GaugeValue, float64(l.Count), l.Team, l.Priority, l.State)
			overdue[[2]string{l.Team, l.Priority}] += l.Overdue
		}
		for k, n := range overdue {
			ch <- prometheus.MustNewConstMetric(escalationsOverdueDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
		}
	}
	if fs, err := c.Store.CampaignFunnels(ctx); err != nil {
		c.Logger.Warn("metrics: campaign gauges", "error", err)
	} else {
		for _, f := range fs {
			for _, o := range []struct {
				name string
				n    int
			}{{"fine", f.Funnel.Fine}, {"need", f.Funnel.Need}, {"opted_out", f.Funnel.OptedOut},
				{"unreachable", f.Funnel.Unreachable}, {"no_contact_route", f.Funnel.NoRoute}, {"in_progress", f.Funnel.Waiting()}} {
				ch <- prometheus.MustNewConstMetric(campaignPatientsDesc, prometheus.GaugeValue, float64(o.n), f.Name, f.State, o.name)
			}
		}
	}
	if c.Inspector != nil {
		c.collectQueues(ch)
	}
}

func (c *Collector) collectQueues(ch chan<- prometheus.Metric) {
	queues, err := c.Inspector.Queues()
	if err != nil {
		c.Logger.Warn("metrics: queues", "error", err)
		return
	}
	for _, q := range queues {
		info, err := c.Inspector.GetQueueInfo(q)
		if err != nil {
			c.Logger.Warn("metrics: queue", "queue", q, "error", err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(queueSizeDesc, prometheus.GaugeValue, float64(info.Size), q)
		ch <- prometheus.MustNewConstMetric(queueLatencyDesc, prometheus.GaugeValue, info.Latency.Seconds(), q)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(queuePausedDesc, prometheus.GaugeValue, paused, q)
		for _, s := range []struct {
			state string
			n     int
		}{{"active", info.Active}, {"pending", info.Pending}, {"scheduled", info.Scheduled}, {"retry", info.Retry},
			{"archived", info.Archived}, {"completed", info.Completed}, {"aggregating", info.Aggregating}} {
			ch <- prometheus.MustNewConstMetric(queueTasksDesc, prometheus.GaugeValue, float64(s.n), q, s.state)
		}
	}
}

// BuildInfo is the protect_build_info gauge: always 1, labelled with the
// version and the Go version the binary was built with.
func BuildInfo(version string) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "protect_build_info",
		Help: "Always 1; labelled with the build's version and Go version."}, []string{"version", "goversion"})
	g.WithLabelValues(version, runtime.Version()).Set(1)
	return g
}
