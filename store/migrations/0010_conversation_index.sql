-- The inbound SMS lookup (an open SMS conversation on a number, newest
-- first) gets an index whose predicate is exactly its WHERE clause. With
-- the broader "state <> 'done'" index, the generic plan that a prepared
-- statement settles on could AND it with campaign_patients_wait_idx, which
-- covers every patient waiting to answer: each webhook then read the whole
-- of that index, so its cost grew with the campaign.
DROP INDEX campaign_patients_number_idx;
CREATE INDEX campaign_patients_sms_conversation_idx ON campaign_patients (contact_number, last_activity)
    WHERE state IN ('contacting', 'conversing') AND channel = 'sms';
