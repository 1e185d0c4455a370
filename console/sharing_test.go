package console_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/store"
)

// sharingCase is one thing on a patient's timeline and who must see it:
// the rule escalation.SeesDetails applies, checked through the console
// here and through the API in package api.
type sharingCase struct {
	what, text                  string
	ownTeam, otherTeam, overall bool // the writing team, another team seeing the patient, admins and programme leads
}

var sharingCases = []sharingCase{
	{"another team's escalation", "Opened: Money", true, false, true},
	{"another team's note", "possible abuse by carer", true, false, true},
	{"another team's shared note", "prefers calls in the morning", true, true, true},
	{"another team's contact (who, channel, outcome)", "Phoned: Spoke to them", true, true, true},
	{"who recorded the contact", "County council (colin)", true, true, true},
	{"another team's contact note", "private contact remark", true, false, true},
	{"another team's shared contact note", "shared contact remark", true, true, true},
}

// Ada has a food escalation with the Norwich team (nina) and a money
// escalation with the county team (colin), who writes a note, a shared
// note, and records two contacts, one with a shared note.
func (s *site) colinWorksOnAda(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.st.Pool().Exec(ctx, `INSERT INTO needs (patient_id, category, priority, detail) VALUES ($1, 'money', 'normal', 'answered 3 to money')`, s.adaID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.Intake(ctx); err != nil {
		t.Fatal(err)
	}
	var esc int64
	if err := s.st.Pool().QueryRow(ctx, `SELECT id FROM escalations WHERE patient_id = $1 AND team = 'county-council'`, s.adaID).Scan(&esc); err != nil {
		t.Fatal(err)
	}
	colin := escalation.Actor{Name: "user:colin", Role: store.RoleHandler, Teams: []string{"county-council"}}
	for _, err := range []error{
		s.svc.Note(ctx, colin, esc, "possible abuse by carer"),
		s.svc.ShareNote(ctx, colin, esc, "prefers calls in the morning"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range []escalation.ContactInput{
		{Team: "county-council", Method: "phone", Outcome: "spoke", Note: "private contact remark"},
		{Team: "county-council", Method: "visit", Outcome: "spoke", Note: "shared contact remark", Shared: true},
	} {
		if _, err := s.svc.RecordContact(ctx, colin, s.adaID, in); err != nil {
			t.Fatal(err)
		}
	}
}

// The console's patient page shows every team's contacts, and another
// team's notes and escalation details only to that team, admins and
// programme leads, unless the note was shared.
func TestPatientPageSharingRule(t *testing.T) {
	s := newSite(t)
	s.colinWorksOnAda(t)
	pages := map[string]string{}
	for _, u := range []string{"nina", "colin", "admin", "paul"} {
		b := s.browser()
		if b.login(u, password) != http.StatusSeeOther {
			t.Fatalf("log in %s", u)
		}
		code, body, _ := b.get(fmt.Sprintf("/console/patients/%d", s.adaID))
		if code != http.StatusOK {
			t.Fatalf("%s: patient page %d", u, code)
		}
		pages[u] = body
	}
	for _, tc := range sharingCases {
		for u, want := range map[string]bool{"colin": tc.ownTeam, "nina": tc.otherTeam, "admin": tc.overall, "paul": tc.overall} {
			if got := strings.Contains(pages[u], tc.text); got != want {
				t.Errorf("%s: %s sees %q: %v, want %v", tc.what, u, tc.text, got, want)
			}
		}
	}
	// The note form offers sharing.
	b := s.browser()
	b.login("nina", password)
	if _, body, _ := b.get(fmt.Sprintf("/console/escalations/%d", s.mine)); !strings.Contains(body, "share with every team that sees this patient") {
		t.Error("the note form has no sharing checkbox")
	}
}

// The escalation page's conversation follows the same rule: on Ada's
// Norwich escalation, nina reads the county team's contacts and shared
// notes but not their private notes or which need they hold; colin, on
// his own escalation, and the admin read everything. The internal
// description of a need ("answered 3 to money") is nobody's reading.
func TestEscalationPageSharingRule(t *testing.T) {
	s := newSite(t)
	s.colinWorksOnAda(t)
	var county int64
	if err := s.st.Pool().QueryRow(context.Background(), `SELECT id FROM escalations WHERE patient_id = $1 AND team = 'county-council'`,
		s.adaID).Scan(&county); err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{}
	for u, id := range map[string]int64{"nina": s.mine, "colin": county, "admin": s.mine} {
		b := s.browser()
		if b.login(u, password) != http.StatusSeeOther {
			t.Fatalf("log in %s", u)
		}
		code, body, _ := b.get(fmt.Sprintf("/console/escalations/%d", id))
		if code != http.StatusOK {
			t.Fatalf("%s: escalation page %d", u, code)
		}
		pages[u] = body
	}
	tests := []struct {
		what, text         string
		nina, colin, admin bool
	}{
		{"another team's note", "possible abuse by carer", false, true, true},
		{"another team's shared note", "prefers calls in the morning", true, true, true},
		{"another team's contact", "Phoned: Spoke to them", true, true, true},
		{"another team's contact note", "private contact remark", false, true, true},
		{"another team's shared contact note", "shared contact remark", true, true, true},
		{"another team's need", "Money", false, true, true},
		{"a need's internal description", "answered 3 to money", false, false, false},
	}
	for _, tc := range tests {
		for u, want := range map[string]bool{"nina": tc.nina, "colin": tc.colin, "admin": tc.admin} {
			if got := strings.Contains(pages[u], tc.text); got != want {
				t.Errorf("%s: %s sees %q: %v, want %v", tc.what, u, tc.text, got, want)
			}
		}
	}
}
