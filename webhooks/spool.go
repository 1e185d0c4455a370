package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/protectnow/protect/internal/spool"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
)

// Twilio does not repeat an inbound message or a status callback (message
// or call) that got a 5xx, so while PostgreSQL is unavailable these
// webhooks are kept in the spool (a local fsynced file; see
// internal/spool) and answered 200 with nothing to send (204 for a
// callback); the replayer applies them when PostgreSQL is back. The voice
// dialog webhooks cannot wait: the IVR apologises and ends the call.
//
// The spool is a local file rather than a Redis stream: Redis here keeps
// nothing that cannot be rebuilt from PostgreSQL (no append-only file),
// and a spooled reply is the only copy there is.

// Kinds of spooled request.
const (
	kindSMS        = "sms"
	kindSMSStatus  = "sms_status"
	kindCallStatus = "voice_status"
)

const (
	// liveTimeout bounds the attempt to apply a webhook at once, leaving
	// time to spool it before Twilio gives up (15 seconds).
	liveTimeout = 10 * time.Second
	// replayTimeout bounds applying one spooled request.
	replayTimeout = 15 * time.Second
	// replayEvery is how often the replayer looks at the spool (it is
	// also woken by every request spooled).
	replayEvery = time.Second
	// adoptEvery is how often it looks for the spool files of processes
	// that died.
	adoptEvery = 30 * time.Second
)

var (
	spoolDepth = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "protect_spool_depth", Help: "Webhook requests in this process's spool, waiting for PostgreSQL."})
	spoolAge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "protect_spool_oldest_age_seconds", Help: "Age of the oldest request in this process's spool (0 when empty)."})
	spooled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "protect_spooled_total", Help: "Webhook requests kept in the spool, by kind and result (kept, failed: answered 500)."},
		[]string{"kind", "result"})
	replays = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "protect_spool_replays_total", Help: "Spooled requests replayed, by kind and result (done, failed: refused for good, retry: PostgreSQL or Twilio still unavailable)."},
		[]string{"kind", "result"})
)

func init() { prometheus.MustRegister(spoolDepth, spoolAge, spooled, replays) }

// keep spools a verified request and answers it: 200 with empty TwiML for
// an inbound message, 204 for a callback. A request that cannot be
// spooled gets 500 (Twilio's fallback URL, if any, is tried): nothing
// claims it was kept. It reports whether the request was kept.
func (h *Handler) keep(c *gin.Context, kind, key string, cause error) bool {
	e := spool.Entry{Kind: kind, Key: key, Received: time.Now().UTC(), Query: c.Request.URL.RawQuery,
		Form: c.Request.PostForm.Encode()}
	if err := h.Spool.Append(e); err != nil {
		spooled.WithLabelValues(kind, "failed").Inc()
		h.Logger.Error("webhook lost: PostgreSQL unavailable and the spool cannot be written", "kind", kind,
			"path", c.Request.URL.Path, "cause", cause, "error", err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return false
	}
	spooled.WithLabelValues(kind, "kept").Inc()
	if cause != nil {
		h.Logger.Warn("PostgreSQL unavailable: webhook spooled", "kind", kind, "cause", cause)
	}
	h.updateGauges()
	select {
	case h.kick <- struct{}{}:
	default:
	}
	if kind == kindSMS {
		c.Data(http.StatusOK, "application/xml; charset=utf-8", []byte(outreach.EmptyTwiML))
		return true
	}
	c.Status(http.StatusNoContent)
	return true
}

// spoolable reports whether a failed webhook should be spooled.
func (h *Handler) spoolable(err error) bool { return h.Spool != nil && store.Unavailable(err) }

// queued reports whether requests with key wait in the spool: a new one
// goes behind them, so a patient's replies are applied in the order sent.
func (h *Handler) queued(key string) bool { return h.Spool != nil && h.Spool.Holds(key) }

// Replay applies spooled requests until ctx ends: in arrival order, each
// removed from the spool only once applied. A request refused for good
// (an unknown attempt, a message that can never be stored) is moved to
// the spool directory's rejected file and logged; while PostgreSQL or
// Twilio is unavailable the replayer waits and tries again.
func (h *Handler) Replay(ctx context.Context) {
	if h.Spool == nil {
		return
	}
	tick := time.NewTicker(replayEvery)
	defer tick.Stop()
	lastAdopt := time.Now()
	for {
		if time.Since(lastAdopt) >= adoptEvery {
			lastAdopt = time.Now()
			if n, err := h.Spool.Adopt(); err != nil {
				h.Logger.Error("adopt spool files of stopped processes", "error", err)
			} else if n > 0 {
				h.Logger.Warn("adopted spooled webhooks of a stopped process", "count", n)
			}
		}
		h.ReplayOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-h.kick:
		}
	}
}

// ReplayOnce applies what the spool holds, oldest first, and returns how
// many requests are left (the first that must wait and those after it).
func (h *Handler) ReplayOnce(ctx context.Context) int {
	defer h.updateGauges()
	pending := h.Spool.Pending()
	for i, e := range pending {
		if ctx.Err() != nil {
			return len(pending) - i
		}
		err := h.apply(ctx, e)
		switch {
		case err == nil:
			replays.WithLabelValues(e.Kind, "done").Inc()
			if err := h.Spool.Ack(e.Seq); err != nil {
				h.Logger.Error("spool acknowledgement", "error", err)
			}
		case store.Unavailable(err) || twilioapi.Temporary(err):
			replays.WithLabelValues(e.Kind, "retry").Inc()
			h.Logger.Warn("spooled webhooks wait: PostgreSQL or Twilio still unavailable", "pending", len(pending)-i, "error", err)
			return len(pending) - i
		default:
			replays.WithLabelValues(e.Kind, "failed").Inc()
			h.Logger.Error("spooled webhook refused for good: kept in the rejected file for a person", "kind", e.Kind,
				"seq", e.Seq, "error", err)
			if err := h.Spool.Reject(e); err != nil {
				h.Logger.Error("spool reject", "error", err)
				return len(pending) - i
			}
		}
	}
	return 0
}

// apply applies one spooled request.
func (h *Handler) apply(ctx context.Context, e spool.Entry) error {
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	form, err := url.ParseQuery(e.Form)
	if err != nil {
		return err
	}
	query, err := url.ParseQuery(e.Query)
	if err != nil {
		return err
	}
	switch e.Kind {
	case kindSMS:
		in, ok := inboundFrom(form)
		if !ok {
			return errors.New("spooled inbound SMS lacks MessageSid, From or To")
		}
		return h.Engine.ReplayInbound(ctx, in)
	case kindSMSStatus:
		cb, ok := statusFrom(query, form)
		if !ok {
			return errors.New("spooled status callback lacks attempt, MessageSid or MessageStatus")
		}
		return h.Engine.HandleStatus(ctx, cb)
	case kindCallStatus:
		cb, ok := callStatusFrom(query, form)
		if !ok {
			return errors.New("spooled call status callback lacks attempt, CallSid or CallStatus")
		}
		return h.Engine.HandleCallStatus(ctx, cb)
	}
	return errors.New("spooled request of unknown kind " + e.Kind)
}

func (h *Handler) updateGauges() {
	depth, oldest := h.Spool.Stats()
	spoolDepth.Set(float64(depth))
	if oldest.IsZero() {
		spoolAge.Set(0)
	} else {
		spoolAge.Set(time.Since(oldest).Seconds())
	}
}

// outreach's inbound and status types, from a webhook's fields.
func inboundFrom(f url.Values) (outreach.InboundSMS, bool) {
	in := outreach.InboundSMS{SID: f.Get("MessageSid"), From: f.Get("From"), To: f.Get("To"), Body: f.Get("Body")}
	return in, validSID(in.SID, "SM,MM") && in.From != "" && in.To != ""
}
