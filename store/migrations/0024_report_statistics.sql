-- The report counts attempts by 15-minute bins of due_at and sent_at, and
-- by state: with statistics on those expressions the planner knows there
-- are a few thousand groups, not millions, and runs the count in parallel.
CREATE STATISTICS attempts_report_bins ON date_bin('15 minutes', due_at, timestamptz 'epoch'),
    date_bin('15 minutes', sent_at, timestamptz 'epoch'), state FROM attempts;

-- Fill them now rather than at autovacuum's next analyze.
ANALYZE attempts;
