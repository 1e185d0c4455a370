package escalation

import "github.com/prometheus/client_golang/prometheus"

var (
	alertsSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "protect_escalation_alerts_sent_total", Help: "Escalation alerts delivered, by channel."}, []string{"channel"})
	alertsFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "protect_escalation_alert_failures_total", Help: "Failed escalation alert deliveries, by channel."}, []string{"channel"})
)

func init() { prometheus.MustRegister(alertsSent, alertsFailed) }
