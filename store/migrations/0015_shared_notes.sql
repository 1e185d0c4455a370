-- A note (escalation note or contact-ledger note) is seen by the team that
-- wrote it, admins and programme leads; its author may share it with every
-- team that sees the patient.
ALTER TABLE escalation_events ADD COLUMN shared boolean NOT NULL DEFAULT false;
ALTER TABLE contacts ADD COLUMN shared boolean NOT NULL DEFAULT false;
