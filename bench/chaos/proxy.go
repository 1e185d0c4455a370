package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// lossyProxy stands between the workers and Twilio. Every request reaches
// Twilio; for a share of the requests that create a message or a call,
// the answer is then lost: the connection drops, or a 502 comes back, as
// when a load balancer or the network fails after Twilio acted.
type lossyProxy struct {
	target     string // Twilio's base URL
	drop, bad  float64
	client     *http.Client
	mu         sync.Mutex
	rnd        *rand.Rand
	creates    atomic.Int64
	dropped    atomic.Int64
	badGateway atomic.Int64
}

func newLossyProxy(target string, drop, bad float64, seed uint64) *lossyProxy {
	return &lossyProxy{target: strings.TrimRight(target, "/"), drop: drop, bad: bad,
		client: &http.Client{Timeout: 30 * time.Second}, rnd: rand.New(rand.NewPCG(seed, 7))}
}

// isCreate reports whether r creates a message or a call.
func isCreate(r *http.Request) bool {
	return r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/Messages.json") || strings.HasSuffix(r.URL.Path, "/Calls.json"))
}

func (p *lossyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if isCreate(r) {
		p.creates.Add(1)
		p.mu.Lock()
		x := p.rnd.Float64()
		p.mu.Unlock()
		switch {
		case x < p.drop:
			p.dropped.Add(1)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler) // closes the connection without an answer
		case x < p.drop+p.bad:
			p.badGateway.Add(1)
			http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
			return
		}
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer) //nolint:errcheck
}

// start serves the proxy on a loopback port and returns its URL and a
// function that stops it.
func (p *lossyProxy) start() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
