package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/protectnow/protect/api"
	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
)

// The timeline endpoint applies the same sharing rule as the console
// (escalation.SeesDetails): every team's contacts with the patient, but
// another team's notes and escalation details only to that team, admins
// and programme leads, unless the note was shared. The county team writes
// through the API, with "shared" on one note and one contact.
func TestTimelineSharingRule(t *testing.T) {
	testdb.Reset(t)
	st := testdb.Store(t)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := escalation.ParseRouting("test", []byte(routingYAML), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	svc := escalation.New(escalation.Options{Store: st, Routing: r, Logger: logger})
	srv := httptest.NewServer(server.New(&app.Runtime{Store: st, Redis: testdb.Redis(t), Logger: logger},
		&api.Routes{Store: st, Escalations: svc, Logger: logger}))
	t.Cleanup(srv.Close)
	var ada int64
	if err := st.Pool().QueryRow(ctx, `INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth, locality)
		VALUES ('9434765919', 'Ada', 'T', '1940-01-01', 'Norwich') RETURNING id`).Scan(&ada); err != nil {
		t.Fatal(err)
	}
	// Food goes to Norwich, money to the county (the default team).
	if _, err := st.Pool().Exec(ctx, `INSERT INTO needs (patient_id, category, priority) VALUES ($1, 'food', 'normal'), ($1, 'money', 'normal')`, ada); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Intake(ctx); err != nil {
		t.Fatal(err)
	}
	var county int64
	if err := st.Pool().QueryRow(ctx, `SELECT id FROM escalations WHERE patient_id = $1 AND team = 'county-council'`, ada).Scan(&county); err != nil {
		t.Fatal(err)
	}
	token := func(name, role string, teams ...string) string {
		tok, err := st.CreateAPIToken(ctx, name, role, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetTokenTeams(ctx, name, teams); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tokens := map[string]string{
		"county":  token("county-system", store.RoleHandler, "county-council"),
		"norwich": token("norwich-system", store.RoleHandler, "norwich-council"),
		"lead":    token("lead", store.RoleProgrammeLead),
		"admin":   token("admin", store.RoleAdmin),
	}
	call := func(tok, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, w := range []struct{ path, body string }{
		{fmt.Sprintf("/api/v1/escalations/%d/note", county), `{"note":"possible abuse by carer"}`},
		{fmt.Sprintf("/api/v1/escalations/%d/note", county), `{"note":"prefers calls in the morning","shared":true}`},
		{fmt.Sprintf("/api/v1/patients/%d/contacts", ada), `{"method":"phone","outcome":"spoke","note":"private contact remark"}`},
		{fmt.Sprintf("/api/v1/patients/%d/contacts", ada), `{"method":"visit","outcome":"spoke","note":"shared contact remark","shared":true}`},
	} {
		if code, body := call(tokens["county"], http.MethodPost, w.path, w.body); code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("%s: %d %s", w.path, code, body)
		}
	}
	tests := []struct {
		what, text             string
		county, norwich, overs bool
	}{
		{"another team's escalation", "money escalation", true, false, true},
		{"another team's note", "possible abuse by carer", true, false, true},
		{"another team's shared note", "prefers calls in the morning", true, true, true},
		{"another team's contact (who, channel, outcome)", "phone: spoke", true, true, true},
		{"who recorded the contact", "recorded by token:county-system", true, true, true},
		{"another team's contact note", "private contact remark", true, false, true},
		{"another team's shared contact note", "shared contact remark", true, true, true},
	}
	bodies := map[string]string{}
	for who, tok := range tokens {
		code, body := call(tok, http.MethodGet, fmt.Sprintf("/api/v1/patients/%d/timeline", ada), "")
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", who, code, body)
		}
		bodies[who] = body
	}
	for _, tc := range tests {
		for who, want := range map[string]bool{"county": tc.county, "norwich": tc.norwich, "lead": tc.overs, "admin": tc.overs} {
			if got := strings.Contains(bodies[who], tc.text); got != want {
				t.Errorf("%s: %s sees %q: %v, want %v", tc.what, who, tc.text, got, want)
			}
		}
	}
}
