package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Events count within the window, across concurrent callers, and drop out
// of it when the window has passed; Reset forgets them.
func TestWindowCounter(t *testing.T) {
	ctx := context.Background()
	c := NewWindowCounter(client(t), "test:window:")
	const window = 300 * time.Millisecond
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := c.Add(ctx, "sender", window); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, err := c.Add(ctx, "sender", window); err != nil || n != 11 {
		t.Fatalf("11th event: got %d, %v", n, err)
	}
	if n, err := c.Add(ctx, "other", window); err != nil || n != 1 {
		t.Fatalf("another key: got %d, %v", n, err)
	}
	time.Sleep(window + 50*time.Millisecond)
	if n, err := c.Add(ctx, "sender", window); err != nil || n != 1 {
		t.Fatalf("after the window: got %d, %v", n, err)
	}
	if err := c.Reset(ctx, "sender"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Add(ctx, "sender", window); err != nil || n != 1 {
		t.Fatalf("after reset: got %d, %v", n, err)
	}
	if _, err := c.Add(ctx, "sender", 0); err == nil {
		t.Fatal("a zero window was accepted")
	}
}
