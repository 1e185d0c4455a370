package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PlanPatient is what planning needs to know about a cohort member.
type PlanPatient struct {
	ID               int64
	Mobile           string
	MobileKind       string
	Landline         string
	LandlineKind     string
	PreferredChannel string
	OptedOut         bool
}

// PlanEntry is the plan for one patient: a first attempt, or an outcome
// reached without contact (opted out, no usable number).
type PlanEntry struct {
	Step    int
	Channel string
	To      string
	Due     time.Time
	Outcome string
	Reason  string
}

// PlanCampaign turns the campaign's cohort into campaign patients and first
// attempts, in one transaction, calling plan for each patient in ID order.
// It does nothing if the campaign was planned already, so a repeated start
// never plans twice. It returns how many patients were planned.
func (s *Store) PlanCampaign(ctx context.Context, campaignID int64, plan func(PlanPatient) PlanEntry) (int, error) {
	reader, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("plan: %w", err)
	}
	defer reader.Release()
	n := 0
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var cohortID int64
		var planned *time.Time
		err := tx.QueryRow(ctx, `SELECT cohort_id, planned_at FROM campaigns WHERE id = $1 FOR UPDATE`, campaignID).Scan(&cohortID, &planned)
		if err != nil {
			return fmt.Errorf("lock campaign: %w", err)
		}
		if planned != nil {
			return nil
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE plan_stage (
				patient_id bigint, step integer, channel text, to_number text, due_at timestamptz,
				outcome text, reason text) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("staging: %w", err)
		}
		rows, err := reader.Query(ctx, `SELECT p.id, coalesce(p.mobile, ''), coalesce(p.mobile_kind, ''),
				coalesce(p.landline, ''), coalesce(p.landline_kind, ''), p.preferred_channel, p.opted_out_at IS NOT NULL
			FROM cohort_members m JOIN patients p ON p.id = m.patient_id
			WHERE m.cohort_id = $1 ORDER BY p.id`, cohortID)
		if err != nil {
			return fmt.Errorf("read cohort: %w", err)
		}
		defer rows.Close()
		var pp PlanPatient
		src := &planSource{rows: rows, fn: func() ([]any, error) {
			if err := rows.Scan(&pp.ID, &pp.Mobile, &pp.MobileKind, &pp.Landline, &pp.LandlineKind, &pp.PreferredChannel, &pp.OptedOut); err != nil {
				return nil, err
			}
			e := plan(pp)
			n++
			if e.Outcome != "" {
				return []any{pp.ID, nil, nil, nil, nil, e.Outcome, e.Reason}, nil
			}
			return []any{pp.ID, e.Step, e.Channel, e.To, e.Due, nil, nil}, nil
		}}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"plan_stage"},
			[]string{"patient_id", "step", "channel", "to_number", "due_at", "outcome", "reason"}, src); err != nil {
			return fmt.Errorf("stage plan: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO campaign_patients (campaign_id, patient_id, state, outcome, outcome_reason, step, outcome_at)
			SELECT $1, patient_id, CASE WHEN outcome IS NULL THEN 'pending' ELSE 'done' END, outcome,
				coalesce(reason, ''), coalesce(step, 0), CASE WHEN outcome IS NULL THEN NULL ELSE now() END
			FROM plan_stage`, campaignID); err != nil {
			return fmt.Errorf("campaign patients: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO attempts (campaign_id, patient_id, step, channel, to_number, due_at)
			SELECT $1, patient_id, step, channel, to_number, due_at FROM plan_stage WHERE outcome IS NULL`, campaignID); err != nil {
			return fmt.Errorf("attempts: %w", err)
		}
		// Patients nobody can contact go to a person straight away.
		if _, err := tx.Exec(ctx, `INSERT INTO needs (campaign_id, patient_id, category, priority, detail)
			SELECT $1, patient_id, 'unreachable', 'normal', reason FROM plan_stage WHERE outcome = 'unreachable'`, campaignID); err != nil {
			return fmt.Errorf("needs: %w", err)
		}
		_, err = tx.Exec(ctx, `UPDATE campaigns SET planned_at = now() WHERE id = $1`, campaignID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("plan campaign %d: %w", campaignID, err)
	}
	return n, nil
}

type planSource struct {
	rows pgx.Rows
	fn   func() ([]any, error)
	vals []any
	err  error
}

func (p *planSource) Next() bool {
	if !p.rows.Next() {
		return false
	}
	p.vals, p.err = p.fn()
	return p.err == nil
}

func (p *planSource) Values() ([]any, error) { return p.vals, p.err }

func (p *planSource) Err() error {
	if p.err != nil {
		return p.err
	}
	return p.rows.Err()
}
