-- Template tests go only to phones their sender has verified: a number is
-- added with a one-time code sent to it by SMS and becomes usable once the
-- code is typed back. The code is kept only as a bcrypt hash, for ten
-- minutes and a few tries.
CREATE TABLE test_phones (
    id              bigserial PRIMARY KEY,
    actor           text NOT NULL,
    e164            text NOT NULL,
    code_hash       bytea,
    code_expires_at timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    verified_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor, e164)
);
