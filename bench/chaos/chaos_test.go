package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestQuick runs the small versions of every scenario (pgrestart only
// where PostgreSQL's server binaries are installed, soak only where
// PgBouncer is) against a protect binary built from this tree (or the one in
// PROTECT_CHAOS_BIN), with real processes, PostgreSQL and Redis. It needs
// redis-server on PATH; -short skips it.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("fault harness: skipped with -short (run it with `go run ./bench/chaos -quick`)")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("fault harness: no redis-server on PATH to give each run a Redis of its own")
	}
	p := Quick()
	p.Dir = t.TempDir()
	p.Bin = os.Getenv("PROTECT_CHAOS_BIN")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if p.Bin == "" {
		p.Bin = filepath.Join(p.Dir, "protect")
	}
	if err := prepare(ctx, &p, testWriter{t}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Bin); err != nil {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", p.Bin, "./cmd/protect")
		cmd.Dir = p.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			switch s.name {
			case "pgrestart":
				// A cluster of its own: initdb and postgres must be here.
				if _, err := findPGBin(); err != nil {
					t.Skipf("fault harness: %v", err)
				}
			case "soak":
				if _, err := os.Stat(pgbouncerBin); err != nil {
					t.Skipf("fault harness: no PgBouncer (%v)", err)
				}
			}
			r, err := s.run(ctx, p)
			if err != nil {
				t.Fatalf("harness: %v", err)
			}
			t.Log("\n" + r.String())
			for _, b := range r.Broken {
				t.Error(b)
			}
		})
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }
