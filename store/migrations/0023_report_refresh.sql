-- Report refreshes at scale (issue 14). A campaign's report is computed by
-- one process at a time: a worker claims the refresh with a row here, a
-- lease, so a process that dies mid-compute holds it only until
-- lease_until; it computes, stores the report and deletes the row. A row
-- claimed with one INSERT … ON CONFLICT, not a session advisory lock, so
-- the claim works through PgBouncer's transaction pooling.
CREATE TABLE campaign_report_claims (
    campaign_id  bigint PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    holder       text NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz NOT NULL
);

-- A cohort's size, kept by statement-level triggers (one update per
-- statement, however many rows it adds or removes), so the campaign list
-- and the cohort list do not count a million members per view.
ALTER TABLE cohorts ADD COLUMN members integer NOT NULL DEFAULT 0;
UPDATE cohorts c SET members = (SELECT count(*) FROM cohort_members m WHERE m.cohort_id = c.id);

CREATE FUNCTION cohort_members_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cohorts c SET members = c.members + n.n
    FROM (SELECT cohort_id, count(*) AS n FROM new_members GROUP BY cohort_id) n WHERE c.id = n.cohort_id;
    RETURN NULL;
END $$;

CREATE FUNCTION cohort_members_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cohorts c SET members = c.members - o.n
    FROM (SELECT cohort_id, count(*) AS n FROM old_members GROUP BY cohort_id) o WHERE c.id = o.cohort_id;
    RETURN NULL;
END $$;

CREATE TRIGGER cohort_members_added AFTER INSERT ON cohort_members
    REFERENCING NEW TABLE AS new_members FOR EACH STATEMENT EXECUTE FUNCTION cohort_members_added();
CREATE TRIGGER cohort_members_removed AFTER DELETE ON cohort_members
    REFERENCING OLD TABLE AS old_members FOR EACH STATEMENT EXECUTE FUNCTION cohort_members_removed();
