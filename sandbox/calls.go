package sandbox

import "net/http"

type callRec struct{}

func (s *Server) createCall(w http.ResponseWriter, r *http.Request) { s.notFound(w, r) }
func (s *Server) fetchCall(w http.ResponseWriter, r *http.Request)  { s.notFound(w, r) }
func (s *Server) updateCall(w http.ResponseWriter, r *http.Request) { s.notFound(w, r) }
