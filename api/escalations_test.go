package api_test

import (
	"context"
	"encoding/json"
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

const routingYAML = `
teams:
  - {key: norwich-council, name: Norwich council, kind: council}
  - {key: county-council, name: County council, kind: council}
  - {key: clinical, name: Clinical team, kind: clinical}
rules:
  - {categories: [food], locality: Norwich, team: norwich-council}
default_team: county-council
urgent_team: clinical
sla: {default: 4h}
`

func TestEscalationEndpointsScopedToTokenTeams(t *testing.T) {
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

	var ada, bob int64
	for _, p := range []struct {
		id       *int64
		nhs, loc string
	}{{&ada, "9434765919", "Norwich"}, {&bob, "9434765870", "Diss"}} {
		if err := st.Pool().QueryRow(ctx, `INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth, locality)
			VALUES ($1, 'P', 'T', '1940-01-01', $2) RETURNING id`, p.nhs, p.loc).Scan(p.id); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Pool().Exec(ctx, `INSERT INTO needs (patient_id, category, priority) VALUES ($1, 'food', 'normal')`, *p.id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Intake(ctx); err != nil {
		t.Fatal(err)
	}
	escOf := func(p int64) int64 {
		var id int64
		if err := st.Pool().QueryRow(ctx, `SELECT id FROM escalations WHERE patient_id = $1`, p).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	mine, theirs := escOf(ada), escOf(bob)
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
	norwich := token("norwich-system", store.RoleHandler, "norwich-council")
	lead := token("lead", store.RoleProgrammeLead)
	comms := token("comms", store.RoleCommsLead)

	call := func(tok, method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out) //nolint:errcheck
		return resp.StatusCode, out
	}
	tests := []struct {
		name, tok, method, path, body string
		want                          int
	}{
		{"no token", "", "GET", "/api/v1/escalations", "", 401},
		{"inbox", norwich, "GET", "/api/v1/escalations", "", 200},
		{"mine", norwich, "GET", fmt.Sprintf("/api/v1/escalations/%d", mine), "", 200},
		{"theirs", norwich, "GET", fmt.Sprintf("/api/v1/escalations/%d", theirs), "", 404},
		{"claim theirs", norwich, "POST", fmt.Sprintf("/api/v1/escalations/%d/claim", theirs), "", 404},
		{"their timeline", norwich, "GET", fmt.Sprintf("/api/v1/patients/%d/timeline", bob), "", 404},
		{"their contact", norwich, "POST", fmt.Sprintf("/api/v1/patients/%d/contacts", bob), `{"method":"phone","outcome":"no_answer"}`, 404},
		{"claim mine", norwich, "POST", fmt.Sprintf("/api/v1/escalations/%d/claim", mine), "", 200},
		{"claim mine again", norwich, "POST", fmt.Sprintf("/api/v1/escalations/%d/claim", mine), "", 409},
		{"note", norwich, "POST", fmt.Sprintf("/api/v1/escalations/%d/note", mine), `{"note":"phoned by the council, no answer"}`, 200},
		{"unknown field", norwich, "POST", fmt.Sprintf("/api/v1/escalations/%d/note", mine), `{"nhs":"x"}`, 400},
		{"contact", norwich, "POST", fmt.Sprintf("/api/v1/patients/%d/contacts", ada), `{"method":"phone","outcome":"no_answer","note":"phoned by the council"}`, 201},
		{"bad outcome", norwich, "POST", fmt.Sprintf("/api/v1/escalations/%d/resolve", mine), `{"outcome":"magic"}`, 422},
		{"resolve", norwich, "POST", fmt.Sprintf("/api/v1/escalations/%d/resolve", mine), `{"outcome":"helped"}`, 200},
		{"timeline", norwich, "GET", fmt.Sprintf("/api/v1/patients/%d/timeline", ada), "", 200},
		{"lead sees theirs", lead, "GET", fmt.Sprintf("/api/v1/escalations/%d", theirs), "", 200},
		{"comms lead", comms, "GET", "/api/v1/escalations", "", 403},
	}
	for _, tc := range tests {
		code, body := call(tc.tok, tc.method, tc.path, tc.body)
		if code != tc.want {
			t.Fatalf("%s: %d, want %d (%v)", tc.name, code, tc.want, body)
		}
		if tc.name == "inbox" {
			list, _ := body["escalations"].([]any)
			if len(list) != 1 || list[0].(map[string]any)["id"].(float64) != float64(mine) {
				t.Fatalf("token inbox %v", body)
			}
		}
		if tc.name == "timeline" && !strings.Contains(fmt.Sprint(body["timeline"]), "phone: no answer") {
			t.Fatalf("timeline lacks the ledger entry: %v", body["timeline"])
		}
	}
	var denied int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE actor = 'token:norwich-system' AND action = 'access.denied'`).Scan(&denied); err != nil {
		t.Fatal(err)
	}
	if denied != 4 {
		t.Fatalf("%d access.denied entries, want 4", denied)
	}
}
