package ivr

import "github.com/prometheus/client_golang/prometheus"

var (
	callsPlaced = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "protect_calls_placed_total", Help: "Calls accepted by Twilio."})
	callsHeldBack = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "protect_calls_held_back_total", Help: "Calls put back because their caller number was at its cap."})
	voiceReplays = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "protect_voice_webhook_replays_total", Help: "Voice webhooks answered from the step log (Twilio repeated them)."})
	transfersAccepted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "protect_voice_transfers_accepted_total", Help: "Transfers to the team a team member accepted at the whisper."})
)

func init() { prometheus.MustRegister(callsPlaced, callsHeldBack, voiceReplays, transfersAccepted) }
