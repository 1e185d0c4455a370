-- protect:no-transaction
-- The inbox's page of open escalations in its order (priority, then age),
-- so an inbox with many open escalations reads its first 100 from the
-- index. Built concurrently: escalations keep being written meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS escalations_open_order_idx
    ON escalations (priority_rank, opened_at, id) WHERE state IN ('open', 'claimed');
