package escalation

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/store"
)

const (
	// alertBatch is how many alerts one delivery round takes.
	alertBatch = 200
	// alertLease is how long a sender holds alerts before another may
	// assume it died and send them.
	alertLease = 2 * time.Minute
	// maxAlertTries bounds deliveries before an alert is failed for good.
	maxAlertTries = 12
	// alertParallel bounds deliveries in flight per round.
	alertParallel = 16
)

// Webhook headers. The signature is HMAC-SHA256 over the timestamp, a dot
// and the body, keyed with the team's secret, written as "sha256=HEX".
const (
	HeaderSignature = "X-Protect-Signature"
	HeaderTimestamp = "X-Protect-Timestamp"
	HeaderEvent     = "X-Protect-Event"
	HeaderDelivery  = "X-Protect-Delivery"
)

// SignWebhook computes the signature header value for a webhook body sent
// at the given Unix time.
func SignWebhook(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifyWebhook checks a received webhook's signature and that its
// timestamp is within tolerance of now, for team systems (and tests).
func VerifyWebhook(secret, timestampHeader, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) bool {
	ts, err := strconv.ParseInt(timestampHeader, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	return hmac.Equal([]byte(SignWebhook(secret, ts, body)), []byte(signatureHeader))
}

// WebhookEvent is the JSON a team's system receives. It carries no patient
// data: the system fetches the escalation through the API with its token,
// which is scoped to the team and audited.
type WebhookEvent struct {
	ID           string    `json:"id"`
	Event        string    `json:"event"`
	EscalationID int64     `json:"escalation_id"`
	Team         string    `json:"team"`
	Tier         int       `json:"tier"`
	Priority     string    `json:"priority"`
	CreatedAt    time.Time `json:"created_at"`
	API          string    `json:"api"`
	// ClaimedBy is who holds the escalation ("user:NAME"), so a team's
	// system can reach them when it is not resolved in time.
	ClaimedBy string `json:"claimed_by,omitempty"`
}

// DeliverAlerts sends one batch of due alerts and returns how many it
// took. SMS alerts to one number are sent as one message; each webhook
// event is posted on its own. Failures are tried again with backoff.
func (s *Service) DeliverAlerts(ctx context.Context) (int, error) {
	alerts, err := s.store.ClaimAlerts(ctx, s.now(), alertBatch, alertLease)
	if err != nil || len(alerts) == 0 {
		return 0, err
	}
	bySMS := map[string][]store.Alert{}
	var hooks []store.Alert
	for _, a := range alerts {
		if a.Channel == "sms" {
			bySMS[a.Target] = append(bySMS[a.Target], a)
		} else {
			hooks = append(hooks, a)
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, alertParallel)
	run := func(group []store.Alert, send func([]store.Alert) (string, error)) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ref, err := send(group)
			s.settle(ctx, group, ref, err)
		})
	}
	for _, group := range bySMS {
		run(group, s.sendSMS)
	}
	for _, h := range hooks {
		run([]store.Alert{h}, s.postWebhook)
	}
	wg.Wait()
	return len(alerts), nil
}

func (s *Service) settle(ctx context.Context, group []store.Alert, ref string, err error) {
	ctx = context.WithoutCancel(ctx)
	ids := make([]int64, len(group))
	for i, a := range group {
		ids[i] = a.ID
	}
	if err == nil {
		if err := s.store.AlertsSent(ctx, ids, ref, s.now()); err != nil {
			s.logger.Error("alert sent but not recorded", "alerts", ids, "error", err)
		}
		alertsSent.WithLabelValues(group[0].Channel).Add(float64(len(group)))
		return
	}
	tries := group[0].Tries
	var retry time.Time
	if tries < maxAlertTries {
		retry = s.now().Add(min(time.Duration(1<<min(tries, 8))*time.Second, 5*time.Minute))
	}
	alertsFailed.WithLabelValues(group[0].Channel).Inc()
	s.logger.Error("alert not delivered", "channel", group[0].Channel, "team", group[0].Team, "alerts", ids,
		"tries", tries, "final", retry.IsZero(), "error", err)
	if err := s.store.AlertsFailed(ctx, ids, clip.Text(err.Error(), 500), retry); err != nil {
		s.logger.Error("alert failure not recorded", "alerts", ids, "error", err)
	}
}

// AlertText is the SMS an on-call number receives for a group of alerts.
// It never names or identifies a patient.
func AlertText(r *Routing, group []store.Alert) string {
	byPriority := map[string]int{}
	teams := map[string]bool{}
	overdue, unresolved := 0, 0
	for _, a := range group {
		byPriority[a.Priority]++
		teams[r.TeamName(a.Team)] = true
		switch a.Event {
		case "escalation.overdue":
			overdue++
		case "escalation.unresolved":
			unresolved++
		}
	}
	var counts []string
	for _, p := range []string{"urgent", "high", "normal", "low"} {
		if n := byPriority[p]; n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, p))
		}
	}
	names := make([]string, 0, len(teams))
	for n := range teams {
		names = append(names, n)
	}
	sort.Strings(names)
	noun := "escalation"
	if len(group) > 1 {
		noun = "escalations"
	}
	text := fmt.Sprintf("Protect: %s %s for %s", joinAnd(counts), noun, joinAnd(names))
	switch {
	case overdue == len(group):
		text += " not claimed in time"
	case unresolved == len(group):
		text += " claimed but not resolved in time"
	case overdue > 0 || unresolved > 0:
		var late []string
		if overdue > 0 {
			late = append(late, fmt.Sprintf("%d not claimed in time", overdue))
		}
		if unresolved > 0 {
			late = append(late, fmt.Sprintf("%d not resolved in time", unresolved))
		}
		text += " (" + joinAnd(late) + ")"
	}
	return text + ", open the console"
}

func joinAnd(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

func (s *Service) sendSMS(group []store.Alert) (string, error) {
	if s.twilio == nil {
		return "", errors.New("no Twilio client configured for alerts")
	}
	params := &openapi.CreateMessageParams{}
	params.SetTo(group[0].Target)
	r := s.Routing()
	params.SetFrom(r.AlertSender)
	params.SetBody(AlertText(r, group))
	m, err := s.twilio.Api.CreateMessage(params)
	if err != nil {
		return "", fmt.Errorf("alert SMS: %w", err)
	}
	if m.Sid == nil {
		return "", nil
	}
	return *m.Sid, nil
}

func (s *Service) postWebhook(group []store.Alert) (string, error) {
	a := group[0]
	t := s.Routing().Team(a.Team)
	if t == nil || t.Webhook == nil || t.Webhook.URL != a.Target {
		return "", fmt.Errorf("team %s has no webhook %s any more", a.Team, a.Target)
	}
	id := "alert-" + strconv.FormatInt(a.ID, 10)
	body, err := json.Marshal(WebhookEvent{ID: id, Event: a.Event, EscalationID: a.EscalationID, Team: a.Team, Tier: a.Tier,
		Priority: a.Priority, CreatedAt: a.CreatedAt.UTC(), API: "/api/v1/escalations/" + strconv.FormatInt(a.EscalationID, 10),
		ClaimedBy: a.ClaimedBy})
	if err != nil {
		return "", err
	}
	ts := s.now().Unix()
	req, err := http.NewRequest(http.MethodPost, a.Target, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Protect-Webhook/1")
	req.Header.Set(HeaderEvent, a.Event)
	req.Header.Set(HeaderDelivery, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, SignWebhook(t.Webhook.Secret, ts, body))
	resp, err := s.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("webhook: team system answered %s", resp.Status)
	}
	return id, nil
}
