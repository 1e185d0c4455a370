package sandbox

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

const apiVersion = "2010-04-01"

// Server is a local Twilio-compatible REST API (the parts Protect uses) with
// simulated patients behind it. It is an http.Handler: mount it on an
// httptest.Server, or call Start. Safe for concurrent use.
type Server struct {
	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	sched *scheduler

	mu           sync.Mutex
	messages     map[string]*msgRec
	msgOrder     []string
	calls        map[string]*callRec
	callOrder    []string
	webhooks     []Webhook
	personas     map[string]Persona
	replies      map[string]int     // persona number -> replies used
	optedOut     map[[2]string]bool // (sender, persona) pairs after STOP
	faults       []int              // statuses of the next failing requests
	lost         []int              // statuses answered after the next creates
	failAll      int                // status of every request, until cleared
	failAllCode  int                // Twilio's code with failAll, when not the status's own
	webhookCount int
	changed      chan struct{}

	srvMu   sync.Mutex
	httpSrv *http.Server
	closed  bool
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "twilio-sandbox"),
		sched:   newScheduler(cfg.Workers),
		changed: make(chan struct{}),
	}
	s.resetLocked()
	s.mux = http.NewServeMux()
	base := "/" + apiVersion + "/Accounts/{AccountSid}/"
	s.mux.HandleFunc("POST "+base+"Messages.json", s.createMessage)
	s.mux.HandleFunc("GET "+base+"Messages/{file}", s.fetchMessage)
	s.mux.HandleFunc("GET "+base+"Messages.json", s.listMessages)
	s.mux.HandleFunc("POST "+base+"Calls.json", s.createCall)
	s.mux.HandleFunc("GET "+base+"Calls.json", s.listCalls)
	s.mux.HandleFunc("GET "+base+"Calls/{file}", s.fetchCall)
	s.mux.HandleFunc("POST "+base+"Calls/{file}", s.updateCall)
	s.mux.HandleFunc("/", s.notFound)
	return s, nil
}

// ServeHTTP authenticates the request, applies any failure injected with
// FailNext and serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.AccountSID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.AuthToken)) != 1 {
		writeError(w, newAPIError(http.StatusUnauthorized, 20003, "Authenticate"))
		return
	}
	if prefix := "/" + apiVersion + "/Accounts/"; strings.HasPrefix(r.URL.Path, prefix) {
		account, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, prefix), "/")
		account = strings.TrimSuffix(account, ".json")
		if account != s.cfg.AccountSID {
			s.notFound(w, r)
			return
		}
	}
	if fault := s.takeFault(); fault != nil {
		writeError(w, fault)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if status := s.takeLost(r); status != 0 {
		s.serveLost(w, r, status)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, newAPIError(http.StatusNotFound, 20404, "The requested resource %s was not found", r.URL.Path))
}

// Start listens on addr ("127.0.0.1:0" for any free port) and serves in the
// background until Close. It returns the base URL to give twilioapi.New.
func (s *Server) Start(addr string) (string, error) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.closed {
		return "", errors.New("sandbox: closed")
	}
	if s.httpSrv != nil {
		return "", errors.New("sandbox: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sandbox: listen %s: %w", addr, err)
	}
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("sandbox server stopped", "err", err)
		}
	}()
	s.log.Info("twilio sandbox listening", "addr", ln.Addr().String())
	return "http://" + ln.Addr().String(), nil
}

// Close stops the listener started by Start, drops webhooks that are not
// due yet, and waits for those in flight. It is safe to call twice.
func (s *Server) Close() error {
	s.srvMu.Lock()
	srv := s.httpSrv
	s.closed = true
	s.srvMu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(ctx)
		cancel()
	}
	s.sched.close()
	return err
}

// Reset forgets every message, call and webhook, personas added with
// SetPersona, opt-outs and injected failures, and drops webhooks that are
// not due yet. Webhooks in flight finish but start nothing new.
func (s *Server) Reset() {
	s.sched.clear()
	s.mu.Lock()
	s.resetLocked()
	s.changedLocked()
	s.mu.Unlock()
}

func (s *Server) resetLocked() {
	s.messages = map[string]*msgRec{}
	s.msgOrder = nil
	s.calls = map[string]*callRec{}
	s.callOrder = nil
	s.webhooks = nil
	s.personas = map[string]Persona{}
	for _, p := range s.cfg.Personas {
		s.personas[p.Number] = p
	}
	s.replies = map[string]int{}
	s.optedOut = map[[2]string]bool{}
	s.faults = nil
	s.lost = nil
	s.failAll, s.failAllCode = 0, 0
	s.webhookCount = 0
}

// SetPersona adds or replaces the persona for p.Number.
func (s *Server) SetPersona(p Persona) {
	s.mu.Lock()
	s.personas[p.Number] = p
	s.mu.Unlock()
}

// Persona returns the behaviour of number: its configured persona, or the
// default policy's.
func (s *Server) Persona(number string) Persona {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.personaLocked(number)
}

func (s *Server) personaLocked(number string) Persona {
	if p, ok := s.personas[number]; ok {
		return p
	}
	p := s.cfg.DefaultPersona(number)
	p.Number = number
	return p
}

// changedLocked wakes WaitFor callers; mu must be held.
func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}
