package api_test

import (
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

func TestCampaignReportAPI(t *testing.T) {
	testdb.Reset(t)
	ctx := context.Background()
	st := testdb.Store(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := outreach.New(outreach.Options{Store: st, Logger: logger, PublicURL: "http://127.0.0.1"})
	srv := httptest.NewServer(server.New(&app.Runtime{Store: st, Redis: testdb.Redis(t), Logger: logger},
		&api.Routes{Engine: eng, Store: st, Logger: logger}))
	defer srv.Close()
	csv := "nhs_number,given_name,family_name,date_of_birth,mobile,landline\n" +
		"9434765919,Ada,Test,1950-01-01,07700 900100,\n9434765870,Bob,Test,1950-01-01,,\n"
	if _, err := cohort.Import(ctx, st, strings.NewReader(csv), "c.csv", 0, io.Discard,
		cohort.Options{Cohort: "api", Phones: phone.Parser{AllowTestNumbers: true}}); err != nil {
		t.Fatal(err)
	}
	lead, _ := st.CreateAPIToken(ctx, "lead", store.RoleProgrammeLead, "test")
	handler, _ := st.CreateAPIToken(ctx, "handler", store.RoleHandler, "test")
	admin, _ := st.CreateAPIToken(ctx, "admin", store.RoleAdmin, "test")
	c, err := eng.CreateCampaign(ctx, outreach.CampaignSpec{Name: "r", Cohort: "api", Sender: "+447700900999", Pace: 2,
		Window: json.RawMessage(`{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00", "bank_holidays": "none"}`)})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, token string) (int, string, map[string]any) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out) //nolint:errcheck
		return resp.StatusCode, resp.Header.Get("Content-Type"), out
	}
	// A draft's forecast: one patient with a number.
	code, _, f := get("/api/v1/campaigns/1/forecast?finish_by=2020-01-01", lead)
	if code != 200 || f["patients"] != float64(1) || !strings.Contains(f["warnings"].([]any)[0].(string), "cannot finish") {
		t.Fatalf("forecast %d %v", code, f)
	}
	if _, err := eng.Start(ctx, c.ID, "test"); err != nil {
		t.Fatal(err)
	}
	code, _, r := get("/api/v1/campaigns/1/report", lead)
	funnel := r["report"].(map[string]any)["funnel"].(map[string]any)
	if code != 200 || funnel["patients"] != float64(2) || funnel["planned"] != float64(1) || funnel["no_contact_route"] != float64(1) {
		t.Fatalf("report %d %v", code, r)
	}
	code, _, w := get("/api/v1/campaigns/1/worklists/no-contact-route", lead)
	if code != 200 || len(w["patients"].([]any)) != 1 {
		t.Fatalf("worklist %d %v", code, w)
	}
	tests := []struct {
		name, path, token string
		status            int
		problem           bool
	}{
		{"handler refused", "/api/v1/campaigns/1/report", handler, 403, true},
		{"handler refused worklist", "/api/v1/campaigns/1/worklists/unreachable", handler, 403, true},
		{"admin sees the report", "/api/v1/campaigns/1/report", admin, 200, false},
		// Worklists name patients: programme leads only.
		{"admin refused worklist", "/api/v1/campaigns/1/worklists/unreachable", admin, 403, true},
		{"no token", "/api/v1/campaigns/1/report", "", 401, true},
		{"unknown campaign", "/api/v1/campaigns/99/report", lead, 404, true},
		{"bad id", "/api/v1/campaigns/x/forecast", lead, 400, true},
		{"unknown worklist", "/api/v1/campaigns/1/worklists/everyone", lead, 404, true},
		{"bad finish_by", "/api/v1/campaigns/1/forecast?finish_by=soon", lead, 400, true},
	}
	for _, tt := range tests {
		code, kind, body := get(tt.path, tt.token)
		if code != tt.status {
			t.Errorf("%s: %d, want %d", tt.name, code, tt.status)
		}
		if tt.problem && (kind != "application/problem+json" || body["status"] != float64(tt.status) || body["title"] == "" || body["detail"] == "") {
			t.Errorf("%s: not a problem document: %s %v", tt.name, kind, body)
		}
	}
	for _, action := range []string{"campaign.report.view", "campaign.forecast.view"} {
		if n, err := st.AuditLog(ctx, store.AuditQuery{Actor: "token:lead", Action: action}); err != nil || len(n) != 1 {
			t.Errorf("%s audited %d times (%v), want once", action, len(n), err)
		}
	}
	if n, err := st.AuditLog(ctx, store.AuditQuery{Actor: "token:lead", Action: "campaign.worklist.download"}); err != nil || len(n) != 1 || n[0].Details["rows"] != float64(1) {
		t.Errorf("worklist download audit: %v %v", n, err)
	}
}
