package console_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/protectnow/protect/console"
)

// A client cannot pick its own address with X-Forwarded-For: thirty bad
// passwords, each under another name and another forged address, lock the
// real address, and the audit log records the real peer.
func TestForgedForwardedForStillLocked(t *testing.T) {
	s := newSite(t)
	locked := 0
	for i := range 30 {
		b := s.browser()
		_, page, _ := b.get("/console/login")
		form := url.Values{"csrf": {csrfOf(t, page)}, "name": {fmt.Sprintf("guess%d", i)}, "password": {"wrong password!"}}
		req, _ := http.NewRequest(http.MethodPost, s.url+"/console/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
		req.Header.Set("X-Real-IP", fmt.Sprintf("198.51.100.%d", i+1))
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			locked++
		}
	}
	if want := 30 - console.AddrFailures + 1; locked != want {
		t.Fatalf("%d of 30 attempts refused as locked, want %d", locked, want)
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE action IN ('login.failed', 'login.throttled') AND remote_addr <> '127.0.0.1'`); n != 0 {
		t.Fatalf("%d audit entries carry a forged address", n)
	}
}

// With the sandbox on, every console page says so, the log-in page too.
func TestSandboxBanner(t *testing.T) {
	const banner = "Sandbox: no real messages are sent"
	for _, sandbox := range []bool{true, false} {
		s := newSite(t, func(o *console.Options) { o.Sandbox = sandbox })
		b := s.browser()
		_, login, _ := b.get("/console/login")
		if b.login("admin", password) != http.StatusSeeOther {
			t.Fatal("log in")
		}
		pages := []string{login}
		for _, p := range []string{"/console/inbox", fmt.Sprintf("/console/escalations/%d", s.mine),
			fmt.Sprintf("/console/patients/%d", s.adaID), "/console/audit", "/console/templates", "/console/nothing-here"} {
			_, body, _ := b.get(p)
			pages = append(pages, body)
		}
		for i, body := range pages {
			if strings.Contains(body, banner) != sandbox {
				t.Errorf("sandbox %v, page %d: banner shown %v", sandbox, i, !sandbox)
			}
		}
	}
}

// A session unused for longer than the idle limit ends; one in use lasts.
func TestSessionIdleTimeout(t *testing.T) {
	s := newSite(t, func(o *console.Options) { o.SessionIdle = 30 * 60e9 })
	b := s.browser()
	if b.login("nina", password) != http.StatusSeeOther {
		t.Fatal("log in")
	}
	tests := []struct {
		idleMinutes int
		want        int
	}{
		{0, http.StatusOK},
		{29, http.StatusOK}, // used just in time: the clock starts again
		{29, http.StatusOK},
		{31, http.StatusSeeOther}, // to the log-in page
	}
	for _, tt := range tests {
		s.count(`WITH u AS (UPDATE sessions SET last_seen = now() - make_interval(mins => $1) RETURNING 1) SELECT count(*) FROM u`, tt.idleMinutes)
		code, _, h := b.get("/console/inbox")
		if code != tt.want {
			t.Fatalf("after %d idle minutes: %d, want %d", tt.idleMinutes, code, tt.want)
		}
		if code == http.StatusSeeOther && !strings.HasPrefix(h.Get("Location"), "/console/login") {
			t.Fatalf("redirected to %s", h.Get("Location"))
		}
	}
}

// A sender held by an account fault (a wrong Twilio credential) is on
// every signed-in page until it is released, in words a duty manager can
// act on; the log-in page does not show it.
func TestHeldSenderBanner(t *testing.T) {
	s := newSite(t)
	const banner = "Sending is held for +447700900999"
	b := s.browser()
	_, login, _ := b.get("/console/login")
	if strings.Contains(login, banner) {
		t.Fatal("the log-in page shows the hold")
	}
	if b.login("nina", password) != http.StatusSeeOther {
		t.Fatal("log in")
	}
	tests := []struct {
		name string
		sql  string
		want bool
	}{
		{"not held", `SELECT 0`, false},
		{"held", `WITH h AS (INSERT INTO sender_holds (sender, reason, error_code, probe_at)
			VALUES ('+447700900999', 'Twilio refused the account: Authenticate', 20003, now()) RETURNING 1) SELECT count(*) FROM h`, true},
		{"released", `WITH h AS (DELETE FROM sender_holds RETURNING 1) SELECT count(*) FROM h`, false},
	}
	for _, tt := range tests {
		s.count(tt.sql)
		for _, p := range []string{"/console/inbox", fmt.Sprintf("/console/patients/%d", s.adaID)} {
			_, body, _ := b.get(p)
			body = html.UnescapeString(body) // the template writes + as &#43;
			if got := strings.Contains(body, banner); got != tt.want {
				t.Errorf("%s, %s: banner shown %v", tt.name, p, got)
			}
			if tt.want && !strings.Contains(body, "Twilio error 20003") {
				t.Errorf("%s, %s: the banner does not give the error", tt.name, p)
			}
		}
	}
}
