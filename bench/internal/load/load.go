// Package load drives an open-loop HTTP load: requests start on schedule
// whatever the server's speed, and latency is measured from the scheduled
// start, so a slow server cannot hide its queueing (no coordinated
// omission).
package load

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Result summarises a run.
type Result struct {
	Sent, OK, Failed int
	Duration         time.Duration
	Latencies        []time.Duration
	Statuses         map[int]int
}

// Rate is the completed requests per second.
func (r Result) Rate() float64 { return float64(r.OK+r.Failed) / r.Duration.Seconds() }

// Percentile returns the p-th percentile latency (0 < p <= 100).
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies))*p/100+0.5) - 1
	return r.Latencies[max(0, min(i, len(r.Latencies)-1))]
}

func (r Result) String() string {
	return fmt.Sprintf("%d requests in %.1f s = %.0f req/s; ok %d, failed %d; latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; statuses %v",
		r.Sent, r.Duration.Seconds(), r.Rate(), r.OK, r.Failed, ms(r.Percentile(50)), ms(r.Percentile(90)), ms(r.Percentile(99)), ms(r.Percentile(100)), r.Statuses)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Run sends rate requests per second for d, building request i with next.
// At most maxInFlight requests are outstanding; beyond that a request
// waits, and its wait counts in its latency.
func Run(client *http.Client, rate float64, d time.Duration, maxInFlight int, next func(i int) *http.Request) Result {
	return RunN(client, rate, int(rate*d.Seconds()), maxInFlight, next, nil)
}

// RunN sends n requests at rate per second, as Run does. When observe is
// not nil it receives each answer: request i, its HTTP status (0 when the
// request failed) and its body.
func RunN(client *http.Client, rate float64, n, maxInFlight int, next func(i int) *http.Request, observe func(i, status int, body []byte)) Result {
	res := Result{Statuses: map[int]int{}}
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxInFlight)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		req := next(i)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := client.Do(req)
			took := time.Since(due)
			status := 0
			var body []byte
			if err == nil {
				status = resp.StatusCode
				// Read to the end so the connection is kept for the next
				// request: closing an unread body closes the connection,
				// and the load generator would spend its CPU dialling.
				if observe != nil {
					body, _ = io.ReadAll(resp.Body)
				} else {
					io.Copy(io.Discard, resp.Body) //nolint:errcheck
				}
				resp.Body.Close()
			}
			if observe != nil {
				observe(i, status, body)
			}
			mu.Lock()
			lat = append(lat, took)
			res.Statuses[status]++
			if err == nil && status < 300 {
				res.OK++
			} else {
				res.Failed++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Duration = time.Since(start)
	res.Sent = n
	slices.Sort(lat)
	res.Latencies = lat
	return res
}

// Client is an HTTP client sized for loopback load.
func Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 1024
	tr.MaxConnsPerHost = 0
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Pct returns the p-th percentile (0 to 100, 100 the maximum) of latencies
// measured in any order, rounded to a tenth of a millisecond: for the
// benches that time requests one by one rather than through Run.
func Pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s) - 1) * p / 100
	return s[i].Round(time.Millisecond / 10)
}
