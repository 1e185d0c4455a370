package console

import (
	"testing"
	"time"

	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
)

func TestWords(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, got, want string
	}{
		{"just now", ago(now.Add(-20*time.Second), now), "just now"},
		{"minutes ago", ago(now.Add(-5*time.Minute), now), "5 min ago"},
		{"hours ago", ago(now.Add(-125*time.Minute), now), "2 h 5 min ago"},
		{"in the future", ago(now.Add(90*time.Minute), now), "in 1 h 30 min"},
		{"a known slug", word(categoryWords, "clinical-urgent"), "Urgent clinical"},
		{"an unknown slug", word(categoryWords, "new_need-kind"), "New need kind"},
		{"a person", person("user:cleo"), "cleo"},
		{"the system", person("system"), "Protect"},
		{"audit details", auditWords(map[string]any{"outcome": "helped", "shared": true, "escalations": []any{float64(3), float64(4)}}),
			"Escalations: 3, 4; Outcome: Helped; Shared: yes"},
		{"a contact outcome", auditWords(map[string]any{"outcome": "no_answer", "method": "phone"}), "Method: Phoned; Outcome: No answer"},
		{"no details", auditWords(nil), ""},
		{"identity passed", identityWords("passed", 2), "Identity check: passed on the 2nd try"},
		{"identity failed", identityWords("failed", 2), "Identity check: not confirmed after 2 tries"},
		{"someone else answered", identityWords("not-patient", 0), "Identity check: someone else answered"},
		{"identity unconfirmed", word(categoryWords, "identity-unconfirmed"), "Could not confirm identity"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestYearsOld(t *testing.T) {
	tests := []struct {
		dob, now string
		want     int
	}{
		{"1940-03-02", "2026-03-01", 85},
		{"1940-03-02", "2026-03-02", 86},
		{"1940-03-01", "2024-02-29", 83}, // a leap year: 29 February is before 1 March
		{"1940-03-01", "2024-03-01", 84},
		{"1944-02-29", "2025-02-28", 80},
		{"1944-02-29", "2025-03-01", 81},
	}
	for _, tc := range tests {
		dob, _ := time.Parse(time.DateOnly, tc.dob)
		now, _ := time.Parse(time.DateOnly, tc.now)
		if got := yearsOld(dob, now); got != tc.want {
			t.Errorf("born %s, on %s: %d, want %d", tc.dob, tc.now, got, tc.want)
		}
	}
}

func TestDeadline(t *testing.T) {
	opened := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	due := opened.Add(4 * time.Hour)
	open := store.Escalation{State: store.EscalationOpen, OpenedAt: opened, DueAt: due}
	tests := []struct {
		name       string
		now        time.Time
		class, txt string
	}{
		{"plenty of time", opened.Add(time.Hour), "ok", "Claim within 3 h"},
		{"a quarter left", opened.Add(3*time.Hour + 30*time.Minute), "soon", "Claim within 30 min"},
		{"passed", due.Add(10 * time.Minute), "late", "Claim: overdue by 10 min"},
	}
	for _, tc := range tests {
		c := deadlineOf(open, tc.now)
		if c == nil || c.Class != tc.class || c.Text != tc.txt {
			t.Errorf("%s: %+v, want %s %q", tc.name, c, tc.class, tc.txt)
		}
	}
	if c := deadlineOf(store.Escalation{State: store.EscalationResolved}, opened); c != nil {
		t.Errorf("a resolved escalation has a deadline: %+v", c)
	}
}

// Every category a need can have reads in words, and so is in the inbox's
// category filter (which lists categoryWords).
func TestEveryCategoryHasWords(t *testing.T) {
	all := append([]questionnaire.Category{questionnaire.CategoryIdentityUnconfirmed, "unreachable"}, questionnaire.DefaultCategories...)
	for _, c := range all {
		if _, ok := categoryWords[string(c)]; !ok {
			t.Errorf("category %q has no words", c)
		}
	}
}
