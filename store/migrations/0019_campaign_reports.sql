-- Campaign reports: each campaign's figures (funnel by channel, locality,
-- practice and language; needs; escalations by team; contacts and answers
-- per hour and day; what is planned next) computed in one pass and kept
-- here, so the console and the API read one row per view instead of
-- scanning millions of attempts. A refresh loop recomputes the reports of
-- active campaigns; computed_at tells the page how old its figures are.
CREATE TABLE campaign_reports (
    campaign_id  bigint PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    computed_at  timestamptz NOT NULL,
    took_ms      integer NOT NULL DEFAULT 0,
    report       jsonb NOT NULL
);

-- The report and the worklists read a campaign's answers, needs and
-- escalations; without these they would scan every campaign's rows.
CREATE INDEX answers_campaign_idx ON answers (campaign_id, patient_id);
CREATE INDEX needs_campaign_idx ON needs (campaign_id, category);
CREATE INDEX escalations_campaign_idx ON escalations (campaign_id);
-- Worklists: the patients of a campaign with an outcome.
CREATE INDEX campaign_patients_outcome_idx ON campaign_patients (campaign_id, outcome) WHERE outcome IS NOT NULL;
