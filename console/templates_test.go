package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/protectnow/protect/store"
)

// template returns a shipped template by key, channel and language.
func (s *site) template(key, channel, lang string) store.Template {
	s.t.Helper()
	tm, err := s.st.TemplateByRef(context.Background(), store.TemplateRef{Key: key, Channel: channel, Language: lang})
	if err != nil {
		s.t.Fatal(err)
	}
	return tm
}

// loggedIn is a browser logged in as name.
func (s *site) loggedIn(name string) *browser {
	s.t.Helper()
	b := s.browser()
	if code := b.login(name, password); code != http.StatusSeeOther {
		s.t.Fatalf("log in %s: %d", name, code)
	}
	return b
}

// checkJSON posts a body to the editor's check endpoint as editor.js does.
func (b *browser) checkJSON(id int64, csrf, body string) (int, map[string]any) {
	b.t.Helper()
	code, page, _ := b.post(fmt.Sprintf("/console/templates/%d/check", id), url.Values{"csrf": {csrf}, "body": {body}})
	var out map[string]any
	if err := json.Unmarshal([]byte(page), &out); err != nil {
		return code, map[string]any{"page": page}
	}
	return code, out
}

func TestTemplatePagesByRole(t *testing.T) {
	s := newSite(t)
	intro := s.template("wellbeing.intro", "sms", "en")
	edit := fmt.Sprintf("/console/templates/%d", intro.ID)
	tests := []struct {
		user, path string
		want       int
		has, lacks []string
	}{
		{"cara", "/console/templates", 200, []string{"wellbeing.intro", `id="nav-templates"`, "invitation", "pending approval"}, nil},
		{"cara", "/console/templates?language=cy&channel=voice", 200, []string{`data-language="cy"`}, []string{`data-language="en"`, `data-channel="sms"`}},
		{"cara", edit, 200, []string{`id="body"`, "Hello Margaret, this is Riverside Medical Centre for ", `id="save"`, `id="sms-parts"`, "first_name",
			`src="/console/static/editor.js"`}, []string{"<script>"}},
		{"paul", "/console/templates", 200, []string{"wellbeing.intro"}, nil},
		{"paul", edit, 200, []string{"readonly", "Hello Margaret"}, []string{`id="save"`, `id="send-test"`}},
		{"admin", edit, 200, []string{`id="save"`}, nil},
		{"nina", "/console/templates", 403, []string{"Your role may not do this"}, nil},
		{"nina", edit, 403, nil, []string{"Hello"}},
		{"nina", edit + "/diff?from=1&to=1", 403, nil, nil},
		{"nina", "/console/inbox", 200, nil, []string{`id="nav-templates"`}},
		{"cara", "/console/templates/999999", 404, nil, nil},
		{"cara", "/console/templates/x", 404, nil, nil},
	}
	browsers := map[string]*browser{}
	for _, tc := range tests {
		b := browsers[tc.user]
		if b == nil {
			b = s.loggedIn(tc.user)
			browsers[tc.user] = b
		}
		code, page, h := b.get(tc.path)
		if code != tc.want {
			t.Errorf("%s GET %s: %d, want %d", tc.user, tc.path, code, tc.want)
			continue
		}
		for _, want := range tc.has {
			if !strings.Contains(page, want) {
				t.Errorf("%s GET %s lacks %q", tc.user, tc.path, want)
			}
		}
		for _, not := range tc.lacks {
			if strings.Contains(page, not) {
				t.Errorf("%s GET %s shows %q", tc.user, tc.path, not)
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP %q", csp)
		}
	}
	// The script is served from the console with a script type.
	code, js, h := browsers["cara"].get("/console/static/editor.js")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") || !strings.Contains(js, "/check") && !strings.Contains(js, "data-check") {
		t.Errorf("editor.js: %d %s", code, h.Get("Content-Type"))
	}
	// A comms lead has no inbox: log-in leads to the templates.
	b := s.browser()
	_, form, _ := b.get("/console/login")
	_, _, h = b.post("/console/login", url.Values{"csrf": {csrfOf(t, form)}, "name": {"cara"}, "password": {password}})
	if h.Get("Location") != "/console/templates" {
		t.Errorf("comms lead log-in goes to %q", h.Get("Location"))
	}
}

func TestTemplateCheckEndpoint(t *testing.T) {
	s := newSite(t)
	id := s.template("wellbeing.intro", "sms", "en").ID
	cara := s.loggedIn("cara")
	_, page, _ := cara.get(fmt.Sprintf("/console/templates/%d", id))
	csrf := csrfOf(t, page)
	nina := s.loggedIn("nina")
	_, inbox, _ := nina.get("/console/inbox")

	tests := []struct {
		name     string
		b        *browser
		csrf     string
		body     string
		want     int
		ok       bool
		html     []string
		encoding string
	}{
		{"plain GSM", cara, csrf, "Hi ((first_name)), are you OK?", 200, true, []string{"Hi Margaret, are you OK?", "GSM-7", `id="sms-parts">1<`}, "GSM-7"},
		{"smart quote makes it Unicode", cara, csrf, "Hi ((first_name)), it’s us", 200, true,
			[]string{"UCS-2", `id="unicode-chars"`, `id="use-gsm"`, `data-gsm-body="Hi ((first_name)), it&#39;s us"`}, "UCS-2"},
		{"unknown placeholder with line and column", cara, csrf, "Hi\n((nope))", 200, false, []string{"Line 2, column 1", "No preview"}, ""},
		{"a link is a warning", cara, csrf, "Hi, see https://example.org", 200, true, []string{`id="notices"`}, "GSM-7"},
		{"no CSRF token", cara, "", "Hi", 403, false, nil, ""},
		{"another session's token", cara, csrfOf(t, inbox), "Hi", 403, false, nil, ""},
		{"a handler", nina, csrfOf(t, inbox), "Hi", 403, false, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := tc.b.checkJSON(id, tc.csrf, tc.body)
			if code != tc.want {
				t.Fatalf("%d, want %d: %v", code, tc.want, out)
			}
			if code != 200 {
				return
			}
			rep := out["report"].(map[string]any)
			if rep["ok"] != tc.ok {
				t.Errorf("ok = %v", rep["ok"])
			}
			html, _ := out["html"].(string)
			for _, want := range tc.html {
				if !strings.Contains(html, want) {
					t.Errorf("report HTML lacks %q:\n%s", want, html)
				}
			}
			if sms, _ := rep["sms"].(map[string]any); tc.encoding != "" && (sms == nil || sms["encoding"] != tc.encoding) {
				t.Errorf("sms %v, want encoding %s", sms, tc.encoding)
			}
		})
	}
	if n := s.count(`SELECT count(*) FROM template_versions WHERE template_id = $1`, id); n != 1 {
		t.Errorf("checking saved something: %d versions", n)
	}
}

// The editor form without JavaScript, history, approval by a second
// person, diff and revert, each through the console.
func TestTemplateEditSubmitApprove(t *testing.T) {
	s := newSite(t)
	id := s.template("wellbeing.intro", "sms", "en").ID
	base := fmt.Sprintf("/console/templates/%d", id)
	cara, ann, paul := s.loggedIn("cara"), s.loggedIn("ann"), s.loggedIn("paul")
	csrfs := map[*browser]string{}
	for _, b := range []*browser{cara, ann, paul} {
		_, page, _ := b.get(base)
		csrfs[b] = csrfOf(t, page)
	}
	const changed = "Hello ((first_name)), this is ((programme_name)). We are checking in. Reply STOP to opt out."
	form := func(b *browser, kv ...string) url.Values {
		v := url.Values{"csrf": {csrfs[b]}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	steps := []struct {
		name string
		b    *browser
		path string
		form url.Values
		want int
		has  []string
		live int // the live version afterwards
		n    int // versions afterwards
	}{
		{"preview without JS", cara, base, form(cara, "action", "preview", "body", "Hi ((first_name)), it’s us"), 200,
			[]string{"Hi Margaret, it’s us", "UCS-2", "Hi ((first_name)), it’s us</textarea>"}, 1, 1},
		{"replace with GSM without JS", cara, base, form(cara, "action", "gsm", "body", "Hi ((first_name)), it’s us"), 200,
			[]string{"Hi ((first_name)), it&#39;s us</textarea>", "GSM-7"}, 1, 1},
		{"save without CSRF", cara, base, url.Values{"action": {"save"}, "body": {changed}}, 403, nil, 1, 1},
		{"save an invalid body", cara, base, form(cara, "action", "save", "body", "Hi ((nope))"), 422,
			[]string{"cannot be saved", "Line 1, column 4", "Hi ((nope))</textarea>"}, 1, 1},
		{"programme lead cannot save", paul, base, form(paul, "action", "save", "body", changed), 403, []string{"Your role may not do this"}, 1, 1},
		{"save a draft", cara, base, form(cara, "action", "save", "body", changed), 303, nil, 1, 2},
		{"submit the draft", cara, base + "/versions/2/submit", form(cara), 303, nil, 1, 2},
		{"save and submit with a note", cara, base, form(cara, "action", "submit", "body", changed+" Thanks.", "note", "new guidance"), 303, nil, 1, 3},
		{"a comms lead without the right cannot approve", cara, base + "/versions/3/approve", form(cara), 403, []string{"Your role may not do this"}, 1, 3},
		{"a programme lead cannot approve", paul, base + "/versions/3/approve", form(paul), 403, []string{"Your role may not do this"}, 1, 3},
		{"the approver rejects version 2", ann, base + "/versions/2/reject", form(ann, "note", "too short"), 303, nil, 1, 3},
		{"the approver approves version 3", ann, base + "/versions/3/approve", form(ann, "note", "fine"), 303, nil, 3, 3},
		{"approving twice is a conflict", ann, base + "/versions/3/approve", form(ann), 409, []string{"already been changed"}, 3, 3},
		{"test sends are not configured", cara, base, form(cara, "action", "test", "test_to", "07700900123", "body", changed), 503,
			[]string{"not configured", `id="test-error"`}, 3, 3},
		{"the approver goes back to version 1", ann, base + "/versions/1/revert", form(ann), 303, nil, 3, 4},
		{"the approver cannot approve her own revert", ann, base + "/versions/4/approve", form(ann), 403,
			[]string{"You wrote this version, so someone else must approve it"}, 3, 4},
		{"an unknown action", cara, base + "/versions/1/explode", form(cara), 404, nil, 3, 4},
	}
	for _, st := range steps {
		code, page, h := st.b.post(st.path, st.form)
		if code != st.want {
			t.Fatalf("%s: %d, want %d\n%s", st.name, code, st.want, page)
		}
		for _, want := range st.has {
			if !strings.Contains(page, want) {
				t.Errorf("%s: page lacks %q", st.name, want)
			}
		}
		if code == 303 && !strings.HasPrefix(h.Get("Location"), base+"?done=") {
			t.Errorf("%s: redirect to %q", st.name, h.Get("Location"))
		}
		tm, err := s.st.Template(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if tm.LiveVersion == nil || *tm.LiveVersion != st.live || tm.LatestVersion != st.n {
			t.Fatalf("%s: live %v, latest %d; want %d, %d", st.name, tm.LiveVersion, tm.LatestVersion, st.live, st.n)
		}
	}

	// The history shows who did what; the author sees no approve button
	// on her own revert, another approver does.
	_, page, _ := cara.get(base)
	for _, want := range []string{`id="version-3" data-state="approved"`, `id="version-2" data-state="rejected"`, "too short",
		`id="version-4" data-state="pending"`, "copy of version 1", "new guidance", `<span class="decided-by">user:ann</span>`,
		"this is ((programme_name)). We are checking in. Reply STOP to opt out. Thanks.</p>"} {
		if !strings.Contains(page, want) {
			t.Errorf("history lacks %q", want)
		}
	}
	if _, page, _ := ann.get(base); strings.Contains(page, `id="approve-4"`) || !strings.Contains(page, "someone else must approve it") {
		t.Error("the author is offered to approve her own version")
	}
	if _, page, _ := s.loggedIn("admin").get(base); !strings.Contains(page, `id="approve-4"`) {
		t.Error("another approver is not offered to approve version 4")
	}

	// The diff shows what changed, word by word and line by line.
	code, diff, _ := cara.get(base + "/diff?from=1&to=3")
	if code != 200 || !strings.Contains(diff, "<del>practice_name)) for ((</del>programme_name") ||
		!strings.Contains(diff, `class="op-del"`) {
		t.Errorf("diff %d:\n%s", code, diff)
	}
	if code, _, _ := cara.get(base + "/diff?from=1&to=99"); code != 404 {
		t.Errorf("diff to a missing version: %d", code)
	}

	// Every action went through the service, which audited it.
	for action, want := range map[string]int{"template.save": 2, "template.submit": 1, "template.approve": 1, "template.reject": 1, "template.revert": 1} {
		if n := s.count(`SELECT count(*) FROM audit_log WHERE action = $1`, action); n != want {
			t.Errorf("%d %s audit entries, want %d", n, action, want)
		}
	}
}
