-- An attempt's message is rendered once, before the first call to Twilio,
-- and every retry resends exactly that: the body (attempts.body, now set
-- before sending), the conversation state the message starts, the sender
-- it goes from and the step's wait, which starts only when Twilio accepts
-- the message or call. prepared_at set means an earlier try may have
-- reached Twilio, so a retry looks for its message or call first.
ALTER TABLE attempts
    ADD COLUMN prepared_at   timestamptz,
    ADD COLUMN conversation  jsonb,
    ADD COLUMN sent_from     text,
    ADD COLUMN wait          interval;

-- Senders whose sending is held because of an account or gateway fault
-- (bad credentials, suspended account, a rate-limit storm, the network
-- down): nothing is claimed for them until a probe succeeds. Kept here,
-- not in Redis, so a flushed Redis does not release a hold.
CREATE TABLE sender_holds (
    sender      text PRIMARY KEY,
    reason      text NOT NULL,
    error_code  integer,
    held_at     timestamptz NOT NULL DEFAULT now(),
    probe_at    timestamptz NOT NULL,
    probes      integer NOT NULL DEFAULT 0
);
