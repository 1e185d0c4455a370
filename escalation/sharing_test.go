package escalation

import (
	"testing"
	"time"

	"github.com/protectnow/protect/store"
)

// The sharing rule, on its own: a handler of team A and team B's work.
func TestSeesDetails(t *testing.T) {
	handlerA := Actor{Name: "user:a", Role: store.RoleHandler, Teams: []string{"team-a"}}
	tests := []struct {
		name   string
		actor  Actor
		team   string
		shared bool
		want   bool
	}{
		{"own team's note", handlerA, "team-a", false, true},
		{"another team's note", handlerA, "team-b", false, false},
		{"another team's shared note", handlerA, "team-b", true, true},
		{"Protect's outreach", handlerA, "", false, true},
		{"admin, another team's note", Actor{Role: store.RoleAdmin}, "team-b", false, true},
		{"programme lead, another team's note", Actor{Role: store.RoleProgrammeLead}, "team-b", false, true},
		{"handler of no team", Actor{Role: store.RoleHandler}, "team-b", false, false},
	}
	for _, tt := range tests {
		if got := SeesDetails(tt.actor, tt.team, tt.shared); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	at := time.Now()
	esc := int64(9)
	in := []store.TimelineEntry{
		{At: at, Kind: "escalation", Source: "team-b", Team: "team-b", Summary: "safeguarding escalation note", Detail: "possible abuse by carer by user:b", EscalationID: &esc},
		{At: at, Kind: "escalation", Source: "team-b", Team: "team-b", Summary: "safeguarding escalation note", Detail: "shared text", EscalationID: &esc, Shared: true},
		{At: at, Kind: "contact", Source: "team-b", Team: "team-b", Summary: "phone: spoke", Detail: "recorded by user:b", Note: "private"},
		{At: at, Kind: "sms-out", Source: "protect", Summary: "SMS sent", Detail: "hello"},
	}
	out := VisibleTimeline(handlerA, in)
	if len(out) != 4 || out[0].Detail != "" || out[0].EscalationID != nil || out[0].Summary == in[0].Summary ||
		out[1].Detail != "shared text" || out[2].Note != "" || out[2].Summary != "phone: spoke" || out[2].Detail != "recorded by user:b" ||
		out[3].Detail != "hello" {
		t.Fatalf("timeline for team A: %+v", out)
	}
}
