-- Foundation: cohorts, patients, imports and the audit log.

CREATE TABLE cohorts (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A patient is identified by their NHS number. Phone numbers are E.164 with
-- the kind the number really is (a landline written in the mobile column is
-- kept, as a landline). A patient with neither number has no contact route
-- and is followed up by a human.
CREATE TABLE patients (
    id                 bigserial PRIMARY KEY,
    nhs_number         char(10) NOT NULL UNIQUE,
    given_name         text NOT NULL,
    family_name        text NOT NULL,
    date_of_birth      date NOT NULL,
    mobile             text,
    mobile_kind        text CHECK (mobile_kind IN ('mobile', 'landline')),
    landline           text,
    landline_kind      text CHECK (landline_kind IN ('mobile', 'landline')),
    gp_practice_code   text NOT NULL DEFAULT '',
    locality           text NOT NULL DEFAULT '',
    language           text NOT NULL DEFAULT 'en',
    preferred_channel  text NOT NULL DEFAULT '' CHECK (preferred_channel IN ('', 'sms', 'voice')),
    contact_route      boolean GENERATED ALWAYS AS (mobile IS NOT NULL OR landline IS NOT NULL) STORED,
    opted_out_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((mobile IS NULL) = (mobile_kind IS NULL)),
    CHECK ((landline IS NULL) = (landline_kind IS NULL))
);
CREATE INDEX patients_mobile_idx ON patients (mobile) WHERE mobile IS NOT NULL;
CREATE INDEX patients_landline_idx ON patients (landline) WHERE landline IS NOT NULL;
CREATE INDEX patients_practice_idx ON patients (gp_practice_code);
CREATE INDEX patients_locality_idx ON patients (locality);

CREATE TABLE cohort_members (
    cohort_id   bigint NOT NULL REFERENCES cohorts (id) ON DELETE CASCADE,
    patient_id  bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cohort_id, patient_id)
);
CREATE INDEX cohort_members_patient_idx ON cohort_members (patient_id);

-- One row per import run, with its counts and the path of its report.
CREATE TABLE imports (
    id                bigserial PRIMARY KEY,
    cohort_id         bigint NOT NULL REFERENCES cohorts (id),
    file_name         text NOT NULL,
    actor             text NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    rows_read         integer NOT NULL DEFAULT 0,
    accepted          integer NOT NULL DEFAULT 0,
    updated           integer NOT NULL DEFAULT 0,
    unchanged         integer NOT NULL DEFAULT 0,
    no_contact_route  integer NOT NULL DEFAULT 0,
    rejected          integer NOT NULL DEFAULT 0,
    duplicates        integer NOT NULL DEFAULT 0,
    warnings          integer NOT NULL DEFAULT 0,
    report_path       text NOT NULL DEFAULT '',
    error             text NOT NULL DEFAULT ''
);

-- Every access to patient data and every action. Append-only: nothing in
-- the application updates or deletes it.
CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor         text NOT NULL,
    action        text NOT NULL,
    subject_type  text NOT NULL DEFAULT '',
    subject_id    text NOT NULL DEFAULT '',
    patient_id    bigint,
    details       jsonb NOT NULL DEFAULT '{}',
    remote_addr   text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_patient_idx ON audit_log (patient_id, at) WHERE patient_id IS NOT NULL;
