-- Message templates managed by comms leads: every text Protect sends or
-- says, by key (wellbeing.ok), channel (sms, voice) and language (en, cy).
-- Each save is a new immutable version; a version goes live only when a
-- person with the approver right who did not write it approves it.
CREATE TABLE templates (
    id            bigserial PRIMARY KEY,
    key           text NOT NULL,
    channel       text NOT NULL CHECK (channel IN ('sms', 'voice')),
    language      text NOT NULL,
    purpose       text NOT NULL,
    -- live_version is the approved version sent now; only approval (and
    -- seeding, as approved version 1) sets it.
    live_version  integer,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (key, channel, language)
);
CREATE INDEX templates_purpose_idx ON templates (purpose, language);

-- state: draft -> pending -> approved | rejected; a draft or pending
-- version older than a newly approved one becomes superseded. An approved
-- version stays approved when a later one replaces it (it may be pinned).
CREATE TABLE template_versions (
    template_id    bigint NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    version        integer NOT NULL CHECK (version > 0),
    body           text NOT NULL,
    note           text NOT NULL DEFAULT '',
    author         text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    reverted_from  integer,
    state          text NOT NULL DEFAULT 'draft'
                   CHECK (state IN ('draft', 'pending', 'approved', 'rejected', 'superseded')),
    submitted_by   text,
    submitted_at   timestamptz,
    decided_by     text,
    decided_at     timestamptz,
    decision_note  text NOT NULL DEFAULT '',
    PRIMARY KEY (template_id, version),
    -- four eyes: nobody approves their own words (seeding is by "system")
    CHECK (state <> 'approved' OR author = 'system' OR decided_by IS DISTINCT FROM author)
);

ALTER TABLE templates ADD FOREIGN KEY (id, live_version) REFERENCES template_versions (template_id, version)
    DEFERRABLE INITIALLY DEFERRED;

-- Versions are immutable: only the review columns may change, and an
-- approved or rejected decision is final.
CREATE FUNCTION template_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.body <> OLD.body OR NEW.author <> OLD.author OR NEW.version <> OLD.version
       OR NEW.template_id <> OLD.template_id OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'template versions are immutable';
    END IF;
    IF OLD.state IN ('approved', 'rejected', 'superseded') AND NEW.state <> OLD.state THEN
        RAISE EXCEPTION 'template version % is already %', OLD.version, OLD.state;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER template_versions_immutable BEFORE UPDATE ON template_versions
    FOR EACH ROW EXECUTE FUNCTION template_versions_immutable();

-- The approver right: admins always have it; a comms lead has it when
-- listed here. actor is the name audit entries use ("token:NAME",
-- "user:NAME"), so it works for API tokens and console users alike.
CREATE TABLE template_approvers (
    actor       text PRIMARY KEY,
    granted_by  text NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now()
);

-- A campaign may pin template versions: "key:channel:language" -> version.
-- Keys not pinned use the live version at the time of sending.
ALTER TABLE campaigns ADD COLUMN template_pins jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(template_pins) = 'object');

-- Bumped whenever what is sent may change (an approval, a pin); text
-- caches compare it to know when to reload.
CREATE TABLE template_generation (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    generation  bigint NOT NULL DEFAULT 0
);
INSERT INTO template_generation DEFAULT VALUES;
