package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/api"
	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
	"github.com/protectnow/protect/twilioapi"
)

// A comms lead's API token verifies a phone with the code texted to it
// before any template test goes there.
func TestTestPhonesAPI(t *testing.T) {
	testdb.Reset(t)
	st := testdb.Store(t)
	ctx := context.Background()
	if _, err := templateadmin.Seed(ctx, st); err != nil {
		t.Fatal(err)
	}
	g := gatewaytest.New(t, st)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	gin.SetMode(gin.TestMode)
	r := gin.New()
	svc := templateadmin.New(templateadmin.Options{Store: st, Logger: logger, Twilio: twilioapi.New(gatewaytest.SID, gatewaytest.Token, g.TwilioURL),
		TestSender: gatewaytest.Sender, Phones: phone.Parser{AllowTestNumbers: true}})
	(&api.Routes{Store: st, Logger: logger, Templates: svc}).Register(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	tokens := map[string]string{}
	for name, role := range map[string]string{"writer": "comms_lead", "other": "comms_lead", "handler": "handler"} {
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
	testPath := fmt.Sprintf("/api/v1/templates/%d/test", tm.ID)
	const send = `{"to":"07700900201","version":1}`
	code := regexp.MustCompile(`\b\d{6}\b`)

	steps := []struct {
		name, who, method, path, body string
		status                        int
		contains                      string
	}{
		{"a handler has no test phones", "handler", "GET", "/api/v1/test-phones", "", 403, ""},
		{"none yet", "writer", "GET", "/api/v1/test-phones", "", 200, `"test_phones":[]`},
		{"add: a code is texted", "writer", "POST", "/api/v1/test-phones", `{"number":"07700 900201"}`, 202, `"verified":false`},
		{"a landline is refused", "writer", "POST", "/api/v1/test-phones", `{"number":"01603 123456"}`, 422, "mobile"},
		{"no test before it is verified", "writer", "POST", testPath, send, 403, "verified"},
		{"a wrong code", "writer", "POST", "/api/v1/test-phones/1/verify", `{"code":"abcdef"}`, 422, "not right"},
		{"another token cannot verify it", "other", "POST", "/api/v1/test-phones/1/verify", `{"code":"{{code}}"}`, 404, ""},
		{"the right code", "writer", "POST", "/api/v1/test-phones/1/verify", `{"code":"{{code}}"}`, 200, `"verified":true`},
		{"a test goes, marked", "writer", "POST", testPath, send, 200, `"text":"[TEST] Are you OK?`},
		{"not for another token", "other", "POST", testPath, send, 403, "verified"},
		{"listed for its owner", "writer", "GET", "/api/v1/test-phones", "", 200, `"number":"+447700900201"`},
		{"not for others", "other", "GET", "/api/v1/test-phones", "", 200, `"test_phones":[]`},
		{"removed", "writer", "DELETE", "/api/v1/test-phones/1", "", 204, ""},
		{"no test after removal", "writer", "POST", testPath, send, 403, "verified"},
	}
	for _, s := range steps {
		var body io.Reader
		if s.body != "" {
			b := s.body
			if strings.Contains(b, "{{code}}") {
				msgs := g.Sandbox.Messages()
				b = strings.ReplaceAll(b, "{{code}}", code.FindString(msgs[len(msgs)-1].Body))
			}
			body = strings.NewReader(b)
		}
		req, _ := http.NewRequest(s.method, srv.URL+s.path, body)
		req.Header.Set("Authorization", "Bearer "+tokens[s.who])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.status || !strings.Contains(string(b), s.contains) {
			t.Fatalf("%s: %d %s, want %d containing %s", s.name, resp.StatusCode, b, s.status, s.contains)
		}
	}
	if n := len(g.Sandbox.Messages()); n != 2 {
		t.Errorf("the sandbox got %d texts, want a code and a test", n)
	}
}
