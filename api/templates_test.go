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

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/api"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

func TestTemplateAPI(t *testing.T) {
	testdb.Reset(t)
	st := testdb.Store(t)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `INSERT INTO template_generation DEFAULT VALUES ON CONFLICT DO NOTHING`); err != nil {
		t.Fatal(err)
	}
	if _, err := templateadmin.Seed(ctx, st); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	gin.SetMode(gin.TestMode)
	r := gin.New()
	(&api.Routes{Store: st, Logger: logger, Templates: templateadmin.New(templateadmin.Options{Store: st, Logger: logger})}).Register(r)
	srv := httptest.NewServer(r)
	defer srv.Close()

	tokens := map[string]string{}
	for name, role := range map[string]string{"admin": "admin", "writer": "comms_lead", "approver": "comms_lead", "handler": "handler"} {
		tok, err := st.CreateAPIToken(ctx, name, role, "test")
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = tok
	}
	tm, err := st.TemplateByRef(ctx, store.TemplateRef{Key: "wellbeing.ok", Channel: "sms", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("/api/v1/templates/%d", tm.ID)

	steps := []struct {
		name, who, method, path, body string
		status                        int
		contains                      string
	}{
		{"no token", "", "GET", "/api/v1/templates", "", 401, ""},
		{"handler may not list", "handler", "GET", "/api/v1/templates", "", 403, ""},
		{"list by purpose and language", "writer", "GET", "/api/v1/templates?purpose=urgent_advice&language=en", "", 200, `"key":"advice.urgent_111"`},
		{"show with history", "writer", "GET", base, "", 200, `"author":"system"`},
		{"check as you type", "writer", "POST", base + "/check", `{"body":"Hi ((first_name)) \u2013 OK?"}`, 200, `"gsm_body":"Hi ((first_name)) - OK?"`},
		{"unknown placeholder refused", "writer", "POST", base + "/versions", `{"body":"Hi ((nickname))"}`, 422, `"problems"`},
		{"save and submit", "writer", "POST", base + "/versions", `{"body":"Are you OK, ((first_name))? Reply 1 or 2.","note":"name","submit":true}`, 201, `"state":"pending"`},
		{"writer cannot approve", "writer", "POST", base + "/versions/2/approve", `{}`, 403, ""},
		{"grant needs admin", "writer", "POST", "/api/v1/template-approvers", `{"actor":"token:approver"}`, 403, ""},
		{"admin grants", "admin", "POST", "/api/v1/template-approvers", `{"actor":"token:approver"}`, 200, ""},
		{"approver approves", "approver", "POST", base + "/versions/2/approve", `{"note":"good"}`, 200, `"state":"approved"`},
		{"approve twice conflicts", "approver", "POST", base + "/versions/2/approve", ``, 409, ""},
		{"diff", "writer", "GET", base + "/diff?from=1&to=2", "", 200, `{"op":"+","text":", ((first_name))"}`},
		{"preview", "writer", "GET", base + "/versions/2/preview", "", 200, `"preview":"Are you OK, Margaret? Reply 1 or 2."`},
		{"revert", "approver", "POST", base + "/versions/1/revert", ``, 200, `"reverted_from":1`},
		{"reverter cannot approve their revert", "approver", "POST", base + "/versions/3/approve", ``, 403, "other than its author"},
		{"admin approves the revert", "admin", "POST", base + "/versions/3/approve", ``, 200, `"state":"approved"`},
		{"test sends are off without Twilio", "writer", "POST", base + "/test", `{"to":"07700900123","version":1}`, 503, ""},
		{"pins of a missing campaign", "admin", "GET", "/api/v1/campaigns/999/template-pins", "", 404, ""},
		{"unknown template", "writer", "GET", "/api/v1/templates/99999", "", 404, ""},
	}
	for _, s := range steps {
		var body io.Reader
		if s.body != "" {
			body = strings.NewReader(s.body)
		}
		req, _ := http.NewRequest(s.method, srv.URL+s.path, body)
		if s.who != "" {
			req.Header.Set("Authorization", "Bearer "+tokens[s.who])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.status || !strings.Contains(string(b), s.contains) {
			t.Fatalf("%s: %d %s, want %d containing %s", s.name, resp.StatusCode, b, s.status, s.contains)
		}
		if !json.Valid(b) && len(b) > 0 {
			t.Fatalf("%s: not JSON: %s", s.name, b)
		}
	}
	entries, err := st.AuditLog(ctx, store.AuditQuery{Actor: "token:approver"})
	if err != nil || len(entries) != 2 {
		t.Fatalf("approver's audited actions: %d %v", len(entries), err)
	}
}
