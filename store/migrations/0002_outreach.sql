-- Outreach: questionnaires, campaigns, each patient's journey through a
-- campaign, attempts (one message or call each), messages, answers and needs.

CREATE TABLE questionnaires (
    id          bigserial PRIMARY KEY,
    key         text NOT NULL,
    version     integer NOT NULL,
    checksum    text NOT NULL,
    title       text NOT NULL,
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (key, version),
    UNIQUE (key, checksum)
);

CREATE TABLE campaigns (
    id                bigserial PRIMARY KEY,
    name              text NOT NULL UNIQUE CHECK (name <> ''),
    cohort_id         bigint NOT NULL REFERENCES cohorts (id),
    questionnaire_id  bigint NOT NULL REFERENCES questionnaires (id),
    sender            text NOT NULL,          -- E.164 number or messaging service SID (MG...)
    voice_sender      text NOT NULL DEFAULT '',
    programme_name    text NOT NULL DEFAULT 'NHS Protect',
    state             text NOT NULL DEFAULT 'draft'
                      CHECK (state IN ('draft', 'running', 'paused', 'cancelled', 'completed')),
    calling_window    jsonb NOT NULL,
    pace              double precision NOT NULL CHECK (pace > 0 AND pace <= 1000),
    policy            jsonb NOT NULL,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    planned_at        timestamptz,
    finished_at       timestamptz,
    state_changed_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per patient per campaign: where they stand. outcome is set exactly
-- once, when the patient's journey ends.
CREATE TABLE campaign_patients (
    campaign_id     bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    patient_id      bigint NOT NULL REFERENCES patients (id),
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'contacting', 'conversing', 'done')),
    outcome         text CHECK (outcome IN ('fine', 'need', 'opted_out', 'unreachable')),
    outcome_reason  text NOT NULL DEFAULT '',
    step            integer NOT NULL DEFAULT 0,       -- policy step of the latest attempt
    conversation    jsonb,                            -- questionnaire state
    channel         text,                             -- channel of the open conversation
    contact_number  text,                             -- number the conversation is on
    wait_until      timestamptz,                      -- when silence moves the patient on
    last_activity   timestamptz,
    outcome_at      timestamptz,
    PRIMARY KEY (campaign_id, patient_id),
    CHECK ((state = 'done') = (outcome IS NOT NULL))
);
CREATE INDEX campaign_patients_wait_idx ON campaign_patients (wait_until) WHERE state IN ('contacting', 'conversing');
CREATE INDEX campaign_patients_number_idx ON campaign_patients (contact_number, last_activity) WHERE state <> 'done';
CREATE INDEX campaign_patients_patient_idx ON campaign_patients (patient_id);

-- An attempt is one message or call. A worker claims it (state sending)
-- before calling Twilio, so a repeated task never sends twice.
CREATE TABLE attempts (
    id             bigserial PRIMARY KEY,
    campaign_id    bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    patient_id     bigint NOT NULL REFERENCES patients (id),
    step           integer NOT NULL,
    channel        text NOT NULL CHECK (channel IN ('sms', 'voice')),
    to_number      text NOT NULL,
    due_at         timestamptz NOT NULL,
    state          text NOT NULL DEFAULT 'planned'
                   CHECK (state IN ('planned', 'queued', 'sending', 'retry', 'sent', 'delivered',
                                    'undelivered', 'failed', 'cancelled',
                                    'answered', 'unanswered', 'completed')),
    queued_at      timestamptz,
    claimed_at     timestamptz,
    lease_until    timestamptz,
    tries          integer NOT NULL DEFAULT 0,
    provider_sid   text UNIQUE,
    body           text,
    error_code     integer,
    error_message  text NOT NULL DEFAULT '',
    sent_at        timestamptz,
    status_at      timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, patient_id, step)
);
CREATE INDEX attempts_due_idx ON attempts (campaign_id, due_at, id) WHERE state = 'planned';
CREATE INDEX attempts_queued_idx ON attempts (queued_at) WHERE state = 'queued';
CREATE INDEX attempts_sending_idx ON attempts (lease_until) WHERE state IN ('sending', 'retry');
CREATE INDEX attempts_patient_idx ON attempts (patient_id);

-- Every SMS in or out, for the patient's timeline. Inbound messages are
-- kept whether or not they matched anyone: nothing is dropped.
CREATE TABLE messages (
    id            bigserial PRIMARY KEY,
    direction     text NOT NULL CHECK (direction IN ('in', 'out')),
    provider_sid  text UNIQUE,
    patient_id    bigint REFERENCES patients (id),
    campaign_id   bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    attempt_id    bigint REFERENCES attempts (id) ON DELETE SET NULL,
    from_number   text NOT NULL,
    to_number     text NOT NULL,
    body          text NOT NULL,
    kind          text NOT NULL DEFAULT '',   -- question, advice, help, opt_out, reply, unmatched ...
    needs_human   boolean NOT NULL DEFAULT false,
    reply         text,                       -- TwiML we answered with, replayed if Twilio retries
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_patient_idx ON messages (patient_id, created_at);
CREATE INDEX messages_needs_human_idx ON messages (created_at) WHERE needs_human;

-- Status callbacks seen, so a repeated one is processed once.
CREATE TABLE status_events (
    provider_sid  text NOT NULL,
    status        text NOT NULL,
    attempt_id    bigint,
    error_code    integer,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider_sid, status)
);

CREATE TABLE answers (
    id              bigserial PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    patient_id      bigint NOT NULL REFERENCES patients (id),
    attempt_id      bigint REFERENCES attempts (id) ON DELETE SET NULL,
    message_id      bigint REFERENCES messages (id),
    channel         text NOT NULL,
    question        text NOT NULL,
    option_key      text NOT NULL,
    raw             text NOT NULL,
    answered_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX answers_patient_idx ON answers (patient_id, answered_at);

-- A need reported by a patient (or found by the system: an unclear reply, a
-- patient never reached). Escalation routing reads these.
CREATE TABLE needs (
    id           bigserial PRIMARY KEY,
    campaign_id  bigint REFERENCES campaigns (id) ON DELETE CASCADE,
    patient_id   bigint NOT NULL REFERENCES patients (id),
    category     text NOT NULL,
    priority     text NOT NULL CHECK (priority IN ('urgent', 'high', 'normal', 'low')),
    answer_id    bigint REFERENCES answers (id),
    message_id   bigint REFERENCES messages (id),
    detail       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX needs_patient_idx ON needs (patient_id, created_at);
CREATE INDEX needs_created_idx ON needs (created_at);

-- GP practices: names and phone numbers used in messages (a practice code
-- with no row here is called "your GP practice").
CREATE TABLE practices (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    phone       text NOT NULL DEFAULT '',
    locality    text NOT NULL DEFAULT ''
);

ALTER TABLE campaigns ADD COLUMN team_phone text NOT NULL DEFAULT '';
