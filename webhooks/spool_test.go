package webhooks_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/protectnow/protect/internal/gatewaytest"
	"github.com/protectnow/protect/internal/spool"
	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
	"github.com/protectnow/protect/twilioapi"
	"github.com/protectnow/protect/webhooks"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// world is a campaign run by a gateway on the real database, and the
// webhooks under test served by an engine whose PostgreSQL sits behind a
// proxy the test takes down and brings back.
type world struct {
	t       *testing.T
	st      *store.Store // direct, for setting up and counting
	db      *store.Store // through the proxy, as the engine uses it
	gw      *gatewaytest.Gateway
	proxy   *testdb.Proxy
	engine  *outreach.Engine
	handler *webhooks.Handler
	app     *httptest.Server
	dir     string
	numbers []string
	// extra is the handler's Extra (the IVR's routes) when set.
	extra func(*gin.RouterGroup)
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newWorld starts patients one-patient campaigns whose first message has
// gone, and the webhooks under test with a spool in a directory of its own.
func newWorld(t *testing.T, patients int, o spool.Options) *world {
	t.Helper()
	testdb.Reset(t)
	w := &world{t: t, st: testdb.Store(t), dir: t.TempDir()}
	// The shipped texts, as `protect serve` seeds them at start.
	if _, err := templateadmin.Seed(context.Background(), w.st); err != nil {
		t.Fatal(err)
	}
	w.gw = gatewaytest.New(t, w.st)
	for i := range patients {
		w.gw.FirstMessage(fmt.Sprintf("p%d", i), nil)
	}
	rows, err := w.st.Pool().Query(context.Background(), `SELECT mobile FROM patients ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		w.numbers = append(w.numbers, n)
	}
	w.proxy = testdb.NewProxy(t)
	proxied, err := store.Open(context.Background(), w.proxy.URL("pool_max_conns=4&pool_min_conns=0&connect_timeout=2"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxied.Close)
	w.db = proxied
	w.engine = outreach.New(outreach.Options{Store: proxied, Twilio: twilioapi.New(gatewaytest.SID, gatewaytest.Token, w.gw.TwilioURL),
		Texts: w.gw.Texts, Logger: logger()})
	w.serve(o)
	return w
}

// serve (re)starts the webhooks under test on a spool in w.dir, and its
// replayer.
func (w *world) serve(o spool.Options) {
	w.t.Helper()
	sp, err := spool.Open(w.dir, o)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { sp.Close() })
	r := gin.New()
	r.GET("/metrics", gin.WrapH(promhttp.Handler()))
	app := httptest.NewUnstartedServer(r)
	app.Start()
	w.t.Cleanup(app.Close)
	w.app = app
	w.handler = &webhooks.Handler{Engine: w.engine, AccountSID: gatewaytest.SID, AuthToken: gatewaytest.Token,
		PublicURL: app.URL, Logger: logger(), Spool: sp, Extra: w.extra}
	w.handler.Register(r)
}

// replay runs the replayer until the test ends.
func (w *world) replay() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.handler.Replay(ctx); close(done) }()
	w.t.Cleanup(func() { cancel(); <-done })
}

func (w *world) post(path string, form url.Values) (int, string) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.app.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioapi.Sign(gatewaytest.Token, w.app.URL+path, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func inbound(sid, from, body string) url.Values {
	return url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {gatewaytest.SID}, "From": {from},
		"To": {gatewaytest.Sender}, "Body": {body}, "NumMedia": {"0"}}
}

func msgSID(patient, n int) string { return fmt.Sprintf("SM%030d%02d", patient, n) }

func (w *world) count(sql string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.st.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *world) eventually(what string, timeout time.Duration, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sandboxTexts are the texts the sandbox took from the gateway for a
// number, after the campaign's first message.
func (w *world) sandboxTexts(number string) []string {
	var out []string
	for _, m := range w.gw.Sandbox.Messages() {
		if m.To == number && m.Direction == "outbound-api" {
			out = append(out, m.Body)
		}
	}
	if len(out) > 0 {
		out = out[1:]
	}
	return out
}

// storedReplies are the reply texts stored for a number's messages, in
// the order the messages were sent.
func (w *world) storedReplies(number string) []string {
	rows, err := w.st.Pool().Query(context.Background(), `SELECT o.body FROM messages i
		JOIN messages o ON o.in_reply_to = i.provider_sid AND o.direction = 'out'
		WHERE i.direction = 'in' AND i.from_number = $1 ORDER BY i.provider_sid, o.reply_part`, number)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var b string
		rows.Scan(&b)
		out = append(out, b)
	}
	return out
}

func (w *world) metric(name string) string {
	resp, err := http.Get(w.app.URL + "/metrics")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}

// While PostgreSQL is unavailable, every patient's replies and a status
// callback are answered 200/204 and spooled; when it is back each reply is
// stored once, in the order each patient sent them, each patient gets the
// answers by REST exactly once, and the status callback is applied.
func TestRepliesSpooledWhilePostgresDown(t *testing.T) {
	const patients = 4
	w := newWorld(t, patients, spool.Options{})
	var attempt int64
	var firstSID string
	if err := w.st.Pool().QueryRow(context.Background(), `SELECT id, provider_sid FROM attempts ORDER BY id LIMIT 1`).
		Scan(&attempt, &firstSID); err != nil {
		t.Fatal(err)
	}

	w.proxy.Down()
	// Each patient answers the first question, then the second.
	var wg sync.WaitGroup
	for p, num := range w.numbers {
		wg.Go(func() {
			for n, body := range []string{"yes", "no"} {
				status, tw := w.post("/webhooks/twilio/sms", inbound(msgSID(p, n), num, body))
				if status != http.StatusOK || tw != outreach.EmptyTwiML {
					t.Errorf("reply %d of patient %d while PostgreSQL is down: %d %q", n, p, status, tw)
				}
			}
		})
	}
	wg.Wait()
	status, _ := w.post("/webhooks/twilio/sms/status?attempt="+fmt.Sprint(attempt),
		url.Values{"MessageSid": {firstSID}, "MessageStatus": {"read"}, "AccountSid": {gatewaytest.SID}})
	if status != http.StatusNoContent {
		t.Fatalf("status callback while PostgreSQL is down: %d", status)
	}
	if t.Failed() {
		t.FailNow()
	}
	if d, _ := w.handler.Spool.Stats(); d != 2*patients+1 {
		t.Fatalf("spool depth %d, want %d", d, 2*patients+1)
	}
	if got := w.metric("protect_spool_depth"); got != fmt.Sprint(2*patients+1) {
		t.Errorf("protect_spool_depth = %q", got)
	}
	if got := w.count(`SELECT count(*) FROM messages WHERE direction = 'in'`); got != 0 {
		t.Fatalf("%d inbound messages reached PostgreSQL through a closed proxy", got)
	}

	// PostgreSQL is back: the replayer catches up.
	w.proxy.Up()
	w.replay()
	w.eventually("spool drained", 30*time.Second, func() bool {
		d, _ := w.handler.Spool.Stats()
		return d == 0
	})
	if got := w.count(`SELECT count(*) FROM messages WHERE direction = 'in'`); got != 2*patients {
		t.Errorf("inbound messages stored = %d, want %d", got, 2*patients)
	}
	// In order: each patient's "yes" answered the first question and the
	// "no" the second.
	if got := w.count(`SELECT count(*) FROM (SELECT a.patient_id FROM answers a JOIN messages m ON m.id = a.message_id
			GROUP BY a.patient_id
			HAVING count(*) = 2 AND count(DISTINCT a.question) = 2
				AND min(a.id) FILTER (WHERE m.provider_sid LIKE '%00') < min(a.id) FILTER (WHERE m.provider_sid LIKE '%01')) x`); got != patients {
		t.Errorf("patients whose two answers were applied in order = %d, want %d", got, patients)
	}
	for _, num := range w.numbers {
		want := w.storedReplies(num)
		if len(want) < 2 {
			t.Errorf("%d reply texts stored for a patient, want 2 or more", len(want))
		}
		if got := w.sandboxTexts(num); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("texts sent by REST:\n%q\nwant exactly the stored replies:\n%q", got, want)
		}
	}
	if got := w.count(`SELECT count(*) FROM messages WHERE in_reply_to IS NOT NULL AND rest_state IS DISTINCT FROM 'sent'`); got != 0 {
		t.Errorf("%d reply texts not recorded as sent", got)
	}
	if got := w.count(`SELECT count(*) FROM status_events WHERE provider_sid = $1 AND status = 'read'`, firstSID); got != 1 {
		t.Errorf("spooled status callback applied %d times, want 1", got)
	}
	if got := w.metric("protect_spool_depth"); got != "0" {
		t.Errorf("protect_spool_depth = %q after replay", got)
	}

	// A replay repeated (the process died after applying, before its
	// acknowledgement reached the disk) changes nothing and texts nobody.
	before := len(w.gw.Sandbox.Messages())
	for p, num := range w.numbers {
		form := inbound(msgSID(p, 0), num, "yes")
		if err := w.handler.Spool.Append(spool.Entry{Kind: "sms", Key: num, Received: time.Now(), Form: form.Encode()}); err != nil {
			t.Fatal(err)
		}
	}
	if left := w.handler.ReplayOnce(context.Background()); left != 0 {
		t.Fatalf("%d left after replaying again", left)
	}
	if after := len(w.gw.Sandbox.Messages()); after != before {
		t.Errorf("replaying again sent %d more texts", after-before)
	}
	if got := w.count(`SELECT count(*) FROM answers`); got != 2*patients {
		t.Errorf("answers after replaying again = %d, want %d", got, 2*patients)
	}

	// Once the spool is empty, replies are handled live again and
	// answered in TwiML.
	status, tw := w.post("/webhooks/twilio/sms", inbound(msgSID(0, 2), w.numbers[0], "help"))
	if status != http.StatusOK || tw == outreach.EmptyTwiML {
		t.Errorf("live reply after recovery: %d %q", status, tw)
	}
}

// A process killed with a torn last record: the next one cuts the tail
// off, adopts the records before it and replays them.
func TestTornSpoolTailReplays(t *testing.T) {
	w := newWorld(t, 1, spool.Options{})
	num := w.numbers[0]
	w.proxy.Down()
	for n, body := range []string{"yes", "no"} {
		if status, _ := w.post("/webhooks/twilio/sms", inbound(msgSID(0, n), num, body)); status != http.StatusOK {
			t.Fatalf("reply %d: %d", n, status)
		}
	}
	path := w.handler.Spool.Path()
	w.handler.Spool.Close()
	w.app.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 0xde, 0xad, 'R', '{'}) // a third record, cut short
	f.Close()

	w.proxy.Up()
	w.serve(spool.Options{}) // the restarted process
	if d, _ := w.handler.Spool.Stats(); d != 2 {
		t.Fatalf("adopted %d records, want 2", d)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("the dead process's spool file is still there")
	}
	if left := w.handler.ReplayOnce(context.Background()); left != 0 {
		t.Fatalf("%d records left", left)
	}
	if got := w.count(`SELECT count(*) FROM answers`); got != 2 {
		t.Errorf("answers = %d, want 2", got)
	}
	if got, want := w.sandboxTexts(num), w.storedReplies(num); len(want) < 2 || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("texts sent by REST %q, want %q", got, want)
	}
	files, _ := filepath.Glob(filepath.Join(w.dir, "spool-*.log"))
	if len(files) != 1 {
		t.Errorf("spool files: %v", files)
	}
}

// A spool that cannot take the request (full) answers 500, never 200
// without a copy; PostgreSQL errors about the data are not spooled.
func TestSpoolFullAnswers500(t *testing.T) {
	w := newWorld(t, 1, spool.Options{MaxBytes: 64})
	w.proxy.Down()
	if status, _ := w.post("/webhooks/twilio/sms", inbound(msgSID(0, 0), w.numbers[0], "yes")); status != http.StatusInternalServerError {
		t.Fatalf("reply with a full spool and no PostgreSQL: %d, want 500", status)
	}
	if d, _ := w.handler.Spool.Stats(); d != 0 {
		t.Fatalf("spool depth %d", d)
	}
	// Up again, the same message is handled live.
	w.proxy.Up()
	if status, tw := w.post("/webhooks/twilio/sms", inbound(msgSID(0, 0), w.numbers[0], "yes")); status != http.StatusOK || tw == outreach.EmptyTwiML {
		t.Fatalf("reply once PostgreSQL is back: %d %q", status, tw)
	}
}
