package store

import (
	"context"
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

// ImportRun records one import and writes its batches on a connection of its
// own, so the staging table is private to it.
type ImportRun struct {
	ID       int64
	CohortID int64
	conn     *pgxpool.Conn
}

// StartImport records the start of an import into a cohort.
func (s *Store) StartImport(ctx context.Context, cohortID int64, fileName, actor string) (*ImportRun, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("start import: %w", err)
	}
	run := &ImportRun{CohortID: cohortID, conn: conn}
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS import_stage (
			nhs_number char(10) PRIMARY KEY, given_name text, family_name text, date_of_birth date,
			mobile text, mobile_kind text, landline text, landline_kind text,
			gp_practice_code text, locality text, language text, preferred_channel text
		) ON COMMIT DELETE ROWS`); err != nil {
		conn.Release()
		return nil, fmt.Errorf("start import: staging table: %w", err)
	}
	err = conn.QueryRow(ctx, `INSERT INTO imports (cohort_id, file_name, actor) VALUES ($1, $2, $3) RETURNING id`,
		cohortID, fileName, actor).Scan(&run.ID)
	if err != nil {
		conn.Release()
		return nil, fmt.Errorf("start import: %w", err)
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

// WriteBatch writes validated rows in one transaction. The rows must have
// distinct NHS numbers.
func (r *ImportRun) WriteBatch(ctx context.Context, rows []PatientRow) (ImportCounts, error) {
	var c ImportCounts
	if len(rows) == 0 {
		return c, nil
	}
	err := pgx.BeginFunc(ctx, r.conn, func(tx pgx.Tx) error {
		src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			p := &rows[i]
			return []any{p.NHSNumber, p.GivenName, p.FamilyName, p.DateOfBirth,
				nullable(p.Mobile), nullable(p.MobileKind), nullable(p.Landline), nullable(p.LandlineKind),
				p.GPPracticeCode, p.Locality, p.Language, p.PreferredChannel}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_stage"}, stageColumns, src); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		return tx.QueryRow(ctx, upsertBatch, r.CohortID).Scan(&c.Accepted, &c.Updated, &c.Unchanged, &c.NoContactRoute)
	})
	if err != nil {
		return ImportCounts{}, fmt.Errorf("import batch: %w", err)
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

// Finish records the outcome of the run and releases its connection.
func (r *ImportRun) Finish(ctx context.Context, sum ImportSummary) error {
	defer r.conn.Release()
	_, err := r.conn.Exec(ctx, `UPDATE imports SET finished_at = now(), rows_read = $2, accepted = $3, updated = $4,
			unchanged = $5, no_contact_route = $6, rejected = $7, duplicates = $8, warnings = $9,
			report_path = $10, error = $11
		WHERE id = $1`, r.ID, sum.RowsRead, sum.Counts.Accepted, sum.Counts.Updated, sum.Counts.Unchanged,
		sum.Counts.NoContactRoute, sum.Rejected, sum.Duplicates, sum.Warnings, sum.ReportPath, sum.Error)
	if err != nil {
		return fmt.Errorf("finish import: %w", err)
	}
	return nil
}
