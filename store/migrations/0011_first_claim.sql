-- When an attempt was first claimed: a retried claim asks Twilio whether an
-- earlier try already sent its message or placed its call, and only what
-- Twilio created since then can be that try's (an earlier step's identical
-- reminder, or last step's call to the same number, cannot).
ALTER TABLE attempts ADD COLUMN first_claimed_at timestamptz;
