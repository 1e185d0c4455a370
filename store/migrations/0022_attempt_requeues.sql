-- The reconciler hands an attempt whose task was lost (a worker killed,
-- Redis flushed) to the queue again. It used to re-enqueue under the
-- attempt's own task ID, which the queue refuses while the lost task is
-- still there: a killed worker's task stays "active" until the queue's
-- recoverer notices (about two minutes), and one archived after its
-- retries keeps the ID for good, so the attempt waited minutes or for
-- ever. Each re-enqueue now takes a new generation (a new task ID), and
-- requeued_at makes one reconciler, not every worker's, do it per period.
ALTER TABLE attempts ADD COLUMN requeues integer NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN requeued_at timestamptz;
