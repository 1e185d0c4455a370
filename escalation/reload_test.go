package escalation_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/protectnow/protect/escalation"
)

// ReloadRouting puts a valid file in use and keeps the old routing on any
// error, auditing both.
func TestReloadRouting(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	valid := testRouting("https://team.example/hook")
	tests := []struct {
		name    string
		write   string // "" removes the file
		wantErr string
		// wantTeam is a team that must be in use afterwards.
		wantTeam string
	}{
		{"valid change", strings.Replace(valid, "name: Duty manager", "name: Night duty manager", 1), "", "duty"},
		{"new team", valid + "", "", "norwich-council"},
		{"bad YAML", valid + "\n  - : [\n", "yaml", ""},
		{"unknown team in a rule", strings.Replace(valid, "team: practice-a}", "team: nobody}", 1), `no team "nobody"`, ""},
		{"missing file", "", "no such file", ""},
		{"drops a team with open escalations", strings.Replace(strings.Replace(valid,
			"  - key: norwich-council\n    name: Norwich council\n    kind: council\n    on_call: [\"+447700900024\"]\n", "", 1),
			"locality: Norwich, team: norwich-council", "locality: Norwich, team: county-council", 1),
			"norwich-council hold open escalations", ""},
	}
	// An open escalation with the Norwich council pins that team.
	e.need(e.patient("9434765919", "Norwich", ""), "food", "normal")
	e.intake()
	path := filepath.Join(t.TempDir(), "routing.yaml")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.svc.Routing()
			os.Remove(path)
			if tc.write != "" {
				if err := os.WriteFile(path, []byte(tc.write), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := e.svc.ReloadRouting(ctx, path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("valid file refused: %v", err)
				}
				if e.svc.Routing() == before || e.svc.Routing().Team(tc.wantTeam) == nil {
					t.Fatal("valid file not in use")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to mention %q", err, tc.wantErr)
			}
			if e.svc.Routing() != before {
				t.Fatal("routing replaced by an invalid file")
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'routing.reload'`); n != 2 {
		t.Fatalf("%d successful reloads audited, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'routing.reload_failed'`); n != 4 {
		t.Fatalf("%d refused reloads audited, want 4", n)
	}
}

// WatchRouting reloads when the file changes and on SIGHUP; a broken file
// leaves the routing in use.
func TestWatchRouting(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "routing.yaml")
	valid := testRouting("https://team.example/hook")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(valid)
	r, err := escalation.LoadRoutingFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SetRouting(r)
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { defer close(done); e.svc.WatchRouting(ctx, path, 10*time.Millisecond, hup) }()
	defer func() { cancel(); <-done }()

	// waitFor polls (the watcher looks every 10ms); the deadline only
	// catches a watcher that never acts.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen", what)
			}
		}
	}
	teamName := func() string { return e.svc.Routing().TeamName("duty") }

	write(strings.Replace(valid, "name: Duty manager", "name: Night duty", 1))
	waitFor("a changed file reloaded", func() bool { return teamName() == "Night duty" })

	write(strings.Replace(valid, "name: Duty manager", "name: Broken", 1) + "\nunknown: 1\n")
	waitFor("a broken file refused", func() bool {
		return e.count(`SELECT count(*) FROM audit_log WHERE action = 'routing.reload_failed'`) >= 1
	})
	if teamName() != "Night duty" {
		t.Fatalf("a broken file replaced the routing: duty is %q", teamName())
	}

	// Fixed and signalled: reloaded at once (or by the poll, whichever
	// comes first; either is a reload).
	write(strings.Replace(valid, "name: Duty manager", "name: Day duty", 1))
	hup <- syscall.SIGHUP
	waitFor("reloaded after the fix", func() bool { return teamName() == "Day duty" })
}
