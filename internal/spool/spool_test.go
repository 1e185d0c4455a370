package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func entry(i int, key string) Entry {
	return Entry{Kind: "sms", Key: key, Received: time.Unix(1_700_000_000+int64(i), 0).UTC(),
		Form: fmt.Sprintf("MessageSid=SM%032d&Body=reply+%d", i, i)}
}

func forms(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Form)
	}
	return out
}

func open(t *testing.T, dir string, o Options) *Spool {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A process that dies leaves its file; the next one adopts what was not
// acknowledged, in order, whatever the state of the file's last frame.
func TestAdoptAfterCrash(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"clean", nil},
		{"torn header", []byte{0, 0}},
		{"torn payload", encodeFrame([]byte(`R{"seq":99,"kind":"sms","form":"x"}`))[:20]},
		{"bad checksum", func() []byte {
			b := encodeFrame([]byte(`R{"seq":99,"kind":"sms","form":"x"}`))
			b[len(b)-1] ^= 1
			return b
		}()},
		{"zero length", make([]byte, 16)},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range 5 {
				e := entry(i, fmt.Sprint("+44770090000", i%2))
				if err := s.Append(e); err != nil {
					t.Fatal(err)
				}
				if i != 1 {
					want = append(want, e.Form)
				}
			}
			if err := s.Ack(s.Pending()[1].Seq); err != nil {
				t.Fatal(err)
			}
			path := s.Path()
			// kill -9 mid-write: the lock goes with the process, the
			// file keeps a torn frame.
			s.Close()
			if tc.tail != nil {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write(tc.tail)
				f.Close()
			}
			next := open(t, dir, Options{})
			if got := forms(next.Pending()); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("adopted %q, want %q", got, want)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("dead process's file not removed: %v", err)
			}
			if !next.Holds("+447700900000") || next.Holds("+447700900009") {
				t.Error("keys of adopted entries not held")
			}
		})
	}
}

// A live process's file is never adopted by another.
func TestLiveFileNotAdopted(t *testing.T) {
	dir := t.TempDir()
	a := open(t, dir, Options{})
	if err := a.Append(entry(1, "k")); err != nil {
		t.Fatal(err)
	}
	b := open(t, dir, Options{})
	if n := len(b.Pending()); n != 0 {
		t.Fatalf("second spool adopted %d entries of a live one", n)
	}
	if n := len(a.Pending()); n != 1 {
		t.Fatalf("first spool has %d pending", n)
	}
}

// When everything is acknowledged the file is emptied; acknowledging out
// of order keeps the rest.
func TestAckTruncates(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	for i := range 3 {
		if err := s.Append(entry(i, "k")); err != nil {
			t.Fatal(err)
		}
	}
	p := s.Pending()
	for _, i := range []int{2, 0} {
		if err := s.Ack(p[i].Seq); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := os.Open(s.Path())
	left, _, err := ReadPending(f)
	f.Close()
	if err != nil || len(left) != 1 || left[0].Seq != p[1].Seq {
		t.Fatalf("file holds %v (%v), want only seq %d", left, err, p[1].Seq)
	}
	if err := s.Ack(p[1].Seq); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(s.Path()); fi.Size() != 0 {
		t.Errorf("file is %d bytes after every entry was acknowledged", fi.Size())
	}
	if d, oldest := s.Stats(); d != 0 || !oldest.IsZero() || s.Holds("k") {
		t.Errorf("stats after all acked: %d %v", d, oldest)
	}
}

// A spool that cannot write refuses the entry and keeps earlier ones
// intact: a full disk (/dev/full) and the size bound.
func TestWriteFailure(t *testing.T) {
	t.Run("disk full", func(t *testing.T) {
		s := open(t, t.TempDir(), Options{})
		if err := s.Append(entry(1, "k")); err != nil {
			t.Fatal(err)
		}
		full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
		if err != nil {
			t.Skip("no /dev/full:", err)
		}
		s.mu.Lock()
		live := s.f
		s.f = full
		s.mu.Unlock()
		if err := s.Append(entry(2, "k")); err == nil {
			t.Fatal("append to a full disk succeeded")
		}
		s.mu.Lock()
		s.f = live
		s.mu.Unlock()
		full.Close()
		if n := len(s.Pending()); n != 1 {
			t.Fatalf("%d pending, want 1", n)
		}
		f, _ := os.Open(s.Path())
		defer f.Close()
		if left, _, _ := ReadPending(f); len(left) != 1 {
			t.Fatalf("file holds %d entries, want 1", len(left))
		}
	})
	t.Run("bound", func(t *testing.T) {
		s := open(t, t.TempDir(), Options{MaxBytes: 200})
		if err := s.Append(entry(1, "k")); err != nil {
			t.Fatal(err)
		}
		err := s.Append(entry(2, "k"))
		if !errors.Is(err, ErrFull) {
			t.Fatalf("second append: %v, want ErrFull", err)
		}
		if n := len(s.Pending()); n != 1 {
			t.Fatalf("%d pending, want 1", n)
		}
	})
}

// Concurrent appends share fsyncs and each is kept once.
func TestConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			if err := s.Append(entry(i, fmt.Sprint(i%4))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s.Close()
	next := open(t, dir, Options{})
	seen := map[string]bool{}
	for _, e := range next.Pending() {
		seen[e.Form] = true
	}
	if len(seen) != 64 {
		t.Fatalf("%d distinct entries adopted, want 64", len(seen))
	}
}

func TestOpenRefusesUnusableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(file, Options{}); err == nil {
		t.Fatal("opened a spool in a regular file")
	}
}

// The decoder never panics and never returns more than it was given.
func FuzzReadPending(f *testing.F) {
	var buf bytes.Buffer
	buf.Write(encodeFrame([]byte(`R{"seq":1,"kind":"sms","key":"+447700900001","received":"2026-01-01T00:00:00Z","form":"Body=yes"}`)))
	buf.Write(encodeFrame([]byte(`R{"seq":2,"kind":"sms_status","query":"attempt=1","form":"MessageStatus=delivered"}`)))
	buf.Write(encodeFrame([]byte{typeAck, 0, 0, 0, 0, 0, 0, 0, 1}))
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-3])
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 'R'})
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, good, err := ReadPending(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if good < 0 || good > int64(len(data)) {
			t.Fatalf("good length %d of %d bytes", good, len(data))
		}
		// What was read reads the same from the good prefix alone.
		again, good2, _ := ReadPending(bytes.NewReader(data[:good]))
		if good2 != good || len(again) != len(entries) {
			t.Fatalf("prefix reads differently: %d/%d entries, %d/%d bytes", len(again), len(entries), good2, good)
		}
		for _, e := range entries {
			if e.Seq == 0 || e.Kind == "" {
				t.Fatalf("invalid entry decoded: %+v", e)
			}
		}
	})
}
