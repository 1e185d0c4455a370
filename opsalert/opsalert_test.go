package opsalert

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// A webhook that fails at first gets the event again with backoff; what
// it gets has a text for people, the structured fields, and no
// number-like run from the reason.
func TestWebhookRetriedUntilTaken(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var ev Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("bad request: %v", err)
		}
		got = append(got, ev)
	}))
	defer srv.Close()
	var smsMu sync.Mutex
	var texted []string
	n := New(Options{WebhookURL: srv.URL, Backoff: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		SMS: func(_ context.Context, ev Event) error {
			smsMu.Lock()
			defer smsMu.Unlock()
			texted = append(texted, ev.Text)
			return nil
		}})
	defer n.Close()
	since := time.Date(2026, 11, 30, 14, 3, 0, 0, time.UTC)
	n.Alert(context.Background(), Event{Event: SenderHeld, Sender: "+447700900999", Code: 20429, HeldSince: since, At: since,
		Reason: `Get "https://api.twilio.com/2010-04-01/Messages.json?To=%2B447700900704": connection refused`})
	n.Wait()
	if calls != 3 || len(got) != 1 {
		t.Fatalf("%d posts, %d taken", calls, len(got))
	}
	ev := got[0]
	if ev.Event != SenderHeld || ev.Sender != "+447700900999" || ev.Code != 20429 || !ev.HeldSince.Equal(since) {
		t.Errorf("fields: %+v", ev)
	}
	if strings.Contains(ev.Reason, "7700900704") || strings.Contains(ev.Text, "7700900704") {
		t.Errorf("a patient's number went out: %+v", ev)
	}
	if !strings.Contains(ev.Text, "HELD") || !strings.Contains(ev.Text, "+447700900999") || !strings.Contains(ev.Text, "14:03 UTC") {
		t.Errorf("text: %q", ev.Text)
	}
	if len(texted) != 1 || texted[0] != ev.Text {
		t.Errorf("SMS: %q", texted)
	}
}

// Deliveries give up after their tries, and Close stops those waiting.
func TestWebhookGivesUp(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	n := New(Options{WebhookURL: srv.URL, Tries: 3, Backoff: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	n.Alert(context.Background(), Event{Event: SenderResumed, Sender: "+447700900999", HeldSince: time.Now().Add(-time.Minute)})
	n.Wait()
	if calls != 3 {
		t.Fatalf("%d posts, want 3", calls)
	}
	slow := New(Options{WebhookURL: srv.URL, Backoff: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	slow.Alert(context.Background(), Event{Event: SenderHeld, Sender: "+447700900999"})
	done := make(chan struct{})
	go func() { slow.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop a delivery waiting to be tried again")
	}
}
