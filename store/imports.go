package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PatientRow is one validated row of a cohort extract. Empty strings stand
// for "none" in the optional fields.
type PatientRow struct {
	NHSNumber        string
	GivenName        string
	FamilyName       string
	DateOfBirth      time.Time
	Mobile           string
	MobileKind       string
	Landline         string
	LandlineKind     string
	GPPracticeCode   string
	Locality         string
	Language         string
	PreferredChannel string
}

// ImportCounts partitions the valid rows of a batch: a row with no contact
// route counts only under NoContactRoute.
type ImportCounts struct {
	Accepted       int
	Updated        int
	Unchanged      int
	NoContactRoute int
}

// Add sums counts.
func (c *ImportCounts) Add(o ImportCounts) {
	c.Accepted += o.Accepted
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.NoContactRoute += o.NoContactRoute
}

// ImportRun records one import and writes it in one transaction on a
// connection of its own (the staging table is private to it). Nothing it
// writes, not even a new cohort, is seen by anyone until Finish commits;
// the import's record is written outside that transaction, so a failed
// import is still recorded with its error.
type ImportRun struct {
	ID       int64
	CohortID int64
	store    *Store
	conn     *pgxpool.Conn
	tx       pgx.Tx
}

// StartImport records the start of an import into the named cohort and
// opens its transaction, in which the cohort is created if new. Another
// import into the same cohort waits until this one finishes.
func (s *Store) StartImport(ctx context.Context, cohort, fileName, actor string) (*ImportRun, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("start import: %w", err)
	}
	run := &ImportRun{store: s, conn: conn}
	err = conn.QueryRow(ctx, `INSERT INTO imports (cohort_id, cohort_name, file_name, actor)
		VALUES ((SELECT id FROM cohorts WHERE name = $1), $1, $2, $3) RETURNING id`,
		cohort, fileName, actor).Scan(&run.ID)
	if err != nil {
		conn.Release()
		return nil, fmt.Errorf("start import: %w", err)
	}
	if run.tx, err = conn.Begin(ctx); err == nil {
		// Created inside the transaction, never before it: through
		// PgBouncer in transaction pooling mode, a statement outside the
		// transaction may run on another server connection, where a
		// temporary table made there would not exist.
		_, err = run.tx.Exec(ctx, `CREATE TEMP TABLE import_stage (
			nhs_number char(10) PRIMARY KEY, given_name text, family_name text, date_of_birth date,
			mobile text, mobile_kind text, landline text, landline_kind text,
			gp_practice_code text, locality text, language text, preferred_channel text
		) ON COMMIT DROP`)
	}
	if err == nil {
		run.CohortID, err = ensureCohort(ctx, run.tx, cohort)
	}
	if err != nil {
		err = fmt.Errorf("start import: %w", err)
		return nil, errors.Join(err, run.Finish(context.WithoutCancel(ctx), ImportSummary{Error: err.Error()}))
	}
	return run, nil
}

var stageColumns = []string{"nhs_number", "given_name", "family_name", "date_of_birth",
	"mobile", "mobile_kind", "landline", "landline_kind",
	"gp_practice_code", "locality", "language", "preferred_channel"}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// upsertBatch inserts new patients, updates changed ones (leaving opt-outs
// alone), adds everyone to the cohort and counts what happened. Rows that
// change nothing are not written, so importing a file twice changes nothing.
const upsertBatch = `
WITH up AS (
    INSERT INTO patients AS p (nhs_number, given_name, family_name, date_of_birth,
        mobile, mobile_kind, landline, landline_kind, gp_practice_code, locality, language, preferred_channel)
    SELECT nhs_number, given_name, family_name, date_of_birth,
        mobile, mobile_kind, landline, landline_kind, gp_practice_code, locality, language, preferred_channel
    FROM import_stage
    ON CONFLICT (nhs_number) DO UPDATE SET
        given_name = EXCLUDED.given_name, family_name = EXCLUDED.family_name,
        date_of_birth = EXCLUDED.date_of_birth,
        mobile = EXCLUDED.mobile, mobile_kind = EXCLUDED.mobile_kind,
        landline = EXCLUDED.landline, landline_kind = EXCLUDED.landline_kind,
        gp_practice_code = EXCLUDED.gp_practice_code, locality = EXCLUDED.locality,
        language = EXCLUDED.language, preferred_channel = EXCLUDED.preferred_channel,
        updated_at = now()
    WHERE (p.given_name, p.family_name, p.date_of_birth, p.mobile, p.mobile_kind, p.landline,
           p.landline_kind, p.gp_practice_code, p.locality, p.language, p.preferred_channel)
       IS DISTINCT FROM
          (EXCLUDED.given_name, EXCLUDED.family_name, EXCLUDED.date_of_birth, EXCLUDED.mobile,
           EXCLUDED.mobile_kind, EXCLUDED.landline, EXCLUDED.landline_kind, EXCLUDED.gp_practice_code,
           EXCLUDED.locality, EXCLUDED.language, EXCLUDED.preferred_channel)
    RETURNING p.id, p.nhs_number, (p.xmax = 0) AS inserted
), members AS (
    INSERT INTO cohort_members (cohort_id, patient_id)
    SELECT $1::bigint, id FROM up
    UNION
    SELECT $1::bigint, p.id FROM import_stage s JOIN patients p ON p.nhs_number = s.nhs_number
    ON CONFLICT DO NOTHING
)
SELECT
    count(*) FILTER (WHERE (s.mobile IS NOT NULL OR s.landline IS NOT NULL) AND u.inserted),
    count(*) FILTER (WHERE (s.mobile IS NOT NULL OR s.landline IS NOT NULL) AND NOT u.inserted),
    count(*) FILTER (WHERE (s.mobile IS NOT NULL OR s.landline IS NOT NULL) AND u.id IS NULL),
    count(*) FILTER (WHERE s.mobile IS NULL AND s.landline IS NULL)
FROM import_stage s LEFT JOIN up u ON u.nhs_number = s.nhs_number`

// WriteBatch writes validated rows in the import's transaction. The rows
// must have distinct NHS numbers. After an error the run can only Finish.
func (r *ImportRun) WriteBatch(ctx context.Context, rows []PatientRow) (ImportCounts, error) {
	var c ImportCounts
	if len(rows) == 0 {
		return c, nil
	}
	src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		p := &rows[i]
		return []any{p.NHSNumber, p.GivenName, p.FamilyName, p.DateOfBirth,
			nullable(p.Mobile), nullable(p.MobileKind), nullable(p.Landline), nullable(p.LandlineKind),
			p.GPPracticeCode, p.Locality, p.Language, p.PreferredChannel}, nil
	})
	if _, err := r.tx.CopyFrom(ctx, pgx.Identifier{"import_stage"}, stageColumns, src); err != nil {
		return c, fmt.Errorf("import batch: copy: %w", err)
	}
	if err := r.tx.QueryRow(ctx, upsertBatch, r.CohortID).Scan(&c.Accepted, &c.Updated, &c.Unchanged, &c.NoContactRoute); err != nil {
		return ImportCounts{}, fmt.Errorf("import batch: %w", err)
	}
	// The stage holds one batch at a time; it is emptied at commit too.
	if _, err := r.tx.Exec(ctx, `TRUNCATE import_stage`); err != nil {
		return ImportCounts{}, fmt.Errorf("import batch: empty stage: %w", err)
	}
	return c, nil
}

// ImportSummary is what an import run records when it ends.
type ImportSummary struct {
	RowsRead   int
	Counts     ImportCounts
	Rejected   int
	Duplicates int
	Warnings   int
	ReportPath string
	Error      string
}

// Finish ends the run and releases its connection. Without an error in
// sum, it records the outcome and commits everything the run wrote in one
// go; with one (or when the commit fails), it rolls everything back and
// records the error, with nothing counted as imported. The record is
// always finished, and Finish returns the commit's or the record's error.
func (r *ImportRun) Finish(ctx context.Context, sum ImportSummary) error {
	defer r.conn.Release()
	const finish = `UPDATE imports SET finished_at = now(), cohort_id = $12, rows_read = $2, accepted = $3, updated = $4,
			unchanged = $5, no_contact_route = $6, rejected = $7, duplicates = $8, warnings = $9,
			report_path = $10, error = $11
		WHERE id = $1`
	var commitErr error
	if sum.Error == "" && r.tx != nil {
		_, err := r.tx.Exec(ctx, finish, r.ID, sum.RowsRead, sum.Counts.Accepted, sum.Counts.Updated, sum.Counts.Unchanged,
			sum.Counts.NoContactRoute, sum.Rejected, sum.Duplicates, sum.Warnings, sum.ReportPath, sum.Error, r.CohortID)
		if err == nil {
			err = r.tx.Commit(ctx)
		}
		if err == nil {
			return nil
		}
		commitErr = fmt.Errorf("import %d: commit: %w", r.ID, err)
		sum.Error = commitErr.Error()
	}
	var rbErr error
	if r.tx != nil {
		rbErr = r.tx.Rollback(ctx)
		if errors.Is(rbErr, pgx.ErrTxClosed) {
			rbErr = nil
		}
	}
	// Nothing was imported: only the rows read and rejected mean anything.
	sum.Counts = ImportCounts{}
	// The pool, not the run's connection, which may be what failed.
	_, err := r.store.pool.Exec(ctx, finish, r.ID, sum.RowsRead, 0, 0, 0, 0, sum.Rejected, sum.Duplicates, sum.Warnings,
		sum.ReportPath, sum.Error, nil)
	if err != nil {
		err = fmt.Errorf("finish import %d: %w", r.ID, err)
	}
	if rbErr != nil {
		rbErr = fmt.Errorf("import %d: roll back: %w", r.ID, rbErr)
	}
	return errors.Join(commitErr, err, rbErr)
}
