package sandbox

import (
	"net/http"
	"net/http/httptest"
)

// FailNext makes the next n API requests (after authentication) fail with
// the HTTP status: 429 gives Twilio's 20429 "Too Many Requests", 500 gives
// 20500, 503 gives 20503. Calls add up: FailNext(1, 429) then FailNext(1,
// 500) fails one request with each, in that order.
func (s *Server) FailNext(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, status)
	}
}

// FailAll makes every API request (after authentication) fail with the
// HTTP status until FailAll(0): 401 gives Twilio's 20003 "Authenticate",
// as for a wrong credential, until someone fixes it.
func (s *Server) FailAll(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAll, s.failAllCode = status, 0
}

// SuspendAccount makes every API request (after authentication) fail as
// Twilio answers for a suspended or closed account, HTTP 401 with code
// 20005 "Account not active", until FailAll(0) or SuspendAccount(false).
func (s *Server) SuspendAccount(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failAll, s.failAllCode = 0, 0
	if on {
		s.failAll, s.failAllCode = http.StatusUnauthorized, 20005
	}
}

// takeFault returns the error the next request fails with, or nil.
func (s *Server) takeFault() *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAll == http.StatusUnauthorized && s.failAllCode == 20005 {
		return newAPIError(http.StatusUnauthorized, 20005, "Account not active")
	}
	if s.failAll != 0 {
		return faultError(s.failAll)
	}
	if len(s.faults) == 0 {
		return nil
	}
	status := s.faults[0]
	s.faults = s.faults[1:]
	return faultError(status)
}

func faultError(status int) *apiError {
	switch status {
	case http.StatusUnauthorized:
		return newAPIError(status, 20003, "Authenticate")
	case http.StatusTooManyRequests:
		return newAPIError(status, 20429, "Too Many Requests")
	case http.StatusInternalServerError:
		return newAPIError(status, 20500, "Internal Server Error")
	case http.StatusServiceUnavailable:
		return newAPIError(status, 20503, "Service Unavailable")
	default:
		return newAPIError(status, 20000+status, "%s", http.StatusText(status))
	}
}

// LoseNextResponses makes the next n create requests (POSTs, after
// authentication) do their work (the message is created and sent, the
// call placed) and then answer with the HTTP status instead of the
// result, as when a proxy or the network loses Twilio's answer: the
// client cannot tell whether its request took effect.
func (s *Server) LoseNextResponses(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.lost = append(s.lost, status)
	}
}

func (s *Server) takeLost(r *http.Request) int {
	if r.Method != http.MethodPost {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lost) == 0 {
		return 0
	}
	status := s.lost[0]
	s.lost = s.lost[1:]
	return status
}

// serveLost serves r into a discarded response, then answers status.
func (s *Server) serveLost(w http.ResponseWriter, r *http.Request, status int) {
	s.mux.ServeHTTP(httptest.NewRecorder(), r)
	writeError(w, faultError(status))
}
