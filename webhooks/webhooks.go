// Package webhooks is the Twilio-facing HTTP surface: inbound SMS, message
// and call status callbacks, and (with the IVR) the voice dialog webhooks.
// Every request must carry a valid X-Twilio-Signature computed over the
// configured public URL; anything else is refused before it touches the
// database. Every refusal is counted by reason and logged (Refuse).
package webhooks

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/internal/spool"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/twilioapi"
)

// maxBody bounds a webhook body; Twilio's are a few kilobytes.
const maxBody = 64 << 10

var rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "protect_webhooks_rejected_total", Help: "Webhooks refused, by reason."}, []string{"reason"})

func init() { prometheus.MustRegister(rejected) }

// Handler serves the Twilio webhooks.
type Handler struct {
	Engine     *outreach.Engine
	AccountSID string
	AuthToken  string
	// PublicURL is the base URL Twilio calls; signatures are computed over
	// it plus the request's path and query, so proxies that rewrite the
	// host or scheme do not break validation.
	PublicURL string
	Logger    *slog.Logger
	// Extra registers more routes behind the same signature check (the
	// IVR's dialog webhooks; the call status callback is served here).
	Extra func(g *gin.RouterGroup)
	// Spool keeps inbound messages and message and call status callbacks
	// while PostgreSQL is unavailable (see spool.go); nil answers them 500
	// instead.
	Spool *spool.Spool

	kick chan struct{}
}

// Register adds the webhook routes.
func (h *Handler) Register(r *gin.Engine) {
	if h.kick == nil {
		h.kick = make(chan struct{}, 1)
	}
	g := r.Group("/webhooks/twilio", h.verify)
	g.POST("/sms", h.sms)
	g.POST("/sms/status", h.smsStatus)
	g.POST("/voice/status", h.callStatus)
	if h.Extra != nil {
		h.Extra(g)
	}
}

// verify checks size, form and signature, and that the request is for our
// account. Nothing is stored for a request that fails.
func (h *Handler) verify(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	if err := c.Request.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			Refuse(c, h.Logger, http.StatusRequestEntityTooLarge, "too_large", "body too large", "remote", c.ClientIP())
			return
		}
		Refuse(c, h.Logger, http.StatusBadRequest, "bad_form", "malformed form body", "remote", c.ClientIP())
		return
	}
	sig := c.GetHeader("X-Twilio-Signature")
	url := h.PublicURL + c.Request.URL.RequestURI()
	if sig == "" || !twilioapi.SignatureValid(h.AuthToken, url, c.Request.PostForm, sig) {
		Refuse(c, h.Logger, http.StatusForbidden, "signature", "invalid signature", "remote", c.ClientIP())
		return
	}
	if acc := c.Request.PostForm.Get("AccountSid"); acc != "" && acc != h.AccountSID {
		Refuse(c, h.Logger, http.StatusForbidden, "account", "wrong account", "remote", c.ClientIP())
		return
	}
	c.Next()
}

// Refuse answers a Twilio webhook with a 4xx, counts it by reason and
// logs why, at Warn, with the path and the attrs given: SIDs and attempt
// numbers, never a phone number or the request's body. The IVR's dialog
// webhooks use it too.
func Refuse(c *gin.Context, log *slog.Logger, status int, reason, msg string, attrs ...any) {
	rejected.WithLabelValues(reason).Inc()
	if log == nil {
		log = slog.Default()
	}
	log.Warn("webhook refused", append([]any{"path", c.Request.URL.Path, "status", status, "reason", reason,
		"detail", msg}, attrs...)...)
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

func validSID(s, prefixes string) bool {
	if len(s) != 34 {
		return false
	}
	for _, p := range strings.Split(prefixes, ",") {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func (h *Handler) sms(c *gin.Context) {
	in, ok := inboundFrom(c.Request.PostForm)
	if !ok {
		Refuse(c, h.Logger, http.StatusBadRequest, "fields", "MessageSid, From and To are required",
			"sid", clip.Text(in.SID, 40))
		return
	}
	if h.queued(in.From) {
		// Earlier replies from this number wait in the spool: this one
		// goes behind them.
		h.keep(c, kindSMS, in.From, nil)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), liveTimeout)
	defer cancel()
	tw, err := h.Engine.HandleInbound(ctx, in)
	if err != nil {
		if h.spoolable(err) {
			h.keep(c, kindSMS, in.From, err)
			return
		}
		h.Logger.Error("inbound sms failed", "sid", in.SID, "error", err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Data(http.StatusOK, "application/xml; charset=utf-8", []byte(tw))
}

func (h *Handler) smsStatus(c *gin.Context) {
	cb, ok := statusFrom(c.Request.URL.Query(), c.Request.PostForm)
	if !ok {
		Refuse(c, h.Logger, http.StatusBadRequest, "fields", "attempt, MessageSid and MessageStatus are required",
			"attempt", clip.Text(c.Query("attempt"), 20), "sid", clip.Text(cb.SID, 40))
		return
	}
	h.statusCallback(c, kindSMSStatus, cb.AttemptID, cb.SID, func(ctx context.Context) error {
		return h.Engine.HandleStatus(ctx, cb)
	})
}

// callStatus serves a call's status callback like a message's, and frees
// the caller number's place once the call is over and its callback
// applied or kept.
func (h *Handler) callStatus(c *gin.Context) {
	cb, ok := callStatusFrom(c.Request.URL.Query(), c.Request.PostForm)
	if !ok {
		Refuse(c, h.Logger, http.StatusBadRequest, "fields", "attempt, CallSid and CallStatus are required",
			"attempt", clip.Text(c.Query("attempt"), 20), "sid", clip.Text(cb.SID, 40))
		return
	}
	if h.statusCallback(c, kindCallStatus, cb.AttemptID, cb.SID, func(ctx context.Context) error {
		return h.Engine.HandleCallStatus(ctx, cb)
	}) {
		// Redis, not PostgreSQL: the call is over at Twilio even while
		// its callback waits in the spool.
		h.Engine.CallEnded(c.Request.Context(), cb)
	}
}

// statusCallback applies a status callback at once, or keeps it in the
// spool while PostgreSQL is unavailable or earlier callbacks for the same
// SID wait there, and answers 204 (nothing for Twilio to do). A callback
// the engine refuses is answered 4xx and logged. It reports whether the
// callback was applied or kept.
func (h *Handler) statusCallback(c *gin.Context, kind string, attempt int64, sid string, apply func(context.Context) error) bool {
	key := "status:" + sid
	if h.queued(key) {
		return h.keep(c, kind, key, nil)
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), liveTimeout)
	defer cancel()
	err := apply(ctx)
	switch {
	case err == nil:
		c.Status(http.StatusNoContent)
		return true
	case h.spoolable(err):
		return h.keep(c, kind, key, err)
	case h.refuseStatus(c, attempt, sid, err):
		return false
	}
	h.Logger.Error("status callback failed", "kind", kind, "attempt", attempt, "sid", sid, "error", err)
	c.AbortWithStatus(http.StatusInternalServerError)
	return false
}

// refuseStatus answers a status callback the engine refused for good: 404
// for an unknown attempt, 400 for an unknown status, 409 for a callback
// naming another message or call than the attempt's. It reports whether
// err was such a refusal.
func (h *Handler) refuseStatus(c *gin.Context, attempt int64, sid string, err error) bool {
	var status int
	var reason string
	switch {
	case errors.Is(err, outreach.ErrUnknownAttempt):
		status, reason = http.StatusNotFound, "unknown_attempt"
	case errors.Is(err, outreach.ErrBadCallback):
		status, reason = http.StatusBadRequest, "status"
	case errors.Is(err, outreach.ErrCallbackConflict):
		status, reason = http.StatusConflict, "status_conflict"
	default:
		return false
	}
	Refuse(c, h.Logger, status, reason, err.Error(), "attempt", attempt, "sid", sid)
	return true
}

// statusFrom reads a message status callback's fields.
func statusFrom(query, f url.Values) (outreach.StatusCallback, bool) {
	attempt, err := strconv.ParseInt(query.Get("attempt"), 10, 64)
	cb := outreach.StatusCallback{AttemptID: attempt, SID: f.Get("MessageSid"), Status: f.Get("MessageStatus"),
		ErrorCode: f.Get("ErrorCode"), ErrorMsg: f.Get("ErrorMessage"),
		To: f.Get("To"), From: f.Get("From"), Service: f.Get("MessagingServiceSid")}
	if cb.Status == "" {
		cb.Status = f.Get("SmsStatus")
	}
	return cb, err == nil && attempt > 0 && validSID(cb.SID, "SM,MM") && cb.Status != ""
}

// callStatusFrom reads a call status callback's fields.
func callStatusFrom(query, f url.Values) (outreach.CallStatus, bool) {
	attempt, err := strconv.ParseInt(query.Get("attempt"), 10, 64)
	cb := outreach.CallStatus{AttemptID: attempt, SID: f.Get("CallSid"), Status: f.Get("CallStatus"),
		AnsweredBy: f.Get("AnsweredBy"), ErrorCode: f.Get("ErrorCode"), To: f.Get("To"), From: f.Get("From")}
	return cb, err == nil && attempt > 0 && validSID(cb.SID, "CA") && cb.Status != ""
}
