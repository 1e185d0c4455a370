package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/protectnow/protect/console"
)

// loginPage posts a log-in and returns the status and page.
func (b *browser) loginPage(name, pw string) (int, string) {
	b.t.Helper()
	_, page, _ := b.get("/console/login")
	code, body, _ := b.post("/console/login", url.Values{"csrf": {csrfOf(b.t, page)}, "name": {name}, "password": {pw}})
	return code, body
}

// Failed log-ins are counted per name and per address in Redis; past the
// limit, attempts are refused with the same message whether or not the
// name exists, a success resets the name's count, and refusals are audited.
func TestLoginThrottle(t *testing.T) {
	const tooMany = "Too many attempts. Try again in 15 minutes."
	type try struct {
		name, pw string
		want     int
	}
	fails := func(name string, n int) []try {
		out := make([]try, n)
		for i := range out {
			out[i] = try{name, "wrong password!", http.StatusUnauthorized}
		}
		return out
	}
	then := func(ts ...[]try) []try {
		var out []try
		for _, t := range ts {
			out = append(out, t...)
		}
		return out
	}
	tests := []struct {
		name      string
		tries     []try
		throttled int // refusals audited
	}{
		{"a known name is locked, even with the right password", then(fails("nina", console.NameFailures-1),
			[]try{{"nina", "wrong password!", http.StatusTooManyRequests}, {"nina", password, http.StatusTooManyRequests},
				{"NINA", password, http.StatusTooManyRequests}, {"colin", password, http.StatusSeeOther}}), 3},
		{"an unknown name is locked the same way", then(fails("nobody", console.NameFailures-1),
			[]try{{"nobody", "wrong password!", http.StatusTooManyRequests}, {"nobody", password, http.StatusTooManyRequests}}), 2},
		{"a success resets the name's count", then(fails("nina", console.NameFailures-1), []try{{"nina", password, http.StatusSeeOther}},
			fails("nina", console.NameFailures-1), []try{{"nina", password, http.StatusSeeOther}}), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			for i, tr := range tc.tries {
				code, page := s.browser().loginPage(tr.name, tr.pw)
				if code != tr.want {
					t.Fatalf("try %d (%s): %d, want %d", i, tr.name, code, tr.want)
				}
				if code == http.StatusTooManyRequests && !strings.Contains(page, tooMany) {
					t.Fatalf("try %d: refusal does not say when to try again:\n%s", i, page)
				}
			}
			if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'login.throttled'`); n != tc.throttled {
				t.Fatalf("%d refusals audited, want %d", n, tc.throttled)
			}
			if n := s.count(`SELECT count(*) FROM audit_log WHERE details::text LIKE '%' || $1 || '%'`, password); n != 0 {
				t.Fatal("a password reached the audit log")
			}
		})
	}

	// Many names from one address lock the address, for every name.
	s := newSite(t)
	for i := range console.AddrFailures - 1 {
		if code, _ := s.browser().loginPage(fmt.Sprintf("guess%d", i), "wrong password!"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	if code, _ := s.browser().loginPage("guess-last", "wrong password!"); code != http.StatusTooManyRequests {
		t.Fatalf("address limit reached: %d, want 429", code)
	}
	if code, _ := s.browser().loginPage("colin", password); code != http.StatusTooManyRequests {
		t.Fatalf("locked address, right password: %d, want 429", code)
	}
	if n := s.count(`SELECT count(*) FROM audit_log WHERE action = 'login.throttled' AND details->>'locked' = 'address'`); n != 2 {
		t.Fatalf("%d address refusals audited, want 2", n)
	}
}

// A user changes their password with the current one; their other
// sessions end, this one stays.
func TestChangePassword(t *testing.T) {
	s := newSite(t)
	const newPassword = "a much better passphrase"
	here, there := s.browser(), s.browser()
	for _, b := range []*browser{here, there} {
		if code := b.login("nina", password); code != http.StatusSeeOther {
			t.Fatalf("log in: %d", code)
		}
	}
	tests := []struct {
		name                string
		current, next, conf string
		want                int
		say                 string
	}{
		{"wrong current password", "wrong password!", newPassword, newPassword, http.StatusBadRequest, "current password is not right"},
		{"confirmation differs", password, newPassword, newPassword + "x", http.StatusBadRequest, "differ"},
		{"too short", password, "short", "short", http.StatusBadRequest, "at least"},
		{"same as before", password, password, password, http.StatusBadRequest, "must differ"},
		{"changed", password, newPassword, newPassword, http.StatusSeeOther, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, form, _ := here.get("/console/account/password")
			code, page, _ := here.post("/console/account/password", url.Values{"csrf": {csrfOf(t, form)},
				"current": {tc.current}, "new": {tc.next}, "confirm": {tc.conf}})
			if code != tc.want || !strings.Contains(page, tc.say) {
				t.Fatalf("%d, want %d saying %q:\n%s", code, tc.want, tc.say, page)
			}
		})
	}
	if code, _, _ := here.get("/console/inbox"); code != http.StatusOK {
		t.Errorf("the session that changed the password ended: %d", code)
	}
	if code, _, _ := there.get("/console/inbox"); code != http.StatusSeeOther {
		t.Errorf("another session survived the change: %d", code)
	}
	if code := s.browser().login("nina", password); code != http.StatusUnauthorized {
		t.Errorf("old password: %d", code)
	}
	if code := s.browser().login("nina", newPassword); code != http.StatusSeeOther {
		t.Errorf("new password: %d", code)
	}
	for action, want := range map[string]int{"password.change": 1, "password.change_failed": 1} {
		if n := s.count(`SELECT count(*) FROM audit_log WHERE action = $1 AND actor = 'user:nina'`, action); n != want {
			t.Errorf("%s audited %d times, want %d", action, n, want)
		}
	}
}

// An admin disables a user, whose sessions end at once, and enables them
// again; nobody else may, and an admin may not disable themselves.
func TestDisableUser(t *testing.T) {
	s := newSite(t)
	admin, nina := s.browser(), s.browser()
	admin.login("admin", password)
	nina.login("nina", password)
	var ninaID int64
	if err := s.st.Pool().QueryRow(t.Context(), `SELECT id FROM users WHERE name = 'nina'`).Scan(&ninaID); err != nil {
		t.Fatal(err)
	}
	var adminID int64
	if err := s.st.Pool().QueryRow(t.Context(), `SELECT id FROM users WHERE name = 'admin'`).Scan(&adminID); err != nil {
		t.Fatal(err)
	}
	act := func(b *browser, id int64, action string) int {
		t.Helper()
		_, page, _ := b.get("/console/inbox")
		code, _, _ := b.post(fmt.Sprintf("/console/admin/users/%d/%s", id, action), url.Values{"csrf": {csrfOf(t, page)}})
		return code
	}
	if code, _, _ := nina.get("/console/admin/users"); code != http.StatusForbidden {
		t.Fatalf("handler lists users: %d", code)
	}
	if code := act(nina, ninaID, "disable"); code != http.StatusForbidden {
		t.Fatalf("handler disables a user: %d", code)
	}
	code, page, _ := admin.get("/console/admin/users")
	if code != http.StatusOK || !strings.Contains(page, `data-user="nina"`) || strings.Contains(page, "$2a$") {
		t.Fatalf("users page: %d\n%s", code, page)
	}
	if code := act(admin, adminID, "disable"); code != http.StatusBadRequest {
		t.Fatalf("admin disables themselves: %d", code)
	}
	if code := act(admin, ninaID, "disable"); code != http.StatusSeeOther {
		t.Fatalf("disable: %d", code)
	}
	if code, _, _ := nina.get("/console/inbox"); code != http.StatusSeeOther {
		t.Fatalf("disabled user's session still works: %d", code)
	}
	if n := s.count(`SELECT count(*) FROM sessions WHERE user_id = $1`, ninaID); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
	if code := s.browser().login("nina", password); code != http.StatusUnauthorized {
		t.Fatalf("disabled user logs in: %d", code)
	}
	if code := act(admin, ninaID, "enable"); code != http.StatusSeeOther {
		t.Fatalf("enable: %d", code)
	}
	if code := s.browser().login("nina", password); code != http.StatusSeeOther {
		t.Fatalf("enabled user cannot log in: %d", code)
	}
	for _, a := range []string{"user.disable", "user.enable", "users.view"} {
		if n := s.count(`SELECT count(*) FROM audit_log WHERE action = $1 AND actor = 'user:admin'`, a); n != 1 {
			t.Errorf("%s audited %d times", a, n)
		}
	}
}
