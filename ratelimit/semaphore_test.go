package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSemaphore(t *testing.T) {
	ctx := context.Background()
	s := NewSemaphore(client(t), "test:sem:")
	const key, limit, lease = "caller", 2, time.Minute
	steps := []struct {
		op     string // acquire, release, extend
		holder string
		want   bool
		count  int
	}{
		{"acquire", "CA1", true, 1},
		{"acquire", "CA2", true, 2},
		{"acquire", "CA3", false, 2},
		{"acquire", "CA1", true, 2}, // the same holder again: no second place
		{"extend", "CA2", true, 2},
		{"extend", "CA3", false, 2},
		{"release", "CA1", true, 1},
		{"release", "CA1", false, 1},
		{"acquire", "CA3", true, 2},
		{"acquire", "CA1", false, 2},
		{"release", "CA2", true, 1},
		{"release", "CA3", true, 0},
	}
	for i, st := range steps {
		var got bool
		var err error
		switch st.op {
		case "acquire":
			got, err = s.Acquire(ctx, key, limit, lease, st.holder)
		case "release":
			got, err = s.Release(ctx, key, st.holder)
		case "extend":
			got, err = s.Extend(ctx, key, st.holder, lease)
		}
		if err != nil {
			t.Fatalf("step %d %s %s: %v", i, st.op, st.holder, err)
		}
		if got != st.want {
			t.Errorf("step %d %s %s = %v, want %v", i, st.op, st.holder, got, st.want)
		}
		if n, err := s.Count(ctx, key); err != nil || n != st.count {
			t.Errorf("step %d: Count = %d, %v; want %d", i, n, err, st.count)
		}
	}
}

func TestSemaphoreLease(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	s := NewSemaphore(rdb, "test:sem:")
	const key, lease = "lease", 150 * time.Millisecond
	for _, h := range []string{"crashed", "alive"} {
		if ok, err := s.Acquire(ctx, key, 2, lease, h); !ok || err != nil {
			t.Fatalf("Acquire %s = %v, %v", h, ok, err)
		}
	}
	if ttl, err := rdb.PTTL(ctx, "test:sem:lease").Result(); err != nil || ttl <= 0 || ttl > lease {
		t.Errorf("key PTTL = %s, %v; want up to %s", ttl, err, lease)
	}
	if ok, _ := s.Acquire(ctx, key, 2, lease, "waiting"); ok {
		t.Fatal("acquired a third place with a limit of 2")
	}
	// "alive" renews its lease; "crashed" does not.
	for range 3 {
		time.Sleep(lease / 3)
		if ok, err := s.Extend(ctx, key, "alive", lease); !ok || err != nil {
			t.Fatalf("Extend alive = %v, %v", ok, err)
		}
	}
	if n, _ := s.Count(ctx, key); n != 1 {
		t.Errorf("after the crashed holder's lease: Count = %d, want 1", n)
	}
	if ok, _ := s.Extend(ctx, key, "crashed", lease); ok {
		t.Error("Extend revived an expired holder")
	}
	if ok, _ := s.Acquire(ctx, key, 2, lease, "waiting"); !ok {
		t.Error("the crashed holder's place was not freed")
	}
	// With no one renewing, the key itself goes.
	time.Sleep(lease + 20*time.Millisecond)
	if n, _ := s.Count(ctx, key); n != 0 {
		t.Errorf("Count = %d after every lease ran out", n)
	}
	if n, _ := rdb.Exists(ctx, "test:sem:lease").Result(); n != 0 {
		t.Error("key still there after every lease ran out")
	}
}

// TestSemaphoreConcurrent races holders from separate connections, as
// separate workers would be, for a few places.
func TestSemaphoreConcurrent(t *testing.T) {
	ctx := context.Background()
	const holders, limit = 20, 5
	var got atomic.Int32
	var wg sync.WaitGroup
	for i := range holders {
		s := NewSemaphore(client(t), "test:sem:")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 { // retried tasks acquire again
				ok, err := s.Acquire(ctx, "busy", limit, time.Minute, fmt.Sprintf("attempt-%d", i))
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					got.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n, _ := NewSemaphore(client(t), "test:sem:").Count(ctx, "busy"); n != limit {
		t.Errorf("Count = %d, want %d", n, limit)
	}
	if got.Load() != limit*3 {
		t.Errorf("%d successful acquires, want %d (the %d holders, three times each)", got.Load(), limit*3, limit)
	}
}

func TestSemaphoreErrors(t *testing.T) {
	ctx := context.Background()
	s := NewSemaphore(client(t), "test:sem:")
	tests := []struct {
		key, holder string
		limit       int
		lease       time.Duration
	}{
		{"", "h", 1, time.Second},
		{"k", "", 1, time.Second},
		{"k", "h", 0, time.Second},
		{"k", "h", 1, 0},
		{"k", "h", 1, time.Microsecond},
	}
	for _, tt := range tests {
		if _, err := s.Acquire(ctx, tt.key, tt.limit, tt.lease, tt.holder); err == nil {
			t.Errorf("Acquire(%q, %d, %s, %q): no error", tt.key, tt.limit, tt.lease, tt.holder)
		}
	}
	if _, err := s.Extend(ctx, "k", "h", 0); err == nil {
		t.Error("Extend with no lease: no error")
	}
}
