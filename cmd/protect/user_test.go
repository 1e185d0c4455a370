package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/store"
)

// TestMain runs the package's tests, or, when a test started this binary
// again as a child process with childArgs set, the protect command itself
// (see startChild).
func TestMain(m *testing.M) {
	if args := os.Getenv(childArgs); args != "" {
		os.Exit(runMain(strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(testdb.Main(m))
}

// cliEnv empties the package's database and points the commands at it.
func cliEnv(t *testing.T) {
	t.Helper()
	testdb.Reset(t)
	t.Setenv("PROTECT_DATABASE_URL", testdb.URL())
	t.Setenv("PROTECT_REDIS_URL", testdb.RedisURL())
	t.Setenv("PROTECT_LOG_LEVEL", "error")
}

// withStdin makes the CLI read passwords from text.
func withStdin(t *testing.T, text string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(text)
	w.Close()
	old := stdin
	stdin = r
	t.Cleanup(func() { stdin = old; r.Close() })
}

// protect user passwd, disable and enable change the user, end their
// sessions where they should and are audited.
func TestUserCommands(t *testing.T) {
	cliEnv(t)
	ctx := context.Background()
	st := testdb.Store(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("the first password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.CreateUser(ctx, "nina", store.RoleAdmin, hash, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	session := func() {
		if err := st.CreateSession(ctx, "secret-"+time.Now().String(), id, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args         []string
		stdin        string
		wantErr      string
		wantOut      string
		wantDisabled bool
		wantSessions int
	}{
		{[]string{"passwd", "nina"}, "short\n", "at least", "", false, 1},
		{[]string{"passwd", "nobody"}, "", `no user called "nobody"`, "", false, 1},
		{[]string{"passwd", "nina"}, "a new long password\n", "", "user nina has a new password; 1 session(s) ended", false, 0},
		{[]string{"disable", "nina"}, "", "", "user nina is disabled; 1 session(s) ended", true, 0},
		{[]string{"enable", "nina"}, "", "", "user nina is enabled; 0 session(s) ended", false, 1},
		{[]string{"disable"}, "", "usage: protect user", "", false, 1},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			st.Pool().Exec(ctx, `DELETE FROM sessions`) //nolint:errcheck
			session()
			withStdin(t, tc.stdin)
			var out, errOut bytes.Buffer
			err := cmdUser(ctx, tc.args, &out, &errOut)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
			} else if err != nil || !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("%v; output %q, want %q", err, out.String(), tc.wantOut)
			}
			u, err := st.UserByName(ctx, "nina")
			if err != nil {
				t.Fatal(err)
			}
			var sessions int
			st.Pool().QueryRow(ctx, `SELECT count(*) FROM sessions`).Scan(&sessions) //nolint:errcheck
			if u.Disabled != tc.wantDisabled || sessions != tc.wantSessions {
				t.Fatalf("disabled %v sessions %d, want %v %d", u.Disabled, sessions, tc.wantDisabled, tc.wantSessions)
			}
		})
	}
	u, _ := st.UserByName(ctx, "nina")
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte("a new long password")) != nil {
		t.Fatal("passwd did not set the password")
	}
	var n int
	st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action IN ('user.passwd', 'user.disable', 'user.enable')`).Scan(&n) //nolint:errcheck
	if n != 3 {
		t.Fatalf("%d user changes audited, want 3", n)
	}
}
