-- A claimed escalation must be resolved by resolve_by (the routing file's
-- resolve SLA from the claim); past it the team and the claimer are alerted
-- again and the inbox marks it overdue. Escalations claimed before this
-- migration get a working day from now rather than an alert storm at once.

ALTER TABLE escalations ADD COLUMN resolve_by timestamptz;
UPDATE escalations SET resolve_by = greatest(claimed_at + interval '8 hours', now()) WHERE state = 'claimed';
CREATE INDEX escalations_resolve_by_idx ON escalations (resolve_by) WHERE state = 'claimed';
