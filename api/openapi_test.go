package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/api"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/templateadmin"
)

type openAPIDoc struct {
	OpenAPI  string                                `json:"openapi"`
	Paths    map[string]map[string]json.RawMessage `json:"paths"`
	Webhooks map[string]json.RawMessage            `json:"webhooks"`
	Comps    struct {
		Schemas map[string]struct {
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

// The OpenAPI document describes every registered route, and nothing
// that is not one; the webhook event schema has the fields teams get.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	(&api.Routes{Escalations: new(escalation.Service), Templates: new(templateadmin.Service),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(r)
	var doc openAPIDoc
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	param := regexp.MustCompile(`:([a-z]+)`)
	registered := map[string]bool{}
	for _, rt := range r.Routes() {
		path, ok := strings.CutPrefix(rt.Path, "/api/v1")
		if !ok {
			continue
		}
		key := strings.ToLower(rt.Method) + " " + param.ReplaceAllString(path, "{$1}")
		registered[key] = true
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[method+" "+path] = true
			var o struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(op, &o); err != nil || len(o.Responses) == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
		}
	}
	for k := range registered {
		if !documented[k] {
			t.Errorf("route %s is not documented", k)
		}
	}
	for k := range documented {
		if !registered[k] {
			t.Errorf("documented %s is not a route", k)
		}
	}
	if len(registered) < 30 {
		t.Errorf("only %d routes registered: the test no longer sees them all", len(registered))
	}

	// The webhook event's schema lists exactly the JSON fields of
	// escalation.WebhookEvent.
	if doc.Webhooks["escalation"] == nil {
		t.Error("no webhook documented")
	}
	var fields []string
	typ := reflect.TypeFor[escalation.WebhookEvent]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	var props []string
	for k := range doc.Comps.Schemas["WebhookEvent"].Properties {
		props = append(props, k)
	}
	slices.Sort(fields)
	slices.Sort(props)
	if !slices.Equal(fields, props) {
		t.Errorf("webhook schema properties %v, event fields %v", props, fields)
	}

	// It is served without a token.
	srv := httptest.NewServer(r)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
