-- The answer to an inbound SMS normally goes back in the webhook's TwiML.
-- When the message had to be spooled (PostgreSQL unavailable) the webhook
-- answered nothing, and the answer goes by the REST API once the message is
-- applied. Each reply row names the inbound MessageSid it answers and its
-- place in the answer, so it is sent once: rest_state 'sending' (since
-- rest_at) marks a send begun, and a retry asks Twilio before sending again.
ALTER TABLE messages
    ADD COLUMN in_reply_to text,
    ADD COLUMN reply_part integer,
    ADD COLUMN rest_state text CHECK (rest_state IN ('sending', 'sent', 'failed')),
    ADD COLUMN rest_at timestamptz;
CREATE UNIQUE INDEX messages_in_reply_to_idx ON messages (in_reply_to, reply_part) WHERE in_reply_to IS NOT NULL;
