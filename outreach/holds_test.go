package outreach_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/protectnow/protect/opsalert"
)

// opsRecorder is an operations webhook that keeps what it receives, and
// the notifier that posts to it.
type opsRecorder struct {
	notifier *opsalert.Notifier
	mu       sync.Mutex
	bodies   []string
}

func newOpsRecorder(t *testing.T, logger *slog.Logger) *opsRecorder {
	r := &opsRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.notifier = opsalert.New(opsalert.Options{WebhookURL: srv.URL, Backoff: 10 * time.Millisecond, Logger: logger})
	t.Cleanup(r.notifier.Close)
	return r
}

// received waits for deliveries in flight and returns the events and
// their bodies as posted.
func (r *opsRecorder) received(t *testing.T) ([]opsalert.Event, []string) {
	t.Helper()
	r.notifier.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	var evs []opsalert.Event
	for _, b := range r.bodies {
		var ev opsalert.Event
		if err := json.Unmarshal([]byte(b), &ev); err != nil {
			t.Fatalf("operations webhook body %q: %v", b, err)
		}
		evs = append(evs, ev)
	}
	return evs, append([]string(nil), r.bodies...)
}

// switchNet is a listener whose network can go down (the port refuses
// connections and open ones are cut) and come back on the same address.
type switchNet struct {
	srv    *httptest.Server
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	isDown bool
	closed bool
	up     chan struct{} // closed when the network comes back
}

// serveSwitchable serves h on a switchable listener.
func serveSwitchable(t *testing.T, h http.Handler) (*httptest.Server, *switchNet) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &switchNet{addr: ln.Addr().String(), ln: ln, up: make(chan struct{})}
	n.srv = httptest.NewUnstartedServer(h)
	n.srv.Listener.Close()
	n.srv.Listener = n
	n.srv.Start()
	return n.srv, n
}

func (n *switchNet) Accept() (net.Conn, error) {
	for {
		n.mu.Lock()
		ln := n.ln
		n.mu.Unlock()
		c, err := ln.Accept()
		if err == nil {
			return c, nil
		}
		n.mu.Lock()
		down, closed, up := n.isDown, n.closed, n.up
		n.mu.Unlock()
		if closed || !down {
			return nil, err
		}
		<-up
	}
}

func (n *switchNet) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	if n.isDown {
		close(n.up)
		return nil
	}
	return n.ln.Close()
}

func (n *switchNet) Addr() net.Addr { return n.ln.Addr() }

// down refuses new connections and cuts the open ones.
func (n *switchNet) down(t *testing.T) {
	n.mu.Lock()
	n.isDown, n.up = true, make(chan struct{})
	n.ln.Close()
	n.mu.Unlock()
	n.srv.CloseClientConnections()
}

// restore listens again on the same address.
func (n *switchNet) restore(t *testing.T) {
	ln, err := net.Listen("tcp", n.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", n.addr, err)
	}
	n.mu.Lock()
	n.ln, n.isDown = ln, false
	close(n.up)
	n.mu.Unlock()
}

// Faults of the account or the gateway, not of any patient, hold the
// sender: within the fault window across attempts for a gateway fault,
// at once for the account. No attempt fails or moves on while it is held,
// the duty team's webhook hears of the hold and of the resumption (with no
// patient's number), and once Twilio answers again the probe resumes
// sending and every patient is texted exactly once.
func TestGatewayFaultsHoldTheSender(t *testing.T) {
	cases := []struct {
		name      string
		opts      harnessOptions
		fault     func(*testing.T, *harness)
		fix       func(*testing.T, *harness)
		code      int
		account   bool
		reasonHas string
	}{
		{name: "account suspended (20005)",
			fault: func(_ *testing.T, h *harness) { h.sb.SuspendAccount(true) },
			fix:   func(_ *testing.T, h *harness) { h.sb.SuspendAccount(false) },
			code:  20005, account: true, reasonHas: "refused the account"},
		{name: "429 storm",
			opts:  harnessOptions{holdAfterFaults: 5, faultWindow: time.Minute},
			fault: func(_ *testing.T, h *harness) { h.sb.FailAll(http.StatusTooManyRequests) },
			fix:   func(_ *testing.T, h *harness) { h.sb.FailAll(0) },
			code:  20429, reasonHas: "gateway faults within 1m0s"},
		{name: "network down",
			opts:      harnessOptions{holdAfterFaults: 5, faultWindow: time.Minute, switchableNet: true},
			fault:     func(t *testing.T, h *harness) { h.net.down(t) },
			fix:       func(t *testing.T, h *harness) { h.net.restore(t) },
			reasonHas: "gateway faults within 1m0s"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, tc.opts)
			ctx := context.Background()
			var ps []patient
			for j := range 8 {
				ps = append(ps, patient{nhs(800 + 10*i + j), "Gate", testNumber(404 + 10*j + 100*i), ""})
			}
			h.importCohort("gate", ps)
			c := h.campaign("gate", "gate", 50, fastPolicy)
			tc.fault(t, h)
			start := time.Now()
			if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
				t.Fatal(err)
			}
			h.eventually("sender held", func() bool { return h.count(`SELECT count(*) FROM sender_holds WHERE sender = $1`, sender) == 1 })
			if took := time.Since(start); tc.opts.faultWindow > 0 && took > tc.opts.faultWindow {
				t.Errorf("held after %v, longer than the window", took)
			}
			var code int
			var reason string
			if err := h.st.Pool().QueryRow(ctx, `SELECT coalesce(error_code, 0), reason FROM sender_holds`).Scan(&code, &reason); err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(reason, tc.reasonHas) {
				t.Errorf("hold: code %d reason %q, want %d and %q", code, reason, tc.code, tc.reasonHas)
			}
			h.heldFor(t, 1500*time.Millisecond, c.ID, len(ps), "'planned', 'queued', 'retry'")
			// The fault is fixed: the next probe resumes sending.
			tc.fix(t, h)
			h.exec(`UPDATE sender_holds SET probe_at = now()`)
			if err := h.engine.ProbeHolds(ctx); err != nil {
				t.Fatal(err)
			}
			if got := h.count(`SELECT count(*) FROM sender_holds`); got != 0 {
				t.Fatal("hold not released once Twilio answers")
			}
			h.eventually("everyone texted", func() bool {
				return h.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1 AND state IN ('sent', 'delivered')`, c.ID) == len(ps)
			})
			time.Sleep(200 * time.Millisecond)
			for _, p := range ps {
				if texts := h.attemptTexts(p.mobile); len(texts) != 1 || !strings.HasPrefix(texts[0], "Hello Gate") {
					t.Errorf("%s got %q", p.mobile, texts)
				}
			}
			if got := h.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1`, c.ID); got != len(ps) {
				t.Errorf("%d attempts for %d patients", got, len(ps))
			}
			for _, action := range []string{"sender.hold", "sender.resume"} {
				if got := h.count(`SELECT count(*) FROM audit_log WHERE action = $1 AND subject_id = $2`, action, sender); got != 1 {
					t.Errorf("audit %s: %d entries", action, got)
				}
			}
			checkOpsAlerts(t, h, ps, tc.code, tc.account)
		})
	}
}

// checkOpsAlerts checks that the operations webhook received one hold and
// one resumption of the sender, with a text for people and no patient's
// number.
func checkOpsAlerts(t *testing.T, h *harness, ps []patient, code int, account bool) {
	t.Helper()
	evs, bodies := h.ops.received(t)
	if len(evs) != 2 || evs[0].Event != opsalert.SenderHeld || evs[1].Event != opsalert.SenderResumed {
		t.Fatalf("operations alerts: %+v", evs)
	}
	for _, ev := range evs {
		if ev.Sender != sender || ev.Code != code || ev.AccountLevel != account || ev.HeldSince.IsZero() || ev.Reason == "" {
			t.Errorf("alert fields: %+v", ev)
		}
	}
	if !strings.Contains(evs[0].Text, "HELD") || !strings.Contains(evs[1].Text, "RESUMED") {
		t.Errorf("alert texts: %q, %q", evs[0].Text, evs[1].Text)
	}
	for _, b := range bodies {
		for _, p := range ps {
			if strings.Contains(b, p.mobile[3:]) {
				t.Errorf("a patient's number in an operations alert: %s", b)
			}
		}
	}
}

// An error about one patient's number never counts as a gateway fault,
// even with a hair trigger: the attempt fails, the patient moves on, the
// others are texted and the sender is not held.
func TestPatientErrorDoesNotHold(t *testing.T) {
	h := newHarnessWith(t, harnessOptions{holdAfterFaults: 1})
	ctx := context.Background()
	invalid, silent := testNumber(848), testNumber(844) // 21211 at Twilio; accepted
	h.importCohort("patient-error", []patient{{nhs(848), "Bad", invalid, ""}, {nhs(844), "Good", silent, ""}})
	c := h.campaign("patient-error", "patient-error", 50, fastPolicy)
	if _, err := h.engine.Start(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	h.eventually("both attempts settled", func() bool {
		return h.count(`SELECT count(*) FROM attempts WHERE campaign_id = $1 AND state IN ('sent', 'delivered', 'failed')`, c.ID) >= 2
	})
	if got := h.count(`SELECT count(*) FROM attempts WHERE to_number = $1 AND state = 'failed' AND error_code = 21211`, invalid); got != 1 {
		t.Errorf("invalid number: %d failed attempts with 21211", got)
	}
	if got := h.count(`SELECT count(*) FROM sender_holds`); got != 0 {
		t.Fatal("a patient's error held the sender")
	}
	if texts := h.attemptTexts(silent); len(texts) != 1 {
		t.Errorf("the other patient got %q", texts)
	}
	if evs, _ := h.ops.received(t); len(evs) != 0 {
		t.Errorf("operations alerts for a patient's error: %+v", evs)
	}
}
