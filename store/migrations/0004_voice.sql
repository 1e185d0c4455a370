-- Voice calls. A call row is created when Twilio first fetches the answer
-- URL (it names the attempt); call_steps logs every webhook of the call's
-- dialog with the TwiML we answered, keyed by the sequence number carried
-- in each Gather or Dial action URL, so a webhook Twilio repeats is
-- answered the same way and applied once.
CREATE TABLE calls (
    call_sid     text PRIMARY KEY,
    attempt_id   bigint NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    campaign_id  bigint NOT NULL,
    patient_id   bigint NOT NULL,
    -- greeting: not yet confirmed to go on (nothing personal is said);
    -- questions: asking the questionnaire; operator: dialling the team;
    -- done: the dialog has ended.
    phase        text NOT NULL DEFAULT 'greeting'
                 CHECK (phase IN ('greeting', 'questions', 'operator', 'done')),
    seq          integer NOT NULL DEFAULT -1,   -- last step applied
    no_input     integer NOT NULL DEFAULT 0,    -- prompts in a row without a key press
    answered_by  text NOT NULL DEFAULT '',
    -- How the dialog ended: finished, handover, transferred, callback,
    -- voicemail, fax, no-input; '' while it runs (or if the person hung up).
    result       text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT '',      -- Twilio's final CallStatus
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_attempt_idx ON calls (attempt_id);

CREATE TABLE call_steps (
    call_sid    text NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    seq         integer NOT NULL,
    input       text NOT NULL DEFAULT '',
    twiml       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (call_sid, seq)
);
