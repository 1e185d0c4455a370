package sandbox

import "net/http"

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

func (s *Server) takeFault() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return 0
	}
	status := s.faults[0]
	s.faults = s.faults[1:]
	return status
}

func faultError(status int) *apiError {
	switch status {
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
