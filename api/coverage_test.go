package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/api"
	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/outreach/cohort"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
)

// Creating, starting, showing and listing a campaign that may run past
// the last year of known bank holidays carries the CLI's warning.
func TestCampaignCoverageWarningAPI(t *testing.T) {
	testdb.Reset(t)
	ctx := context.Background()
	st := testdb.Store(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	csv := "nhs_number,given_name,family_name,date_of_birth,mobile,landline\n9434765919,Ada,Test,1950-01-01,07700 900100,\n"
	if _, err := cohort.Import(ctx, st, strings.NewReader(csv), "c.csv", 0, io.Discard,
		cohort.Options{Cohort: "api", Phones: phone.Parser{AllowTestNumbers: true}}); err != nil {
		t.Fatal(err)
	}
	lead, err := st.CreateAPIToken(ctx, "lead", store.RoleProgrammeLead, "test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		now    time.Time
		window string
		warn   bool
	}{
		{"well inside the list", time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC), `{}`, false},
		{"runs into a year with no list", time.Date(2028, 12, 20, 10, 0, 0, 0, time.UTC), `{}`, true},
		{"bank holidays off", time.Date(2028, 12, 20, 10, 0, 0, 0, time.UTC), `{"bank_holidays":"none"}`, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := outreach.New(outreach.Options{Store: st, Logger: logger, PublicURL: "http://127.0.0.1",
				Now: func() time.Time { return tt.now }})
			srv := httptest.NewServer(server.New(&app.Runtime{Store: st, Redis: testdb.Redis(t), Logger: logger},
				&api.Routes{Engine: eng, Store: st, Logger: logger}))
			defer srv.Close()
			do := func(method, path, body string) (int, string) {
				req, _ := http.NewRequest(method, srv.URL+path, bytes.NewBufferString(body))
				req.Header.Set("Authorization", "Bearer "+lead)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			spec := fmt.Sprintf(`{"name":"coverage-%d","cohort":"api","sender":"+447700900999","pace":2,"window":%s}`, i, tt.window)
			code, body := do("POST", "/api/v1/campaigns", spec)
			if code != http.StatusCreated {
				t.Fatalf("create: %d %s", code, body)
			}
			var created struct {
				ID       int64    `json:"id"`
				Name     string   `json:"name"`
				Warnings []string `json:"warnings"`
			}
			if err := json.Unmarshal([]byte(body), &created); err != nil || created.Name == "" {
				t.Fatalf("create answered %s (%v)", body, err)
			}
			id := created.ID
			for _, step := range []struct{ method, path string }{
				{"POST", "/api/v1/campaigns"}, // the answer to create, above
				{"POST", fmt.Sprintf("/api/v1/campaigns/%d/start", id)},
				{"GET", fmt.Sprintf("/api/v1/campaigns/%d", id)},
				{"GET", "/api/v1/campaigns"},
			} {
				if step.path != "/api/v1/campaigns" || step.method != "POST" {
					if code, body = do(step.method, step.path, ""); code != http.StatusOK {
						t.Fatalf("%s %s: %d %s", step.method, step.path, code, body)
					}
				}
				has := strings.Contains(body, `"warnings":["this campaign may run until`) && strings.Contains(body, "refresh-bank-holidays.sh")
				if has != tt.warn {
					t.Errorf("%s %s: warning %v, want %v: %s", step.method, step.path, has, tt.warn, body)
				}
			}
			// Once cancelled, there is nothing to warn about.
			if code, body = do("POST", fmt.Sprintf("/api/v1/campaigns/%d/cancel", id), ""); code != http.StatusOK || strings.Contains(body, "warnings") {
				t.Errorf("cancel: %d %s", code, body)
			}
		})
	}
}
