package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// /readyz names each component's state and nothing else; why one is down
// goes to the log. It answers 503 while one is down.
func TestReadyzStatesOnly(t *testing.T) {
	ctx := context.Background()
	closed, err := store.Open(ctx, testdb.URL())
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	deadRedis := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { deadRedis.Close() })
	sandbox := &config.Config{SandboxMode: true}
	live := &config.Config{TwilioAccountSID: "AC" + strings.Repeat("a", 32), TwilioAuthToken: "x"}
	tests := []struct {
		name   string
		st     *store.Store
		rdb    *redis.Client
		cfg    *config.Config
		status int
		want   map[string]string
	}{
		{"all up, sandbox", testdb.Store(t), testdb.Redis(t), sandbox, http.StatusOK,
			map[string]string{"postgres": "ok", "redis": "ok", "twilio": "sandbox"}},
		{"all up, live", testdb.Store(t), testdb.Redis(t), live, http.StatusOK,
			map[string]string{"postgres": "ok", "redis": "ok", "twilio": "live"}},
		{"postgres down", closed, testdb.Redis(t), sandbox, http.StatusServiceUnavailable,
			map[string]string{"postgres": "unavailable", "redis": "ok", "twilio": "sandbox"}},
		{"redis down", testdb.Store(t), deadRedis, live, http.StatusServiceUnavailable,
			map[string]string{"postgres": "ok", "redis": "unavailable", "twilio": "live"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := server.New(&app.Runtime{Config: tt.cfg, Store: tt.st, Redis: tt.rdb, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			var got map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
			}
			if rec.Code != tt.status || len(got) != len(tt.want) {
				t.Fatalf("%d %v, want %d %v", rec.Code, got, tt.status, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("%s = %q, want %q (%s)", k, got[k], v, rec.Body)
				}
			}
			if tt.status != http.StatusOK && !strings.Contains(logs.String(), "unavailable") {
				t.Fatalf("the cause was not logged: %q", logs.String())
			}
		})
	}
}

// The client address is the TCP peer unless the peer is a trusted proxy.
func TestTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		proxies []string
		want    string
	}{
		{"none trusted: the forged header is ignored", nil, "127.0.0.1"},
		{"other proxies trusted", []string{"10.0.0.0/8"}, "127.0.0.1"},
		{"the peer is a trusted proxy", []string{"127.0.0.0/8"}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := server.New(&app.Runtime{Config: &config.Config{TrustedProxies: tt.proxies}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
				routeFunc(func(r *gin.Engine) { r.GET("/ip", func(c *gin.Context) { c.String(http.StatusOK, c.ClientIP()) }) }))
			srv := httptest.NewServer(h)
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ip", nil)
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("X-Real-IP", "203.0.113.9")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tt.want {
				t.Fatalf("client IP %q, want %q", b, tt.want)
			}
		})
	}
}

type routeFunc func(r *gin.Engine)

func (f routeFunc) Register(r *gin.Engine) { f(r) }

// A busy address is reported with the variable to change.
func TestListenBusy(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = server.Listen(busy.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "PROTECT_HTTP_ADDR") {
		t.Fatalf("err %v, want a hint at PROTECT_HTTP_ADDR", err)
	}
}
