-- Escalations: every need reaches a team. One open escalation per patient
-- and category; later needs of the same kind join it. Teams are defined in
-- the routing file, so they are referred to here by key.

CREATE TABLE escalations (
    id             bigserial PRIMARY KEY,
    patient_id     bigint NOT NULL REFERENCES patients (id),
    campaign_id    bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    category       text NOT NULL CHECK (category <> ''),
    priority       text NOT NULL CHECK (priority IN ('urgent', 'high', 'normal', 'low')),
    priority_rank  smallint GENERATED ALWAYS AS (CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1
                                                  WHEN 'normal' THEN 2 ELSE 3 END) STORED,
    team           text NOT NULL,
    routed_team    text NOT NULL,               -- the team routing chose first
    tier           integer NOT NULL DEFAULT 0,  -- 0 at opening; +1 at each re-escalation or handover
    state          text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'claimed', 'resolved', 'duplicate')),
    claimed_by     text,
    claimed_at     timestamptz,
    outcome        text,
    closed_by      text,
    closed_at      timestamptz,
    duplicate_of   bigint REFERENCES escalations (id),
    need_count     integer NOT NULL DEFAULT 0,
    due_at         timestamptz NOT NULL,        -- claim by then, or it goes to the next tier
    opened_at      timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CHECK ((state = 'resolved') = (outcome IS NOT NULL)),
    CHECK ((state = 'duplicate') = (duplicate_of IS NOT NULL))
);
CREATE UNIQUE INDEX escalations_one_open_idx ON escalations (patient_id, category) WHERE state IN ('open', 'claimed');
CREATE INDEX escalations_inbox_idx ON escalations (team, priority_rank, opened_at) WHERE state IN ('open', 'claimed');
CREATE INDEX escalations_due_idx ON escalations (due_at) WHERE state = 'open';
CREATE INDEX escalations_patient_idx ON escalations (patient_id);

ALTER TABLE needs ADD COLUMN escalation_id bigint REFERENCES escalations (id);
CREATE INDEX needs_unescalated_idx ON needs (id) WHERE escalation_id IS NULL;
CREATE INDEX needs_escalation_idx ON needs (escalation_id);

-- What happened to an escalation: opened, need added, claimed, notes,
-- handed over, re-escalated, resolved, closed as duplicate.
CREATE TABLE escalation_events (
    id             bigserial PRIMARY KEY,
    escalation_id  bigint NOT NULL REFERENCES escalations (id) ON DELETE CASCADE,
    at             timestamptz NOT NULL,
    actor          text NOT NULL,
    kind           text NOT NULL,
    team           text NOT NULL DEFAULT '',
    detail         text NOT NULL DEFAULT ''
);
CREATE INDEX escalation_events_escalation_idx ON escalation_events (escalation_id, id);

-- Alerts to send (an outbox written in the same transaction as the change
-- that calls for them). Unique per escalation, tier, channel and target, so
-- an alert is sent once however often the work is repeated.
CREATE TABLE escalation_alerts (
    id             bigserial PRIMARY KEY,
    escalation_id  bigint NOT NULL REFERENCES escalations (id) ON DELETE CASCADE,
    tier           integer NOT NULL,
    team           text NOT NULL,
    channel        text NOT NULL CHECK (channel IN ('sms', 'webhook')),
    target         text NOT NULL,
    event          text NOT NULL,
    priority       text NOT NULL,
    state          text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    tries          integer NOT NULL DEFAULT 0,
    next_try_at    timestamptz NOT NULL DEFAULT now(),
    lease_until    timestamptz,
    provider_ref   text NOT NULL DEFAULT '',
    error          text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    sent_at        timestamptz,
    UNIQUE (escalation_id, tier, channel, target)
);
CREATE INDEX escalation_alerts_pending_idx ON escalation_alerts (next_try_at) WHERE state = 'pending';
CREATE INDEX escalation_alerts_sending_idx ON escalation_alerts (lease_until) WHERE state = 'sending';

-- The contact ledger: contacts made by teams outside Protect ("phoned by the
-- council, no answer"). Protect's own contacts are its attempts and messages.
CREATE TABLE contacts (
    id             bigserial PRIMARY KEY,
    patient_id     bigint NOT NULL REFERENCES patients (id),
    team           text NOT NULL,
    escalation_id  bigint REFERENCES escalations (id) ON DELETE SET NULL,
    method         text NOT NULL CHECK (method IN ('phone', 'sms', 'visit', 'letter', 'email', 'other')),
    outcome        text NOT NULL CHECK (outcome IN ('spoke', 'no_answer', 'left_message', 'wrong_number', 'declined', 'other')),
    note           text NOT NULL DEFAULT '',
    actor          text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_patient_idx ON contacts (patient_id, occurred_at);
CREATE INDEX contacts_occurred_idx ON contacts (occurred_at);

-- Console users. Passwords are bcrypt hashes.
CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL UNIQUE CHECK (name <> ''),
    password_hash  bytea NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'programme_lead', 'comms_lead', 'handler')),
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz
);

CREATE TABLE user_teams (
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    team     text NOT NULL,
    PRIMARY KEY (user_id, team)
);

-- API tokens that act for teams see only those teams' work.
CREATE TABLE api_token_teams (
    token_id  bigint NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    team      text NOT NULL,
    PRIMARY KEY (token_id, team)
);

-- Console sessions: only a hash of the cookie's secret is kept.
CREATE TABLE sessions (
    id_hash     bytea PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
