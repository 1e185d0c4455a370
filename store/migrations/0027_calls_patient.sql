-- A patient's conversation lists the identity checks of their calls.
CREATE INDEX calls_patient_idx ON calls (patient_id);
