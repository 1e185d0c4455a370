package sandbox

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// scheduler runs delayed tasks on a fixed pool of workers. A task that
// schedules its successor keeps a message's steps in order without holding
// a goroutine while it waits. clear drops queued tasks and makes running
// ones unable to schedule successors (used by Reset).
type scheduler struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}
	ready  chan *task

	mu      sync.Mutex
	queue   taskHeap
	seq     uint64
	gen     uint64
	pending int           // queued, handed over or running
	idle    chan struct{} // closed while pending == 0
	closed  bool
}

type task struct {
	due time.Time
	seq uint64
	gen uint64
	run func(ctx context.Context)
}

type genKey struct{}

func newScheduler(workers int) *scheduler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &scheduler{
		ctx:    ctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		ready:  make(chan *task),
		idle:   make(chan struct{}),
	}
	close(s.idle)
	s.wg.Add(1 + workers)
	go s.dispatch()
	for range workers {
		go s.work()
	}
	return s
}

// after runs fn after d. Called from inside a task (ctx from that task), it
// does nothing if the scheduler was cleared since that task was queued.
func (s *scheduler) after(ctx context.Context, d time.Duration, fn func(ctx context.Context)) {
	s.mu.Lock()
	gen := s.gen
	if g, ok := ctx.Value(genKey{}).(uint64); ok {
		gen = g
	}
	if s.closed || gen != s.gen {
		s.mu.Unlock()
		return
	}
	s.seq++
	heap.Push(&s.queue, &task{due: time.Now().Add(d), seq: s.seq, gen: gen, run: fn})
	s.addPending(1)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// addPending must be called with mu held.
func (s *scheduler) addPending(n int) {
	before := s.pending
	s.pending += n
	switch {
	case before == 0 && s.pending > 0:
		s.idle = make(chan struct{})
	case before > 0 && s.pending <= 0:
		s.pending = 0
		close(s.idle)
	}
}

func (s *scheduler) dispatch() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var next *task
		wait := time.Hour
		if len(s.queue) > 0 {
			if d := time.Until(s.queue[0].due); d <= 0 {
				next = heap.Pop(&s.queue).(*task)
			} else {
				wait = d
			}
		}
		s.mu.Unlock()
		if next != nil {
			select {
			case s.ready <- next:
			case <-s.ctx.Done():
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-s.wake:
		case <-timer.C:
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *scheduler) work() {
	defer s.wg.Done()
	for {
		select {
		case t := <-s.ready:
			t.run(context.WithValue(s.ctx, genKey{}, t.gen))
			s.mu.Lock()
			s.addPending(-1)
			s.mu.Unlock()
		case <-s.ctx.Done():
			return
		}
	}
}

// clear drops every queued task.
func (s *scheduler) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	n := len(s.queue)
	s.queue = nil
	s.addPending(-n)
}

// waitIdle waits until no task is queued or running.
func (s *scheduler) waitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		idle, pending := s.idle, s.pending
		s.mu.Unlock()
		if pending == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close drops queued tasks, cancels the context of running ones and waits
// for them to return.
func (s *scheduler) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.clear()
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	s.addPending(-s.pending)
	s.mu.Unlock()
}

type taskHeap []*task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h taskHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)   { *h = append(*h, x.(*task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
