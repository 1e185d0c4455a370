-- Calls confirm who answered before any health question. A campaign says
-- how: 'dob' (the day and month of birth on the keypad), 'year' (the year
-- of birth) or 'off' (no check, as before).
ALTER TABLE campaigns ADD COLUMN identity_check text NOT NULL DEFAULT 'dob'
    CHECK (identity_check IN ('dob', 'year', 'off'));

-- identify: "if you are <first name>, press 1; if not, press 2";
-- verify: the date or year of birth is being asked.
ALTER TABLE calls DROP CONSTRAINT calls_phase_check;
ALTER TABLE calls ADD CONSTRAINT calls_phase_check
    CHECK (phase IN ('greeting', 'identify', 'verify', 'questions', 'operator', 'done'));

-- The check's tries and result (passed, failed, not-patient; '' while not
-- done). The digits typed are never stored, here or in call_steps.
ALTER TABLE calls ADD COLUMN identity_tries integer NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN identity_result text NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN identity_at timestamptz;

-- A transfer counts as answered only when the team member pressed 1 at
-- the whisper: Twilio reports a Dial whose whisper hung up as completed.
ALTER TABLE calls ADD COLUMN transfer_accepted boolean NOT NULL DEFAULT false;
