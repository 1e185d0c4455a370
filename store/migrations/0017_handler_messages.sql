-- A text a handler sends from the console names its sender, so the
-- patient's conversation says who wrote to them (the audit log says it
-- too). NULL for every message Protect itself sends or receives.
ALTER TABLE messages ADD COLUMN sent_by text;
