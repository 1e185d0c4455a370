-- An import is written in one transaction and committed once at the end, so
-- a file that fails part-way leaves nothing behind, not even a new cohort.
-- Its record is kept all the same (with its error): the record names the
-- cohort and links to it only once the import has committed.
ALTER TABLE imports ALTER COLUMN cohort_id DROP NOT NULL;
ALTER TABLE imports ADD COLUMN cohort_name text NOT NULL DEFAULT '';
UPDATE imports i SET cohort_name = c.name FROM cohorts c WHERE c.id = i.cohort_id;
