// Command voicebench measures the voice webhooks on loopback: the gateway's
// HTTP stack (signature check included) and the IVR against a fresh
// PostgreSQL database, each step a durable transaction. Simulated calls
// walk the whole dialog (answer URL, greeting, five questions, status
// callback), 5% of requests are sent twice as Twilio sometimes does, and
// requests go out open-loop at a fixed rate: latency is measured from the
// moment a request was due, so a slow server cannot hide its queue.
//
//	go run ./bench/voicebench -rate 500 -duration 20s
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/protectnow/protect/app"
	"github.com/protectnow/protect/bench/internal/benchdb"
	"github.com/protectnow/protect/config"
	"github.com/protectnow/protect/ivr"
	"github.com/protectnow/protect/nhsnumber"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/outreach/cohort"
	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/server"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/twilioapi"
	"github.com/protectnow/protect/webhooks"
)

const (
	dbName = "protect_bench_voice"
	sid    = config.SandboxAccountSID
	token  = config.SandboxAuthToken
)

// digits a simulated caller presses: go on, then OK and no needs.
var digits = []string{"1", "1", "2", "2", "2", "2"}

func main() {
	rate := flag.Int("rate", 500, "requests per second")
	duration := flag.Duration("duration", 20*time.Second, "how long to send")
	dup := flag.Float64("dup", 0.05, "share of requests sent twice")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the run (client and server) to this file")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*rate, *duration, *dup); err != nil {
		fmt.Fprintln(os.Stderr, "voicebench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// request is one webhook of a simulated call.
type request struct {
	call *call
	kind string // answer, gather, status
	seq  int
}

type call struct {
	sid     string
	attempt int64
}

type sample struct {
	kind string
	at   time.Duration // when the request was due, from the start of the run
	lat  time.Duration
	err  bool
}

func run(rate int, duration time.Duration, dup float64) error {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dbURL, err := benchdb.Fresh(ctx, dbName)
	if err != nil {
		return err
	}
	defer benchdb.Drop(ctx, dbName)
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}

	// A public URL that is the loopback listener, so signatures match.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	public := "http://" + ln.Addr().String()
	engine := outreach.New(outreach.Options{Store: st, PublicURL: public, Logger: logger})
	v := ivr.New(ivr.Options{Engine: engine, Store: st, PublicURL: public, Logger: logger})
	engine.SetCaller(v)
	h := server.New(&app.Runtime{Store: st, Logger: logger}, &webhooks.Handler{Engine: engine, AccountSID: sid, AuthToken: token,
		PublicURL: public, Logger: logger, Extra: v.Register})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()

	// Enough patients for the run, each with a planned voice attempt.
	calls := rate*int(duration.Seconds())/2 + 1000
	attempts, err := setup(ctx, st, engine, calls)
	if err != nil {
		return err
	}
	var syncCommit, fsync string
	st.Pool().QueryRow(ctx, "SHOW synchronous_commit").Scan(&syncCommit) //nolint:errcheck
	st.Pool().QueryRow(ctx, "SHOW fsync").Scan(&fsync)                   //nolint:errcheck
	fmt.Printf("voice webhooks: %d req/s for %s, %.0f%% repeated; PostgreSQL synchronous_commit=%s fsync=%s\n",
		rate, duration, dup*100, syncCommit, fsync)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2000, MaxConnsPerHost: 0}, Timeout: 10 * time.Second}
	ready := make(chan request, len(attempts)*2)
	var (
		mu      sync.Mutex
		samples []sample
		wg      sync.WaitGroup
		started int
	)
	newCall := func() (request, bool) {
		if started >= len(attempts) {
			return request{}, false
		}
		c := &call{sid: fmt.Sprintf("CA%032x", started+1), attempt: attempts[started]}
		started++
		return request{call: c, kind: "answer"}, true
	}
	start := time.Now()
	send := func(r request, due time.Time) {
		defer wg.Done()
		form, path := r.form(public)
		twice := rand.Float64() < dup
		for i := 0; i < 1+btoi(twice); i++ {
			lat, err := post(client, public+path, form)
			s := sample{kind: r.kind, at: due.Sub(start), lat: time.Since(due), err: err != nil}
			if i == 1 {
				s.kind = r.kind + " (repeat)"
				s.lat = lat
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, r.kind, err)
			}
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
		}
		if n, ok := r.advance(); ok {
			ready <- n
		}
	}
	interval := time.Second / time.Duration(rate)
	end := start.Add(duration)
	overloaded := false
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.After(end) {
			break
		}
		time.Sleep(time.Until(due))
		var r request
		select {
		case r = <-ready:
		default:
			var ok bool
			if r, ok = newCall(); !ok {
				// Every call is waiting on the server: it is not keeping up.
				overloaded = true
			}
		}
		if overloaded {
			break
		}
		wg.Add(1)
		go send(r, due)
	}
	wg.Wait()
	elapsed := time.Since(start)
	report(samples, elapsed)
	if overloaded {
		return errors.New("stopped early: every simulated call was waiting on the server (it did not keep up with the rate)")
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// form is the signed request's body and path.
func (r request) form(public string) (url.Values, string) {
	f := url.Values{"CallSid": {r.call.sid}, "AccountSid": {sid}, "From": {"+441603111111"}, "To": {"+441603222222"},
		"Direction": {"outbound-api"}, "ApiVersion": {"2010-04-01"}, "CallStatus": {"in-progress"}}
	a := strconv.FormatInt(r.call.attempt, 10)
	switch r.kind {
	case "answer":
		f.Set("AnsweredBy", "human")
		return f, "/webhooks/twilio/voice/answer?attempt=" + a
	case "gather":
		f.Set("Digits", digits[r.seq-1])
		return f, "/webhooks/twilio/voice/gather?attempt=" + a + "&seq=" + strconv.Itoa(r.seq)
	}
	f.Set("CallStatus", "completed")
	f.Set("CallDuration", "95")
	return f, "/webhooks/twilio/voice/status?attempt=" + a
}

// advance returns the call's next request.
func (r request) advance() (request, bool) {
	switch {
	case r.kind == "answer":
		return request{call: r.call, kind: "gather", seq: 1}, true
	case r.kind == "gather" && r.seq < len(digits):
		return request{call: r.call, kind: "gather", seq: r.seq + 1}, true
	case r.kind == "gather":
		return request{call: r.call, kind: "status"}, true
	}
	return request{}, false
}

func post(client *http.Client, u string, form url.Values) (time.Duration, error) {
	body := form.Encode()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioapi.Sign(token, u, form))
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lat := time.Since(t0)
	if resp.StatusCode >= 300 {
		return lat, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return lat, nil
}

// setup imports a cohort of landline patients and plans a voice-only
// campaign, returning one attempt per patient.
func setup(ctx context.Context, st *store.Store, engine *outreach.Engine, n int) ([]int64, error) {
	var b strings.Builder
	b.WriteString("nhs_number,given_name,family_name,date_of_birth,mobile,landline\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,Bench,Test,1950-01-01,,01603 %06d\n", nhs(i), i)
	}
	sum, err := cohort.Import(ctx, st, strings.NewReader(b.String()), "bench.csv", 0, io.Discard,
		cohort.Options{Cohort: "bench", Phones: phone.Parser{AllowTestNumbers: true}})
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if sum.Accepted != n {
		return nil, fmt.Errorf("import accepted %d of %d", sum.Accepted, n)
	}
	c, err := engine.CreateCampaign(ctx, outreach.CampaignSpec{Name: "bench", Cohort: "bench", Sender: "+441603111111",
		Pace: 1000, TeamPhone: "01603 000000", CreatedBy: "bench",
		Window: []byte(`{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"00:00","end":"24:00","timezone":"Europe/London"}`),
		Policy: []byte(`{"steps":[{"channel":"voice","wait":"24h"}],"conversation_timeout":"24h"}`)})
	if err != nil {
		return nil, err
	}
	if _, err := engine.Start(ctx, c.ID, "bench"); err != nil {
		return nil, err
	}
	var ids []int64
	deadline := time.Now().Add(time.Duration(n/1000+10) * time.Second)
	for len(ids) < n && time.Now().Before(deadline) {
		q, err := st.QueueDue(ctx, c.ID, n)
		if err != nil {
			return nil, err
		}
		for _, a := range q {
			ids = append(ids, a.ID)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(ids) < n {
		return nil, fmt.Errorf("planned %d attempts of %d", len(ids), n)
	}
	return ids, nil
}

// nhs returns the i-th valid NHS number of a bench range.
func nhs(i int) string {
	for k := 600000000 + i*11; ; k++ {
		nine := strconv.Itoa(k)
		if cd := nhsnumber.CheckDigit(nine); cd >= 0 {
			return nine + strconv.Itoa(cd)
		}
	}
}

func report(samples []sample, elapsed time.Duration) {
	by := map[string][]time.Duration{}
	errs := 0
	var all []time.Duration
	for _, s := range samples {
		if s.err {
			errs++
		}
		by[s.kind] = append(by[s.kind], s.lat)
		all = append(all, s.lat)
	}
	fmt.Printf("%d requests in %.1fs (%.0f req/s), %d errors\n", len(all), elapsed.Seconds(), float64(len(all))/elapsed.Seconds(), errs)
	fmt.Printf("%-18s %7s %8s %8s %8s %8s %8s\n", "kind", "n", "p50", "p90", "p99", "p99.9", "max")
	line := func(name string, d []time.Duration) {
		slices.Sort(d)
		q := func(p float64) string {
			return fmt.Sprintf("%.1fms", float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds())/1000)
		}
		fmt.Printf("%-18s %7d %8s %8s %8s %8s %8s\n", name, len(d), q(0.5), q(0.9), q(0.99), q(0.999), q(1))
	}
	kinds := make([]string, 0, len(by))
	for k := range by {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		line(k, by[k])
	}
	line("all", all)

	// Where in the run the slow requests fell: a cluster in the first
	// second is warm-up (connections being opened), a steady trickle is
	// the server, isolated bursts are stalls (GC, checkpoints, the OS).
	slow := map[int]int{}
	for _, s := range samples {
		if s.lat > slowAfter {
			slow[int(s.at/time.Second)]++
		}
	}
	if len(slow) > 0 {
		secs := make([]int, 0, len(slow))
		for k := range slow {
			secs = append(secs, k)
		}
		slices.Sort(secs)
		fmt.Printf("over %s, by second of the run:", slowAfter)
		for _, k := range secs {
			fmt.Printf(" %ds:%d", k, slow[k])
		}
		fmt.Println()
	}
}

// slowAfter is the latency the report counts as slow: the target.
const slowAfter = 20 * time.Millisecond
