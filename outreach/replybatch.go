package outreach

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/protectnow/protect/store"
)

// Inbound SMS from concurrent webhooks are handled in batches that share
// one transaction (store.HandleInboundBatch): under load, replies that
// arrive together cost one commit and two round trips between them rather
// than each. A batch takes what is already waiting and never waits for
// more, so a lone reply is handled at once.
const (
	// DefaultReplyBatch is the most replies handled in one transaction.
	DefaultReplyBatch = 32
	// replyLoops batch and write replies side by side: enough to overlap
	// one batch's commit with the next one's work, few enough to keep
	// PostgreSQL's connections for everything else.
	replyLoops = 4
	// replyLoopIdle is how long a loop waits for work before it stops.
	replyLoopIdle = 10 * time.Second
	// replyTimeout bounds one batch (Twilio gives up on a webhook after
	// 15 seconds).
	replyTimeout = 15 * time.Second
)

// replyJob is one inbound SMS waiting for its batch.
type replyJob struct {
	ctx  context.Context
	in   InboundSMS
	done chan replyDone
}

type replyDone struct {
	res store.InboundResult
	err error
}

// replyQueue feeds the reply loops.
type replyQueue struct {
	jobs    chan *replyJob
	size    int
	running atomic.Int32
}

func newReplyQueue(size int) *replyQueue {
	if size <= 0 {
		size = DefaultReplyBatch
	}
	return &replyQueue{jobs: make(chan *replyJob, 4096), size: size}
}

// handleReply queues in and waits for the batch it went in to commit.
func (e *Engine) handleReply(ctx context.Context, in InboundSMS) (store.InboundResult, error) {
	j := &replyJob{ctx: ctx, in: in, done: make(chan replyDone, 1)}
	select {
	case e.replies.jobs <- j:
	case <-ctx.Done():
		return store.InboundResult{}, fmt.Errorf("inbound %s: %w", in.SID, ctx.Err())
	}
	// Start a loop when fewer than replyLoops run. Sending before checking
	// means either this sees a loop that is stopping, or that loop sees
	// this job (replyLoop checks the queue after it stops counting
	// itself).
	for {
		n := e.replies.running.Load()
		if n >= replyLoops {
			break
		}
		if e.replies.running.CompareAndSwap(n, n+1) {
			go e.replyLoop()
			break
		}
	}
	select {
	case d := <-j.done:
		return d.res, d.err
	case <-ctx.Done():
		// The batch may still commit: Twilio's retry then finds the
		// message handled and gets the same answer.
		return store.InboundResult{}, fmt.Errorf("inbound %s: %w", in.SID, ctx.Err())
	}
}

// replyLoop takes batches off the queue until it has been idle a while.
func (e *Engine) replyLoop() {
	q := e.replies
	idle := time.NewTimer(replyLoopIdle)
	defer idle.Stop()
	var carry []*replyJob
	for {
		batch, next := e.gather(carry)
		carry = next
		if len(batch) == 0 {
			idle.Reset(replyLoopIdle)
			select {
			case j := <-q.jobs:
				carry = append(carry, j)
				continue
			case <-idle.C:
			}
			q.running.Add(-1)
			// A job queued as this loop stopped counting itself would
			// otherwise wait for the next webhook to start a loop.
			if len(q.jobs) == 0 || !q.rejoin() {
				return
			}
			continue
		}
		e.runReplies(batch)
	}
}

// rejoin counts a stopping loop back in, unless enough run already.
func (q *replyQueue) rejoin() bool {
	for {
		n := q.running.Load()
		if n >= replyLoops {
			return false
		}
		if q.running.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// gather makes a batch of what waits: the jobs carried over first, then
// the queue, without blocking. A second message from a number or a second
// delivery of a message goes to the next batch, so it sees what the first
// did. Jobs whose webhook has given up are dropped (Twilio retries them).
func (e *Engine) gather(carry []*replyJob) (batch, next []*replyJob) {
	froms, sids := map[string]bool{}, map[string]bool{}
	take := func(j *replyJob) {
		switch {
		case j.ctx.Err() != nil:
			j.done <- replyDone{err: fmt.Errorf("inbound %s: %w", j.in.SID, j.ctx.Err())}
		case len(batch) >= e.replies.size || froms[j.in.From] || sids[j.in.SID]:
			next = append(next, j)
		default:
			froms[j.in.From], sids[j.in.SID] = true, true
			batch = append(batch, j)
		}
	}
	for _, j := range carry {
		take(j)
	}
	for len(batch) < e.replies.size {
		select {
		case j := <-e.replies.jobs:
			take(j)
			continue
		default:
		}
		break
	}
	return batch, next
}

// runReplies handles a batch in one transaction. When it fails, each
// message is tried alone, so one message's trouble fails only its own
// webhook (which Twilio retries).
func (e *Engine) runReplies(batch []*replyJob) {
	ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
	defer cancel()
	ins := make([]store.Inbound, len(batch))
	for i, j := range batch {
		ins[i] = store.Inbound{SID: j.in.SID, From: j.in.From, To: j.in.To, Body: j.in.Body}
	}
	res, err := e.store.HandleInboundBatch(ctx, ins, func(i int, tx *store.InboundTx) (store.Reply, error) {
		return e.decide(ctx, tx, batch[i].in)
	})
	replyBatchSize.Observe(float64(len(batch)))
	if err != nil && len(batch) > 1 {
		e.logger.Warn("reply batch failed, handling its messages one by one", "size", len(batch), "error", err)
		for _, j := range batch {
			e.runReplies([]*replyJob{j})
		}
		return
	}
	for i, j := range batch {
		if err != nil {
			j.done <- replyDone{err: err}
			continue
		}
		j.done <- replyDone{res: res[i]}
	}
}
