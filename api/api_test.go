package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/protectnow/protect/api"
	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/outreach/cohort"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
)

func TestCampaignAPI(t *testing.T) {
	testdb.Reset(t)
	ctx := context.Background()
	st := testdb.Store(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := outreach.New(outreach.Options{Store: st, Logger: logger, PublicURL: "http://127.0.0.1"})
	srv := httptest.NewServer(server.New(&app.Runtime{Store: st, Redis: testdb.Redis(t), Logger: logger},
		&api.Routes{Engine: eng, Store: st, Logger: logger}))
	defer srv.Close()

	csv := "nhs_number,given_name,family_name,date_of_birth,mobile,landline\n9434765919,Ada,Test,1950-01-01,07700 900100,\n"
	if _, err := cohort.Import(ctx, st, strings.NewReader(csv), "c.csv", 0, io.Discard,
		cohort.Options{Cohort: "api", Phones: phone.Parser{AllowTestNumbers: true}}); err != nil {
		t.Fatal(err)
	}
	lead, err := st.CreateAPIToken(ctx, "lead", store.RoleProgrammeLead, "test")
	if err != nil {
		t.Fatal(err)
	}
	handler, err := st.CreateAPIToken(ctx, "handler", store.RoleHandler, "test")
	if err != nil {
		t.Fatal(err)
	}
	revoked, _ := st.CreateAPIToken(ctx, "old", store.RoleAdmin, "test")
	if err := st.RevokeAPIToken(ctx, "old"); err != nil {
		t.Fatal(err)
	}

	do := func(method, path, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewBufferString(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
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
	spec := `{"name":"api-campaign","cohort":"api","sender":"+447700900999","pace":2}`
	tests := []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"no token", "GET", "/api/v1/campaigns", "", "", http.StatusUnauthorized},
		{"bad token", "GET", "/api/v1/campaigns", "pt_nope", "", http.StatusUnauthorized},
		{"revoked token", "GET", "/api/v1/campaigns", revoked, "", http.StatusUnauthorized},
		{"handler may not run campaigns", "GET", "/api/v1/campaigns", handler, "", http.StatusForbidden},
		{"invalid spec", "POST", "/api/v1/campaigns", lead, `{"name":"x","cohort":"missing","sender":"","pace":0}`, http.StatusUnprocessableEntity},
		{"unknown field", "POST", "/api/v1/campaigns", lead, `{"name":"x","colour":"red"}`, http.StatusBadRequest},
		{"create", "POST", "/api/v1/campaigns", lead, spec, http.StatusCreated},
		{"duplicate name", "POST", "/api/v1/campaigns", lead, spec, http.StatusConflict},
		{"list", "GET", "/api/v1/campaigns", lead, "", http.StatusOK},
		{"start", "POST", "/api/v1/campaigns/1/start", lead, "", http.StatusOK},
		{"start again", "POST", "/api/v1/campaigns/1/start", lead, "", http.StatusConflict},
		{"pause", "POST", "/api/v1/campaigns/1/pause", lead, "", http.StatusOK},
		{"resume", "POST", "/api/v1/campaigns/1/resume", lead, "", http.StatusOK},
		{"show", "GET", "/api/v1/campaigns/1", lead, "", http.StatusOK},
		{"unknown campaign", "GET", "/api/v1/campaigns/99", lead, "", http.StatusNotFound},
		{"bad id", "GET", "/api/v1/campaigns/abc", lead, "", http.StatusBadRequest},
		{"cancel", "POST", "/api/v1/campaigns/1/cancel", lead, "", http.StatusOK},
	}
	for _, tt := range tests {
		status, body := do(tt.method, tt.path, tt.token, tt.body)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d (%v)", tt.name, status, tt.status, body)
		}
	}
	entries, err := st.AuditLog(ctx, store.AuditQuery{Actor: "token:lead"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); got != "campaign.cancel,campaign.resume,campaign.pause,campaign.start,campaign.create" {
		t.Fatalf("audit = %s", got)
	}
}
