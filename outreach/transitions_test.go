package outreach

import (
	"errors"
	"testing"

	"github.com/protectnow/protect/store"
)

func TestAttemptMoves(t *testing.T) {
	tests := []struct {
		from, to string
		want     bool
	}{
		{"sending", "sent", true},
		{"retry", "delivered", true},
		{"planned", "sent", true}, // put back while its sender was held, yet Twilio had it
		{"sent", "delivered", true},
		{"sent", "undelivered", true},
		{"sent", "failed", true},
		{"sent", "cancelled", true},
		{"sent", "answered", true},
		{"sent", "sent", false},
		{"delivered", "cancelled", false}, // canceled after delivered
		{"delivered", "sent", false},      // a late sent
		{"delivered", "undelivered", false},
		{"undelivered", "delivered", false},
		{"failed", "delivered", false},
		{"cancelled", "delivered", false},
		{"answered", "unanswered", false},
		{"sent", "retry", false},
		{"sending", "planned", false},
		{"nonsense", "sent", false},
	}
	for _, tt := range tests {
		if got := canMove(tt.from, tt.to); got != tt.want {
			t.Errorf("canMove(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	// Every state of the table is a state attempts can be in, and every
	// target is one of them: the table is the whole state machine.
	for from, tos := range attemptMoves {
		for _, to := range tos {
			if _, ok := attemptMoves[to]; !ok {
				t.Errorf("%s -> %s: %s is not in the table", from, to, to)
			}
		}
	}
}

func TestMessageState(t *testing.T) {
	tests := []struct {
		status, want string
		ok           bool
	}{
		{"queued", "sent", true},
		{"accepted", "sent", true},
		{"sent", "sent", true},
		{"delivered", "delivered", true},
		{"read", "delivered", true},
		{"undelivered", "undelivered", true},
		{"failed", "failed", true},
		{"canceled", "cancelled", true},
		{"received", "", false},
		{"", "", false},
		{"DELIVERED", "", false},
		{"exploded", "", false},
	}
	for _, tt := range tests {
		got, ok := messageState(tt.status)
		if got != tt.want || ok != tt.ok {
			t.Errorf("messageState(%q) = %q, %v; want %q, %v", tt.status, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDecideStatus(t *testing.T) {
	const patient, from = "+447700900004", "+447700900999"
	base := store.AttemptRow{State: "sent", SID: "SM1", To: patient, SentFrom: from}
	with := func(f func(*store.AttemptRow)) store.AttemptRow { a := base; f(&a); return a }
	tests := []struct {
		name      string
		a         store.AttemptRow
		sid, to   string
		r         route
		want      store.StatusDecision
		ignored   bool
		wantError error
	}{
		{"forward", base, "SM1", "delivered", route{patient, from, ""}, store.StatusDecision{State: "delivered"}, false, nil},
		{"repeated sent", with(func(a *store.AttemptRow) { a.State = "sent" }), "SM1", "sent", route{patient, from, ""}, store.StatusDecision{}, false, nil},
		{"late sent", with(func(a *store.AttemptRow) { a.State = "delivered" }), "SM1", "sent", route{patient, from, ""}, store.StatusDecision{}, true, nil},
		{"canceled after delivered", with(func(a *store.AttemptRow) { a.State = "delivered" }), "SM1", "cancelled", route{patient, from, ""}, store.StatusDecision{}, true, nil},
		{"another SID", base, "SM2", "delivered", route{patient, from, ""}, store.StatusDecision{}, false, ErrCallbackConflict},
		{"unknown SID on the route is adopted", with(func(a *store.AttemptRow) { a.SID, a.State = "", "retry" }), "SM2", "sent", route{patient, from, ""},
			store.StatusDecision{State: "sent", Adopt: true}, false, nil},
		{"unknown SID adopted even when it changes nothing", with(func(a *store.AttemptRow) { a.SID, a.State = "", "cancelled" }), "SM2", "sent", route{patient, from, ""},
			store.StatusDecision{Adopt: true}, true, nil},
		{"unknown SID to another number", with(func(a *store.AttemptRow) { a.SID, a.State = "", "retry" }), "SM2", "sent", route{"+447700900014", from, ""},
			store.StatusDecision{}, false, ErrCallbackConflict},
		{"unknown SID from another sender", with(func(a *store.AttemptRow) { a.SID, a.State = "", "retry" }), "SM2", "sent", route{patient, "+447700900998", ""},
			store.StatusDecision{}, false, ErrCallbackConflict},
		{"unknown SID without a route", with(func(a *store.AttemptRow) { a.SID, a.State = "", "retry" }), "SM2", "sent", route{},
			store.StatusDecision{}, false, ErrCallbackConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, why, err := decideStatus(tt.a, tt.sid, tt.to, tt.r)
			if !errors.Is(err, tt.wantError) || (tt.wantError == nil && err != nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantError)
			}
			if d != tt.want || (why != "") != tt.ignored {
				t.Errorf("decision = %+v %q, want %+v (ignored %v)", d, why, tt.want, tt.ignored)
			}
		})
	}
}
