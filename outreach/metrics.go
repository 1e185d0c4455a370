package outreach

import "github.com/prometheus/client_golang/prometheus"

var (
	smsSent = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "protect_sms_sent_total", Help: "Attempt messages accepted by Twilio."})
	sendErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "protect_send_errors_total", Help: "Send failures by kind (temporary, final)."}, []string{"kind"})
	repliesHandled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "protect_replies_total", Help: "Inbound messages by what they were."}, []string{"kind"})
	attemptsQueued = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "protect_attempts_queued_total", Help: "Attempts handed to the queue by the dispatcher."})
	attemptsRequeued = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "protect_attempts_requeued_total", Help: "Attempts the reconciler put back on the queue."})
	replyBatchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "protect_reply_batch_size", Help: "Inbound SMS handled per transaction.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64}})
	restReplies = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "protect_rest_replies_total", Help: "Answers to spooled inbound messages sent by the REST API."})
	holdOffs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "protect_attempts_held_off_total", Help: "Attempts put back at send time because another team contacted the patient."})
)

func init() {
	prometheus.MustRegister(smsSent, sendErrors, repliesHandled, attemptsQueued, attemptsRequeued, replyBatchSize, holdOffs, restReplies)
}
