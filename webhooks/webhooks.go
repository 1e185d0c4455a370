// Package webhooks is the Twilio-facing HTTP surface: inbound SMS, message
// status callbacks and (with the IVR) voice webhooks. Every request must
// carry a valid X-Twilio-Signature computed over the configured public URL;
// anything else is refused before it touches the database.
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
	// Extra registers more routes behind the same signature check (voice).
	Extra func(g *gin.RouterGroup)
	// Spool keeps inbound messages and status callbacks while PostgreSQL
	// is unavailable (see spool.go); nil answers them 500 instead.
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
			rejected.WithLabelValues("too_large").Inc()
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": "body too large"})
			return
		}
		rejected.WithLabelValues("bad_form").Inc()
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "malformed form body"})
		return
	}
	sig := c.GetHeader("X-Twilio-Signature")
	url := h.PublicURL + c.Request.URL.RequestURI()
	if sig == "" || !twilioapi.SignatureValid(h.AuthToken, url, c.Request.PostForm, sig) {
		rejected.WithLabelValues("signature").Inc()
		h.Logger.Warn("webhook refused: bad or missing signature", "path", c.Request.URL.Path, "remote", c.ClientIP())
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "invalid signature"})
		return
	}
	if acc := c.Request.PostForm.Get("AccountSid"); acc != "" && acc != h.AccountSID {
		rejected.WithLabelValues("account").Inc()
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "wrong account"})
		return
	}
	c.Next()
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
		rejected.WithLabelValues("fields").Inc()
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "MessageSid, From and To are required"})
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
		rejected.WithLabelValues("fields").Inc()
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "attempt, MessageSid and MessageStatus are required"})
		return
	}
	key := "status:" + cb.SID
	if h.queued(key) {
		h.keep(c, kindSMSStatus, key, nil)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), liveTimeout)
	defer cancel()
	if err := h.Engine.HandleStatus(ctx, cb); err != nil {
		if h.spoolable(err) {
			h.keep(c, kindSMSStatus, key, err)
			return
		}
		switch {
		case errors.Is(err, outreach.ErrUnknownAttempt):
			c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "unknown attempt"})
			return
		case errors.Is(err, outreach.ErrBadCallback):
			// The engine logs conflicts; an unknown status is logged here.
			rejected.WithLabelValues("status").Inc()
			h.Logger.Warn("status callback refused", "attempt", cb.AttemptID, "sid", cb.SID, "reason", err)
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		case errors.Is(err, outreach.ErrCallbackConflict):
			rejected.WithLabelValues("status_conflict").Inc()
			c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": err.Error()})
			return
		}
		h.Logger.Error("status callback failed", "attempt", cb.AttemptID, "error", err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	c.Status(http.StatusNoContent)
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
