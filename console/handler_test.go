package console_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/protectnow/protect/console"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
)

// urgentCase is Una, 07911 123456, who texted about a fall and then
// answered the wellbeing check that she feels unwell and it is an
// emergency: an urgent clinical escalation for the clinical team, whose
// handler is cleo.
type urgentCase struct {
	patient, escalation, campaign int64
}

const unaMobile = "+447911123456"

func (s *site) addUrgentCase() urgentCase {
	s.t.Helper()
	ctx := context.Background()
	pool := s.st.Pool()
	var u urgentCase
	hash, err := console.HashPassword(password)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.st.CreateUser(ctx, "cleo", store.RoleHandler, hash, []string{"clinical"}, "test"); err != nil {
		s.t.Fatal(err)
	}
	qn := questionnaire.Default()
	var cohort, qid int64
	must := func(err error) {
		s.t.Helper()
		if err != nil {
			s.t.Fatal(err)
		}
	}
	must(pool.QueryRow(ctx, `INSERT INTO cohorts (name) VALUES ('urgent') RETURNING id`).Scan(&cohort))
	must(pool.QueryRow(ctx, `INSERT INTO questionnaires (key, version, checksum, title, definition) VALUES ('wellbeing', 1, $1, 'Wellbeing', $2)
		RETURNING id`, qn.Checksum(), qn.Canonical()).Scan(&qid))
	must(pool.QueryRow(ctx, `INSERT INTO campaigns (name, cohort_id, questionnaire_id, sender, calling_window, pace, policy, created_by)
		VALUES ('urgent', $1, $2, '+447700900999', '{}', 1, '{}', 'test') RETURNING id`, cohort, qid).Scan(&u.campaign))
	_, err = pool.Exec(ctx, `INSERT INTO practices (code, name) VALUES ('D82001', 'Riverside Surgery')`)
	must(err)
	must(pool.QueryRow(ctx, `INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth, mobile, mobile_kind,
			gp_practice_code, locality, language)
		VALUES ('9434765927', 'Una', 'Urgent', '1940-03-02', $1, 'mobile', 'D82001', 'Norwich', 'en') RETURNING id`, unaMobile).Scan(&u.patient))
	_, err = pool.Exec(ctx, `INSERT INTO messages (direction, patient_id, campaign_id, from_number, to_number, body, kind, created_at)
		VALUES ('in', $1, $2, $3, '+447700900999', 'I had a fall on Tuesday and my chest hurts', 'unmatched', now() - interval '10 minutes')`,
		u.patient, u.campaign, unaMobile)
	must(err)
	_, err = pool.Exec(ctx, `INSERT INTO answers (campaign_id, patient_id, channel, question, option_key, raw, answered_at)
		VALUES ($1, $2, 'sms', 'unwell', 'yes', '1', now() - interval '6 minutes')`, u.campaign, u.patient)
	must(err)
	var answer int64
	must(pool.QueryRow(ctx, `INSERT INTO answers (campaign_id, patient_id, channel, question, option_key, raw, answered_at)
		VALUES ($1, $2, 'voice', 'symptoms', 'emergency', '1', now() - interval '5 minutes') RETURNING id`, u.campaign, u.patient).Scan(&answer))
	_, err = pool.Exec(ctx, `INSERT INTO needs (campaign_id, patient_id, category, priority, answer_id, detail)
		VALUES ($1, $2, 'clinical-urgent', 'urgent', $3, 'pressed emergency to symptoms on a call')`, u.campaign, u.patient, answer)
	must(err)
	for {
		n, err := s.svc.Intake(ctx)
		must(err)
		if n == 0 {
			break
		}
	}
	must(pool.QueryRow(ctx, `SELECT id FROM escalations WHERE patient_id = $1`, u.patient).Scan(&u.escalation))
	return u
}

// addUnclearReply gives Una a second urgent escalation: her text about the
// fall, which matched no answer, read as an unclear reply to a clinical
// question. It is the kind of escalation a handler closes as a duplicate.
func (s *site) addUnclearReply(u urgentCase) int64 {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.st.Pool().Exec(ctx, `INSERT INTO needs (campaign_id, patient_id, category, priority, detail)
		VALUES ($1, $2, 'unclear-reply', 'urgent', 'reply not understood')`, u.campaign, u.patient); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.svc.Intake(ctx); err != nil {
		s.t.Fatal(err)
	}
	var id int64
	if err := s.st.Pool().QueryRow(ctx, `SELECT id FROM escalations WHERE patient_id = $1 AND category = 'unclear-reply'`, u.patient).Scan(&id); err != nil {
		s.t.Fatal(err)
	}
	return id
}

func TestEscalationPageShowsWhomToCallAndWhatTheySaid(t *testing.T) {
	s := newSite(t)
	u := s.addUrgentCase()
	cleo := s.browser()
	cleo.login("cleo", password)
	code, page, _ := cleo.get(fmt.Sprintf("/console/escalations/%d", u.escalation))
	if code != http.StatusOK {
		t.Fatalf("escalation page: %d\n%s", code, page)
	}
	// As a browser reads it: html/template writes the + of a tel: link as &#43;.
	page = html.UnescapeString(page)
	for _, want := range []string{
		`href="tel:+447911123456"`, "07911 123 456", "Mobile", "943 476 5927", "Una Urgent", "Riverside Surgery",
		"English", "Urgent clinical",
		"Are you feeling unwell?</span> — <strong class=\"a\">Feels unwell",
		"Chest pain, severe difficulty breathing or very ill", "pressed 1 on the phone keypad",
		"I had a fall on Tuesday and my chest hurts", "hang up and call 999 now",
		"Answered “Chest pain, severe difficulty breathing or very ill” to “",
		`class="countdown`, "Claim within",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("escalation page lacks %q", want)
		}
	}
	for _, slug := range []string{"clinical-urgent", "user:cleo", "answered emergency to symptoms", "just now ago"} {
		if strings.Contains(page, ">"+slug) || strings.Contains(page, " "+slug+"<") {
			t.Errorf("escalation page shows the slug %q", slug)
		}
	}
}

func TestHandlerActionsAndRefusals(t *testing.T) {
	s := newSite(t)
	u := s.addUrgentCase()
	cleo, nina := s.browser(), s.browser()
	cleo.login("cleo", password)
	nina.login("nina", password)
	_, inbox, _ := cleo.get("/console/inbox")
	csrf := csrfOf(t, inbox)
	_, ninaInbox, _ := nina.get("/console/inbox")
	ninaCSRF := csrfOf(t, ninaInbox)
	esc := fmt.Sprintf("/console/escalations/%d", u.escalation)

	tests := []struct {
		name  string
		who   *browser
		path  string
		form  url.Values // nil: GET
		want  int
		has   string // in the body
		lacks string
	}{
		{"another team's handler: page", nina, esc, nil, 404, "nothing here that you can see", "Una"},
		{"another team's handler: search by number", nina, "/console/inbox?q=07911+123456", nil, 200, "", "Una"},
		{"another team's handler: search by name", nina, "/console/inbox?q=una", nil, 200, "", "Una"},
		{"another team's handler: I called", nina, esc + "/called", url.Values{"csrf": {ninaCSRF}, "outcome": {"no_answer"}}, 404, "", ""},
		{"search by number typed with a space", cleo, "/console/inbox?q=07911+123456", nil, 200, "Una Urgent", ""},
		{"search by number in E.164", cleo, "/console/inbox?q=%2B447911123456", nil, 200, "Una Urgent", ""},
		{"search by NHS number", cleo, "/console/inbox?q=943+476+5927", nil, 200, "Una Urgent", ""},
		{"search by part of the name", cleo, "/console/inbox?q=urg", nil, 200, "Una Urgent", ""},
		{"search with wildcards only", cleo, "/console/inbox?q=%25_%25", nil, 200, "No escalation of your teams matches", "Una"},
		{"search with SQL", cleo, "/console/inbox?q=" + url.QueryEscape(`'; DROP TABLE patients; --`), nil, 200, "", "Una"},
		{"search too long", cleo, "/console/inbox?q=" + strings.Repeat("x", 500), nil, 200, "", "Una"},
		{"urgent filter", cleo, "/console/inbox?urgent=1", nil, 200, "Una Urgent", ""},
		{"mine filter before claiming", cleo, "/console/inbox?mine=1", nil, 200, "Nothing here", "Una"},
		{"resolve without an outcome", cleo, esc + "/resolve", url.Values{"csrf": {csrf}, "note": {"x"}}, 400, "Choose an outcome", ""},
		{"resolve urgent without a note", cleo, esc + "/resolve", url.Values{"csrf": {csrf}, "outcome": {"helped"}}, 400,
			"There is a problem", ""},
		{"text too long", cleo, esc + "/sms", url.Values{"csrf": {csrf}, "body": {strings.Repeat("a", 919)}}, 400,
			"must be 918 characters or fewer", ""},
		{"text with a control character", cleo, esc + "/sms", url.Values{"csrf": {csrf}, "body": {"call us\x07 now"}}, 400,
			"control character", ""},
		{"empty text", cleo, esc + "/sms", url.Values{"csrf": {csrf}, "body": {"  "}}, 400, "Write the text to send", ""},
		{"I called without an outcome", cleo, esc + "/called", url.Values{"csrf": {csrf}}, 400, "Choose what happened on the call", ""},
		{"a note with a NUL byte", cleo, esc + "/note", url.Values{"csrf": {csrf}, "note": {"called\x00 her"}}, 400, "cannot be kept", ""},
		{"a call note that is not UTF-8", cleo, esc + "/called", url.Values{"csrf": {csrf}, "outcome": {"spoke"}, "note": {"caf\xe9"}}, 400,
			"cannot be kept", ""},
		{"I called: no answer", cleo, esc + "/called", url.Values{"csrf": {csrf}, "outcome": {"no_answer"}}, 303, "", ""},
		{"claim", cleo, esc + "/claim", url.Values{"csrf": {csrf}}, 303, "", ""},
		{"mine filter after claiming", cleo, "/console/inbox?mine=1", nil, 200, "Una Urgent", ""},
		{"text the patient", cleo, esc + "/sms", url.Values{"csrf": {csrf}, "body": {"Hello Una, this is the clinical team.\r\nWe will call you in 10 minutes."}},
			303, "", ""},
		{"the page after", cleo, esc, nil, 200, "We will call you in 10 minutes.", ""},
		{"the sender named on the thread", cleo, esc, nil, 200, "<strong>cleo</strong> texted", ""},
		{"the ledger on the page", cleo, esc, nil, 200, "Phoned: No answer", ""},
	}
	for _, tc := range tests {
		var code int
		var body string
		if tc.form == nil {
			code, body, _ = tc.who.get(tc.path)
		} else {
			code, body, _ = tc.who.post(tc.path, tc.form)
		}
		if code != tc.want {
			t.Fatalf("%s: %d, want %d\n%s", tc.name, code, tc.want, body)
		}
		if tc.has != "" && !strings.Contains(body, tc.has) {
			t.Errorf("%s: body lacks %q", tc.name, tc.has)
		}
		if tc.lacks != "" && strings.Contains(body, tc.lacks) {
			t.Errorf("%s: body shows %q", tc.name, tc.lacks)
		}
	}
	if n := s.count(`SELECT count(*) FROM contacts WHERE patient_id = $1 AND escalation_id = $2 AND method = 'phone'
		AND outcome = 'no_answer' AND team = 'clinical' AND actor = 'user:cleo'`, u.patient, u.escalation); n != 1 {
		t.Errorf("%d calls on the ledger, want 1", n)
	}
	if n := s.count(`SELECT count(*) FROM messages WHERE patient_id = $1 AND direction = 'out' AND kind = 'handler'
		AND to_number = $2 AND from_number = '+447700900999' AND provider_sid LIKE 'SM%'`, u.patient, unaMobile); n != 1 {
		t.Errorf("%d texts from the console recorded, want 1", n)
	}
	found := false
	for _, m := range s.sandbox.Messages() {
		if m.To == unaMobile && strings.Contains(m.Body, "We will call you in 10 minutes.") && !strings.Contains(m.Body, "\r") {
			found = true
		}
	}
	if !found {
		t.Errorf("the text did not reach the sandbox: %+v", s.sandbox.Messages())
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'escalation.sms' AND actor = 'user:cleo' AND patient_id = $1`, u.patient); n != 1 {
		t.Errorf("%d texts audited, want 1", n)
	}
	if n := s.count(`SELECT count(*) FROM escalations WHERE id = $1 AND state = 'claimed'`, u.escalation); n != 1 {
		t.Error("a refused resolve changed the escalation")
	}

	// After opting out, texting is refused; resolving with a note works.
	if _, err := s.st.Pool().Exec(context.Background(), `UPDATE patients SET opted_out_at = now() WHERE id = $1`, u.patient); err != nil {
		t.Fatal(err)
	}
	code, body, _ := cleo.post(esc+"/sms", url.Values{"csrf": {csrf}, "body": {"Are you there?"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "opted out") {
		t.Fatalf("text after opt-out: %d\n%s", code, body)
	}
	if n := len(s.sandbox.Messages()); n != 1 {
		t.Errorf("%d texts reached the sandbox, want 1", n)
	}
	code, _, _ = cleo.post(esc+"/resolve", url.Values{"csrf": {csrf}, "outcome": {"advice-given"}, "note": {"999 called, ambulance on its way"}})
	if code != http.StatusSeeOther {
		t.Fatalf("resolve with a note: %d", code)
	}
	_, page, _ := cleo.get(esc)
	if !strings.Contains(page, "Resolved by cleo") || !strings.Contains(page, "Advice given") {
		t.Errorf("resolved page does not say so in words")
	}
}

func TestMovedEscalationStaysReadOnlyForTheTeamThatHadIt(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	nina := s.browser()
	nina.login("nina", password)
	_, inbox, _ := nina.get("/console/inbox")
	csrf := csrfOf(t, inbox)
	esc := fmt.Sprintf("/console/escalations/%d", s.mine)
	if code, body, _ := nina.post(esc+"/handover", url.Values{"csrf": {csrf}, "team": {"county-council"}, "note": {"lives in the county"}}); code != http.StatusSeeOther {
		t.Fatalf("hand over: %d\n%s", code, body)
	}
	_, inbox, _ = nina.get("/console/inbox")
	if !strings.Contains(inbox, "Ada Tester") || !strings.Contains(inbox, "Moved to County council: read-only") {
		t.Fatalf("the moved escalation is not in the inbox, marked:\n%s", inbox)
	}
	code, page, _ := nina.get(esc)
	if code != http.StatusOK || !strings.Contains(page, `id="read-only"`) || strings.Contains(page, `id="claim"`) || strings.Contains(page, `id="resolve"`) {
		t.Fatalf("moved escalation page: %d\n%s", code, page)
	}
	if code, _, _ := nina.post(esc+"/claim", url.Values{"csrf": {csrf}}); code != http.StatusNotFound {
		t.Errorf("claim a moved escalation: %d", code)
	}
	// Once resolved it leaves the old team's inbox.
	if err := s.svc.Resolve(ctx, escalation.Actor{Name: "user:admin", Role: store.RoleAdmin}, s.mine, "helped", ""); err != nil {
		t.Fatal(err)
	}
	_, inbox, _ = nina.get("/console/inbox")
	if strings.Contains(inbox, "Ada Tester") {
		t.Error("a resolved moved escalation is still in the old team's inbox")
	}
}

func TestInboxLiveRows(t *testing.T) {
	s := newSite(t)
	s.addUrgentCase()
	cleo := s.browser()
	cleo.login("cleo", password)
	code, body, h := cleo.get("/console/inbox/live?urgent=1")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") ||
		!strings.Contains(body, `"urgent_unclaimed":1`) || !strings.Contains(body, "Una Urgent") || !strings.Contains(body, "(1 urgent) Inbox") {
		t.Fatalf("live rows: %d %s", code, body)
	}
	_, page, _ := cleo.get("/console/inbox")
	if !strings.Contains(page, "<title>(1 urgent) Inbox") {
		t.Error("the inbox title does not count the urgent escalations nobody claimed")
	}
}

// A search of any content is answered, and finds nothing it should not.
func TestInboxSearchOfAnyContent(t *testing.T) {
	s := newSite(t)
	s.addUrgentCase()
	cleo := s.browser()
	cleo.login("cleo", password)
	for _, q := range []string{
		"\x00", "una\x00", "\xff\xfe", "caf\xe9", `\`, `\\%`, "%", "_", "'", `"`, "una'--", "<script>alert(1)</script>",
		"07911 123456\x00", "+44", "0", "9434765927\n", strings.Repeat("9", 101), strings.Repeat("é", 60), "Ｕｎａ", "🙂",
	} {
		code, body, _ := cleo.get("/console/inbox?q=" + url.QueryEscape(q))
		if code != http.StatusOK {
			t.Errorf("search %q: %d", q, code)
		}
		if strings.Contains(body, "<script>alert") {
			t.Errorf("search %q is written back unescaped", q)
		}
		code, _, _ = cleo.get("/console/inbox/live?q=" + url.QueryEscape(q))
		if code != http.StatusOK {
			t.Errorf("live search %q: %d", q, code)
		}
	}
}

// addIdentityFailure gives Una a call whose identity check failed after two
// tries, and the identity need it raised.
func (s *site) addIdentityFailure(u urgentCase) int64 {
	s.t.Helper()
	ctx := context.Background()
	pool := s.st.Pool()
	var attempt int64
	if err := pool.QueryRow(ctx, `INSERT INTO attempts (campaign_id, patient_id, step, channel, to_number, due_at, state, sent_at)
		VALUES ($1, $2, 1, 'voice', $3, now(), 'completed', now() - interval '3 minutes') RETURNING id`,
		u.campaign, u.patient, unaMobile).Scan(&attempt); err != nil {
		s.t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO calls (call_sid, attempt_id, campaign_id, patient_id, phase, result,
			identity_tries, identity_result, identity_at)
		VALUES ('CA1', $1, $2, $3, 'done', 'identity-failed', 2, 'failed', now() - interval '2 minutes')`,
		attempt, u.campaign, u.patient); err != nil {
		s.t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO needs (campaign_id, patient_id, category, priority, detail)
		VALUES ($1, $2, 'identity-unconfirmed', 'normal',
			'could not confirm who answered the call (2 tries at the date of birth check): reach the patient another way; nothing was asked or said')`,
		u.campaign, u.patient); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.svc.Intake(ctx); err != nil {
		s.t.Fatal(err)
	}
	var id int64
	if err := pool.QueryRow(ctx, `SELECT id FROM escalations WHERE patient_id = $1 AND category = 'identity-unconfirmed'`, u.patient).Scan(&id); err != nil {
		s.t.Fatal(err)
	}
	return id
}

// A failed identity check reads in words: its category, what the need
// asks of the handler, and the check in the conversation, never a date.
func TestIdentityNeedInWords(t *testing.T) {
	s := newSite(t)
	u := s.addUrgentCase()
	id := s.addIdentityFailure(u)
	admin := s.browser()
	admin.login("admin", password)
	code, page, _ := admin.get(fmt.Sprintf("/console/escalations/%d", id))
	if code != http.StatusOK {
		t.Fatalf("escalation page: %d\n%s", code, page)
	}
	page = html.UnescapeString(page)
	for _, want := range []string{
		"Could not confirm identity",
		"Could not confirm who answered the call (2 tries at the date of birth check): reach the patient another way",
		"Identity check: not confirmed after 2 tries",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("escalation page lacks %q", want)
		}
	}
	// The page gives her date of birth (2 March 1940) to a handler, but
	// nothing from the check, which stores none of what was typed.
	for _, leak := range []string{"0203", "identity-unconfirmed", "not-patient"} {
		if strings.Contains(page, leak) {
			t.Errorf("escalation page shows %q", leak)
		}
	}
	_, inbox, _ := admin.get("/console/inbox?category=identity-unconfirmed")
	if !strings.Contains(inbox, `value="identity-unconfirmed"`) || !strings.Contains(inbox, fmt.Sprintf("/console/escalations/%d", id)) ||
		strings.Contains(inbox, fmt.Sprintf("/console/escalations/%d\"", u.escalation)) {
		t.Errorf("the inbox filtered on identity does not list just that escalation:\n%s", inbox)
	}
}

// A refused contact comes back on the patient page with an error summary
// linked to its box and everything typed kept.
func TestRefusedContactKeepsWhatWasTyped(t *testing.T) {
	s := newSite(t)
	nina := s.browser()
	nina.login("nina", password)
	path := fmt.Sprintf("/console/patients/%d", s.adaID)
	_, page, _ := nina.get(path)
	code, page, _ := nina.post(path+"/contacts", url.Values{"csrf": {csrfOf(t, page)}, "team": {"norwich-council"}, "method": {"visit"},
		"outcome": {"magic"}, "note": {"Left a card <b>at 3pm</b>"}, "shared": {"1"}})
	if code != http.StatusBadRequest {
		t.Fatalf("refused contact: %d", code)
	}
	for _, want := range []string{
		`<title>Error: Ada Tester`, `id="error-summary" role="alert" tabindex="-1"`, `<script src="/console/static/errors.js" defer>`, `<a href="#contact-outcome">Outcome: expected one of`,
		`<option value="visit" selected>`, `value="Left a card &lt;b&gt;at 3pm&lt;/b&gt;"`, `id="contact-shared" checked`,
		`<option value="norwich-council" selected>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the refused contact's page lacks %q", want)
		}
	}
}

// What people read names things in words: the role in the header, the
// audit log's actions and actors.
func TestSlugsInWords(t *testing.T) {
	s := newSite(t)
	cara := s.browser()
	cara.login("cara", password)
	if code, page, _ := cara.get("/console/templates"); !strings.Contains(page, "(Comms lead)") {
		t.Errorf("the header does not name the comms lead's role in words: %d\n%s", code, page)
	}
	admin := s.browser()
	admin.login("admin", password)
	_, page, _ := admin.get("/console/audit")
	if !strings.Contains(page, "<td>Viewed the audit log</td>") && !strings.Contains(page, "Loaded the shipped templates") {
		t.Errorf("the audit log's actions are not in words:\n%s", page)
	}
	for _, slug := range []string{"<td>audit.view</td>", "<td>user:admin</td>", "<td>inbox.view</td>"} {
		if strings.Contains(page, slug) {
			t.Errorf("the audit log shows %q", slug)
		}
	}
}

// Each inbox filter lists just its escalations: unclaimed, overdue, team,
// category (each on its own).
func TestInboxFilters(t *testing.T) {
	s := newSite(t)
	u := s.addUrgentCase()
	ctx := context.Background()
	escOf := func(patient int64) string {
		var id int64
		if err := s.st.Pool().QueryRow(ctx, `SELECT id FROM escalations WHERE patient_id = $1`, patient).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf(`href="/console/escalations/%d"`, id)
	}
	una, ada, bob := escOf(u.patient), escOf(s.adaID), escOf(s.bobID)
	// cleo claims Una's; Ada's is past its deadline.
	cleo := s.browser()
	cleo.login("cleo", password)
	_, page, _ := cleo.get(fmt.Sprintf("/console/escalations/%d", u.escalation))
	if code, _, _ := cleo.post(fmt.Sprintf("/console/escalations/%d/claim", u.escalation), url.Values{"csrf": {csrfOf(t, page)}}); code != http.StatusSeeOther {
		t.Fatalf("claim: %d", code)
	}
	if _, err := s.st.Pool().Exec(ctx, `UPDATE escalations SET due_at = now() - interval '1 hour' WHERE patient_id = $1`, s.adaID); err != nil {
		t.Fatal(err)
	}
	var adaTeam string
	if err := s.st.Pool().QueryRow(ctx, `SELECT team FROM escalations WHERE patient_id = $1`, s.adaID).Scan(&adaTeam); err != nil {
		t.Fatal(err)
	}
	admin := s.browser()
	admin.login("admin", password)
	tests := []struct {
		query        string
		shows, hides []string
	}{
		{"", []string{una, ada, bob}, nil},
		{"unclaimed=1", []string{ada, bob}, []string{una}},
		{"overdue=1", []string{ada}, []string{una, bob}},
		{"team=clinical", []string{una}, []string{ada, bob}},
		{"team=" + adaTeam, []string{ada}, []string{una}},
		{"category=food", []string{ada, bob}, []string{una}},
		{"category=clinical-urgent", []string{una}, []string{ada, bob}},
		{"category=made-up", []string{una, ada, bob}, nil}, // an unknown category does not filter
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			code, page, _ := admin.get("/console/inbox?" + tc.query)
			if code != http.StatusOK {
				t.Fatalf("inbox?%s: %d", tc.query, code)
			}
			for _, want := range tc.shows {
				if !strings.Contains(page, want) {
					t.Errorf("lacks %s", want)
				}
			}
			for _, not := range tc.hides {
				if strings.Contains(page, not) {
					t.Errorf("shows %s", not)
				}
			}
		})
	}
}
