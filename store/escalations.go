package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// Escalation states.
const (
	EscalationOpen      = "open"
	EscalationClaimed   = "claimed"
	EscalationResolved  = "resolved"
	EscalationDuplicate = "duplicate"
)

// ErrEscalationState means an escalation was not in a state the change
// allows (claiming one already claimed, resolving one that is closed).
var ErrEscalationState = errors.New("escalation is not in a state that allows this")

// Escalation is a need (or several of the same kind) handed to a team.
type Escalation struct {
	ID          int64      `json:"id"`
	PatientID   int64      `json:"patient_id"`
	CampaignID  *int64     `json:"campaign_id,omitempty"`
	Category    string     `json:"category"`
	Priority    string     `json:"priority"`
	Team        string     `json:"team"`
	RoutedTeam  string     `json:"routed_team"`
	Tier        int        `json:"tier"`
	State       string     `json:"state"`
	ClaimedBy   string     `json:"claimed_by,omitempty"`
	ClaimedAt   *time.Time `json:"claimed_at,omitempty"`
	Outcome     string     `json:"outcome,omitempty"`
	ClosedBy    string     `json:"closed_by,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	DuplicateOf *int64     `json:"duplicate_of,omitempty"`
	NeedCount   int        `json:"need_count"`
	DueAt       time.Time  `json:"due_at"`
	// ResolveBy is when a claimed escalation must be resolved by.
	ResolveBy *time.Time `json:"resolve_by,omitempty"`
	OpenedAt  time.Time  `json:"opened_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	// Patient details for display; filled by the queries that join them.
	PatientName string `json:"patient_name,omitempty"`
	NHSNumber   string `json:"nhs_number,omitempty"`
	Locality    string `json:"locality,omitempty"`
	Practice    string `json:"gp_practice_code,omitempty"`
}

const escalationColumns = `e.id, e.patient_id, e.campaign_id, e.category, e.priority, e.team, e.routed_team, e.tier, e.state,
	coalesce(e.claimed_by, ''), e.claimed_at, coalesce(e.outcome, ''), coalesce(e.closed_by, ''), e.closed_at, e.duplicate_of,
	e.need_count, e.due_at, e.resolve_by, e.opened_at, e.updated_at,
	p.given_name || ' ' || p.family_name, p.nhs_number, p.locality, p.gp_practice_code`

const escalationFrom = `FROM escalations e JOIN patients p ON p.id = e.patient_id`

// Overdue reports whether the escalation is past its deadline at now: open
// and not claimed by its due time, or claimed and not resolved by its
// resolve-by time.
func (e Escalation) Overdue(now time.Time) bool {
	switch e.State {
	case EscalationOpen:
		return now.After(e.DueAt)
	case EscalationClaimed:
		return e.ResolveBy != nil && now.After(*e.ResolveBy)
	}
	return false
}

// Deadline is the escalation's current deadline: resolve-by when claimed,
// claim-by otherwise.
func (e Escalation) Deadline() time.Time {
	if e.State == EscalationClaimed && e.ResolveBy != nil {
		return *e.ResolveBy
	}
	return e.DueAt
}

// overdueSQL is Overdue in SQL, for the escalations table at $NOW.
const overdueSQL = `((state = 'open' AND due_at < %[1]s) OR (state = 'claimed' AND resolve_by < %[1]s))`

func scanEscalation(row pgx.Row) (Escalation, error) {
	var e Escalation
	err := row.Scan(&e.ID, &e.PatientID, &e.CampaignID, &e.Category, &e.Priority, &e.Team, &e.RoutedTeam, &e.Tier, &e.State,
		&e.ClaimedBy, &e.ClaimedAt, &e.Outcome, &e.ClosedBy, &e.ClosedAt, &e.DuplicateOf,
		&e.NeedCount, &e.DueAt, &e.ResolveBy, &e.OpenedAt, &e.UpdatedAt,
		&e.PatientName, &e.NHSNumber, &e.Locality, &e.Practice)
	return e, err
}

// PendingNeed is a need not yet part of an escalation, with what routing
// needs to know about the patient.
type PendingNeed struct {
	ID         int64
	PatientID  int64
	CampaignID *int64
	Category   string
	Priority   string
	Detail     string
	Locality   string
	Practice   string
}

// AlertTarget is one alert to send: an SMS to an on-call number or a
// webhook to a team's system.
type AlertTarget struct {
	Channel string // sms or webhook
	Target  string // E.164 number or URL
}

// Routing is where an escalation goes: decided by the caller for each need.
type Routing struct {
	// Team and Due place a new escalation, or move an existing one when
	// Move is set.
	Team string
	Due  time.Time
	// Priority is the escalation's priority after this need (a need of a
	// higher priority raises it).
	Priority string
	// Move sends an existing open escalation to Team at the next tier (a
	// need that raised it to urgent).
	Move bool
	// Alerts are created for the escalation's (new) tier.
	Alerts []AlertTarget
	Event  string
}

// EscalationChange reports what intake or a transition did to an
// escalation, so the caller can schedule its SLA check and send alerts.
type EscalationChange struct {
	EscalationID int64
	Tier         int
	Team         string
	Priority     string
	Due          time.Time
	Opened       bool
	Alerts       int
}

// EscalateNeeds turns up to limit needs that are not yet part of an
// escalation into escalations, in one transaction: each opens an escalation
// or joins the open one of its patient and category. route decides where a
// need goes given the open escalation it would join (nil when none). Needs
// locked by another worker are skipped, and a need is marked with its
// escalation in the same transaction, so each is escalated exactly once.
func (s *Store) EscalateNeeds(ctx context.Context, limit int, now time.Time, route func(PendingNeed, *Escalation) Routing) ([]EscalationChange, error) {
	var changes []EscalationChange
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT n.id, n.patient_id, n.campaign_id, n.category, n.priority, n.detail, p.locality, p.gp_practice_code
			FROM needs n JOIN patients p ON p.id = n.patient_id
			WHERE n.escalation_id IS NULL
			ORDER BY (n.priority = 'urgent') DESC, n.id
			LIMIT $1 FOR UPDATE OF n SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		needs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PendingNeed, error) {
			var n PendingNeed
			err := r.Scan(&n.ID, &n.PatientID, &n.CampaignID, &n.Category, &n.Priority, &n.Detail, &n.Locality, &n.Practice)
			return n, err
		})
		if err != nil {
			return err
		}
		// Lock escalations in one order in every worker, so two batches
		// never wait on each other in a cycle.
		sort.SliceStable(needs, func(i, j int) bool {
			if needs[i].PatientID != needs[j].PatientID {
				return needs[i].PatientID < needs[j].PatientID
			}
			return needs[i].Category < needs[j].Category
		})
		for _, n := range needs {
			c, err := escalateNeed(ctx, tx, n, now, route)
			if err != nil {
				return fmt.Errorf("need %d: %w", n.ID, err)
			}
			changes = append(changes, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("escalate needs: %w", err)
	}
	return changes, nil
}

func escalateNeed(ctx context.Context, tx pgx.Tx, n PendingNeed, now time.Time, route func(PendingNeed, *Escalation) Routing) (EscalationChange, error) {
	for range 3 {
		// Most needs open an escalation: try that first, in one statement.
		if c, ok, err := openEscalation(ctx, tx, n, now, route(n, nil)); err != nil || ok {
			return c, err
		}
		open, err := scanEscalation(tx.QueryRow(ctx, `SELECT `+escalationColumns+` `+escalationFrom+`
			WHERE e.patient_id = $1 AND e.category = $2 AND e.state IN ('open', 'claimed') FOR UPDATE OF e`, n.PatientID, n.Category))
		if errors.Is(err, pgx.ErrNoRows) {
			continue // closed a moment ago: open a new one
		}
		if err != nil {
			return EscalationChange{}, err
		}
		return joinEscalation(ctx, tx, n, now, open, route(n, &open))
	}
	return EscalationChange{}, errors.New("open escalation kept changing")
}

// openEscalation opens an escalation for the need with its event, alerts
// and the need's link, unless one of its kind is open already (ok false).
func openEscalation(ctx context.Context, tx pgx.Tx, n PendingNeed, now time.Time, r Routing) (EscalationChange, bool, error) {
	c := EscalationChange{Opened: true, Team: r.Team, Priority: r.Priority, Due: r.Due}
	channels, targets := make([]string, len(r.Alerts)), make([]string, len(r.Alerts))
	for i, a := range r.Alerts {
		channels[i], targets[i] = a.Channel, a.Target
	}
	err := tx.QueryRow(ctx, `WITH e AS (
			INSERT INTO escalations (patient_id, campaign_id, category, priority, team, routed_team, need_count, due_at, opened_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5, 1, $6, $7, $7)
			ON CONFLICT (patient_id, category) WHERE state IN ('open', 'claimed') DO NOTHING
			RETURNING id),
		ev AS (INSERT INTO escalation_events (escalation_id, at, actor, kind, team, detail)
			SELECT id, $7, 'system', 'opened', $5, $8 FROM e),
		nd AS (UPDATE needs SET escalation_id = e.id FROM e WHERE needs.id = $9),
		al AS (INSERT INTO escalation_alerts (escalation_id, tier, team, channel, target, event, priority, next_try_at, created_at)
			SELECT e.id, 0, $5, t.channel, t.target, 'escalation.opened', $4, $7, $7
			FROM e, unnest($10::text[], $11::text[]) AS t (channel, target)
			ON CONFLICT (escalation_id, tier, channel, target) DO NOTHING RETURNING 1)
		SELECT id, (SELECT count(*) FROM al) FROM e`,
		n.PatientID, n.CampaignID, n.Category, r.Priority, r.Team, r.Due, now, r.Event, n.ID, channels, targets).Scan(&c.EscalationID, &c.Alerts)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	return c, err == nil, err
}

// joinEscalation adds a need to the open escalation of its kind, raising
// its priority (and moving it to a new tier) when the routing says so.
func joinEscalation(ctx context.Context, tx pgx.Tx, n PendingNeed, now time.Time, open Escalation, r Routing) (EscalationChange, error) {
	c := EscalationChange{EscalationID: open.ID, Tier: open.Tier, Team: open.Team, Priority: r.Priority, Due: open.DueAt}
	if r.Move {
		c.Tier, c.Team, c.Due = open.Tier+1, r.Team, r.Due
	} else if r.Due.Before(open.DueAt) {
		c.Due = r.Due
	}
	if _, err := tx.Exec(ctx, `UPDATE escalations SET priority = $2, team = $3, tier = $4, due_at = $5,
			need_count = need_count + 1, updated_at = $6 WHERE id = $1`,
		open.ID, r.Priority, c.Team, c.Tier, c.Due, now); err != nil {
		return c, err
	}
	if err := addEvent(ctx, tx, open.ID, now, "system", "need-added", c.Team, r.Event); err != nil {
		return c, err
	}
	if r.Move {
		var err error
		if c.Alerts, err = addAlerts(ctx, tx, open.ID, now, c.Tier, c.Team, "escalation.raised", r.Priority, r.Alerts); err != nil {
			return c, err
		}
	}
	_, err := tx.Exec(ctx, `UPDATE needs SET escalation_id = $2 WHERE id = $1`, n.ID, open.ID)
	return c, err
}

func addEvent(ctx context.Context, tx pgx.Tx, id int64, at time.Time, actor, kind, team, detail string) error {
	_, err := tx.Exec(ctx, `INSERT INTO escalation_events (escalation_id, at, actor, kind, team, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, at, actor, kind, team, detail)
	if err != nil {
		return fmt.Errorf("escalation %d event %s: %w", id, kind, err)
	}
	return nil
}

func addAlerts(ctx context.Context, tx pgx.Tx, id int64, at time.Time, tier int, team, event, priority string, alerts []AlertTarget) (int, error) {
	n := 0
	for _, a := range alerts {
		tag, err := tx.Exec(ctx, `INSERT INTO escalation_alerts (escalation_id, tier, team, channel, target, event, priority, next_try_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (escalation_id, tier, channel, target) DO NOTHING`,
			id, tier, team, a.Channel, a.Target, event, priority, at)
		if err != nil {
			return n, fmt.Errorf("escalation %d alert: %w", id, err)
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}

// Escalation loads one escalation with its patient's name.
func (s *Store) Escalation(ctx context.Context, id int64) (Escalation, error) {
	e, err := scanEscalation(s.pool.QueryRow(ctx, `SELECT `+escalationColumns+` `+escalationFrom+` WHERE e.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, fmt.Errorf("escalation %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("escalation %d: %w", id, err)
	}
	return e, nil
}

// InboxQuery selects escalations for an inbox.
type InboxQuery struct {
	// Teams limits the inbox to these teams; nil means every team.
	Teams []string
	// Closed lists resolved and duplicate escalations instead of open ones.
	Closed bool
	Limit  int
	Offset int
	// Now decides what is overdue.
	Now time.Time
}

// InboxCounts summarises an inbox.
type InboxCounts struct {
	Open    int `json:"open"`
	Claimed int `json:"claimed"`
	Overdue int `json:"overdue"`
	Urgent  int `json:"urgent"`
}

// Inbox lists escalations, open ones by priority then age (oldest first),
// closed ones newest first, with counts of the open ones.
func (s *Store) Inbox(ctx context.Context, q InboxQuery) ([]Escalation, InboxCounts, error) {
	var counts InboxCounts
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	where := `e.state IN ('open', 'claimed') AND ($1::text[] IS NULL OR e.team = ANY($1))`
	order := `e.priority_rank, e.opened_at, e.id`
	if q.Closed {
		where = `e.state IN ('resolved', 'duplicate') AND ($1::text[] IS NULL OR e.team = ANY($1))`
		order = `e.closed_at DESC, e.id DESC`
	}
	rows, err := s.pool.Query(ctx, `SELECT `+escalationColumns+` `+escalationFrom+` WHERE `+where+`
		ORDER BY `+order+` LIMIT $2 OFFSET $3`, q.Teams, q.Limit, q.Offset)
	if err != nil {
		return nil, counts, fmt.Errorf("inbox: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Escalation, error) { return scanEscalation(r) })
	if err != nil {
		return nil, counts, fmt.Errorf("inbox: %w", err)
	}
	err = s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'open'), count(*) FILTER (WHERE state = 'claimed'),
			count(*) FILTER (WHERE `+fmt.Sprintf(overdueSQL, "$2")+`), count(*) FILTER (WHERE priority = 'urgent')
		FROM escalations WHERE state IN ('open', 'claimed') AND ($1::text[] IS NULL OR team = ANY($1))`, q.Teams, q.Now).
		Scan(&counts.Open, &counts.Claimed, &counts.Overdue, &counts.Urgent)
	if err != nil {
		return nil, counts, fmt.Errorf("inbox counts: %w", err)
	}
	return list, counts, nil
}

// EscalationEvent is one line of an escalation's history (notes included).
type EscalationEvent struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Kind   string    `json:"kind"`
	Team   string    `json:"team,omitempty"`
	Detail string    `json:"detail,omitempty"`
	// Shared: a note shared with every team that sees the patient.
	Shared bool `json:"shared,omitempty"`
}

// EscalationEvents lists an escalation's history, oldest first.
func (s *Store) EscalationEvents(ctx context.Context, id int64) ([]EscalationEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, kind, team, detail, shared FROM escalation_events
		WHERE escalation_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("escalation %d events: %w", id, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (EscalationEvent, error) {
		var e EscalationEvent
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Kind, &e.Team, &e.Detail, &e.Shared)
		return e, err
	})
}

// EscalationNeed is a need behind an escalation, with the answer or
// message that raised it.
type EscalationNeed struct {
	ID        int64     `json:"id"`
	Category  string    `json:"category"`
	Priority  string    `json:"priority"`
	Detail    string    `json:"detail"`
	Question  string    `json:"question,omitempty"`
	Option    string    `json:"option,omitempty"`
	Raw       string    `json:"raw,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// EscalationNeeds lists the needs behind an escalation, oldest first.
func (s *Store) EscalationNeeds(ctx context.Context, id int64) ([]EscalationNeed, error) {
	rows, err := s.pool.Query(ctx, `SELECT n.id, n.category, n.priority, n.detail, coalesce(a.question, ''), coalesce(a.option_key, ''),
			coalesce(a.raw, m.body, ''), n.created_at
		FROM needs n LEFT JOIN answers a ON a.id = n.answer_id LEFT JOIN messages m ON m.id = n.message_id
		WHERE n.escalation_id = $1 ORDER BY n.id`, id)
	if err != nil {
		return nil, fmt.Errorf("escalation %d needs: %w", id, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (EscalationNeed, error) {
		var n EscalationNeed
		err := r.Scan(&n.ID, &n.Category, &n.Priority, &n.Detail, &n.Question, &n.Option, &n.Raw, &n.CreatedAt)
		return n, err
	})
}

// PatientEscalations lists a patient's escalations, newest first.
func (s *Store) PatientEscalations(ctx context.Context, patientID int64) ([]Escalation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+escalationColumns+` `+escalationFrom+` WHERE e.patient_id = $1 ORDER BY e.id DESC`, patientID)
	if err != nil {
		return nil, fmt.Errorf("patient escalations: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Escalation, error) { return scanEscalation(r) })
}

// PatientInTeams reports whether any escalation of the patient (open or
// closed) is with one of the teams: what lets a team see a patient.
func (s *Store) PatientInTeams(ctx context.Context, patientID int64, teams []string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM escalations WHERE patient_id = $1 AND team = ANY($2))`,
		patientID, teams).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("patient %d teams: %w", patientID, err)
	}
	return ok, nil
}

// Transition is a change to an escalation made by a person or by the SLA
// check. Only the fields the change uses are read.
type Transition struct {
	ID    int64
	Actor string
	At    time.Time
	// Shared: for a note, shown to every team that sees the patient.
	Shared bool
	// Team, Due and Alerts: for a handover or re-escalation, the team it
	// goes to, its new deadline and the alerts for the new tier.
	Team   string
	Due    time.Time
	Alerts []AlertTarget
	// Tier: for a re-escalation, the tier it must still be at.
	Tier        int
	Outcome     string
	Note        string
	DuplicateOf int64
}

// transition runs an UPDATE that must match the escalation in an allowed
// state, then records the event (and alerts). It reports the changed row.
func (s *Store) transition(ctx context.Context, t Transition, kind, update string, args []any, alertEvent string) (EscalationChange, error) {
	var c EscalationChange
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// Due is the escalation's next deadline: to resolve when claimed, to
		// claim otherwise.
		err := tx.QueryRow(ctx, update+` RETURNING id, tier, team, priority, CASE WHEN state = 'claimed' THEN resolve_by ELSE due_at END`, args...).
			Scan(&c.EscalationID, &c.Tier, &c.Team, &c.Priority, &c.Due)
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM escalations WHERE id = $1)`, t.ID).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return ErrNotFound
			}
			return ErrEscalationState
		}
		if err != nil {
			return err
		}
		if err := addEvent(ctx, tx, t.ID, t.At, t.Actor, kind, c.Team, t.Note); err != nil {
			return err
		}
		if alertEvent != "" {
			c.Alerts, err = addAlerts(ctx, tx, t.ID, t.At, c.Tier, c.Team, alertEvent, c.Priority, t.Alerts)
		}
		return err
	})
	if err != nil {
		return c, fmt.Errorf("escalation %d %s: %w", t.ID, kind, err)
	}
	return c, nil
}

// ClaimEscalation marks an open escalation as being handled by the actor,
// to be resolved by t.Due. The change's Due is that deadline.
func (s *Store) ClaimEscalation(ctx context.Context, t Transition) (EscalationChange, error) {
	return s.transition(ctx, t, "claimed", `UPDATE escalations SET state = 'claimed', claimed_by = $2, claimed_at = $3, updated_at = $3,
			resolve_by = $4
		WHERE id = $1 AND state = 'open'`, []any{t.ID, t.Actor, t.At, t.Due}, "")
}

// ResolveEscalation closes an open or claimed escalation with an outcome.
func (s *Store) ResolveEscalation(ctx context.Context, t Transition) error {
	_, err := s.transition(ctx, t, "resolved", `UPDATE escalations SET state = 'resolved', outcome = $2, closed_by = $3, closed_at = $4,
			claimed_by = coalesce(claimed_by, $3), claimed_at = coalesce(claimed_at, $4), updated_at = $4
		WHERE id = $1 AND state IN ('open', 'claimed')`, []any{t.ID, t.Outcome, t.Actor, t.At}, "")
	return err
}

// MarkDuplicate closes an escalation as a duplicate of another open one of
// the same patient.
func (s *Store) MarkDuplicate(ctx context.Context, t Transition) error {
	_, err := s.transition(ctx, t, "duplicate", `UPDATE escalations e SET state = 'duplicate', duplicate_of = $2, closed_by = $3,
			closed_at = $4, updated_at = $4
		WHERE e.id = $1 AND e.state IN ('open', 'claimed') AND $1 <> $2
		  AND EXISTS (SELECT 1 FROM escalations o WHERE o.id = $2 AND o.patient_id = e.patient_id AND o.state IN ('open', 'claimed', 'resolved'))`,
		[]any{t.ID, t.DuplicateOf, t.Actor, t.At}, "")
	return err
}

// HandOver moves an open or claimed escalation to another team at the next
// tier, unclaimed, with a new deadline and alerts for that team.
func (s *Store) HandOver(ctx context.Context, t Transition) (EscalationChange, error) {
	return s.transition(ctx, t, "handed-over", `UPDATE escalations SET team = $2, tier = tier + 1, state = 'open', claimed_by = NULL,
			claimed_at = NULL, resolve_by = NULL, due_at = $3, updated_at = $4
		WHERE id = $1 AND state IN ('open', 'claimed')`, []any{t.ID, t.Team, t.Due, t.At}, "escalation.handed-over")
}

// Reescalate moves an escalation still open at tier t.Tier after its
// deadline to the next tier's team. A repeated or late call (claimed
// meanwhile, or moved on already) changes nothing and returns
// ErrEscalationState.
func (s *Store) Reescalate(ctx context.Context, t Transition) (EscalationChange, error) {
	return s.transition(ctx, t, "re-escalated", `UPDATE escalations SET team = $2, tier = tier + 1, due_at = $3, updated_at = $4
		WHERE id = $1 AND state = 'open' AND tier = $5 AND due_at <= $4`, []any{t.ID, t.Team, t.Due, t.At, t.Tier}, "escalation.overdue")
}

// Unresolved moves a claimed escalation still at tier t.Tier and past its
// resolve-by time to the next tier with the same team and claimer, sets a
// new resolve-by time (t.Due) and queues alerts for the team. A repeated or
// late call (resolved or handed over meanwhile) changes nothing and returns
// ErrEscalationState.
func (s *Store) Unresolved(ctx context.Context, t Transition) (EscalationChange, error) {
	return s.transition(ctx, t, "not-resolved-in-time", `UPDATE escalations SET tier = tier + 1, resolve_by = $2, updated_at = $3
		WHERE id = $1 AND state = 'claimed' AND tier = $4 AND resolve_by <= $3`, []any{t.ID, t.Due, t.At, t.Tier}, "escalation.unresolved")
}

// AddNote adds a note to an escalation's history.
func (s *Store) AddNote(ctx context.Context, t Transition) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var team string
		err := tx.QueryRow(ctx, `UPDATE escalations SET updated_at = $2 WHERE id = $1 RETURNING team`, t.ID, t.At).Scan(&team)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO escalation_events (escalation_id, at, actor, kind, team, detail, shared)
			VALUES ($1, $2, $3, 'note', $4, $5, $6)`, t.ID, t.At, t.Actor, team, t.Note, t.Shared)
		return err
	})
	if err != nil {
		return fmt.Errorf("escalation %d note: %w", t.ID, err)
	}
	return nil
}

// DueEscalation is an escalation past its deadline: open and not claimed
// in time (DueAt), or claimed and not resolved in time (ResolveBy, with
// State claimed).
type DueEscalation struct {
	ID        int64
	Tier      int
	Team      string
	Category  string
	Priority  string
	State     string
	ClaimedBy string
	DueAt     time.Time
}

// DueEscalations lists open escalations past their claim deadline and
// claimed ones past their resolve deadline, most overdue first; DueAt is
// the deadline that passed.
func (s *Store) DueEscalations(ctx context.Context, now time.Time, limit int) ([]DueEscalation, error) {
	rows, err := s.pool.Query(ctx, `SELECT * FROM (
			(SELECT id, tier, team, category, priority, state, '' AS claimed_by, due_at AS deadline FROM escalations
				WHERE state = 'open' AND due_at <= $1 ORDER BY due_at LIMIT $2)
			UNION ALL
			(SELECT id, tier, team, category, priority, state, claimed_by, resolve_by FROM escalations
				WHERE state = 'claimed' AND resolve_by <= $1 ORDER BY resolve_by LIMIT $2)) d
		ORDER BY deadline LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("due escalations: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DueEscalation, error) {
		var d DueEscalation
		err := r.Scan(&d.ID, &d.Tier, &d.Team, &d.Category, &d.Priority, &d.State, &d.ClaimedBy, &d.DueAt)
		return d, err
	})
}

// OpenEscalationTeams lists the teams that hold open or claimed
// escalations, so a routing reload cannot drop one of them.
func (s *Store) OpenEscalationTeams(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT team FROM escalations WHERE state IN ('open', 'claimed') ORDER BY team`)
	if err != nil {
		return nil, fmt.Errorf("open escalation teams: %w", err)
	}
	teams, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("open escalation teams: %w", err)
	}
	return teams, nil
}

// OverdueClaims counts the claimed escalations of one claimer that are
// past their resolve-by time, so the console can tell them.
func (s *Store) OverdueClaims(ctx context.Context, claimedBy string, now time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM escalations WHERE state = 'claimed' AND claimed_by = $1 AND resolve_by < $2`,
		claimedBy, now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("overdue claims: %w", err)
	}
	return n, nil
}

// Alert is an alert to deliver.
type Alert struct {
	ID           int64
	EscalationID int64
	Tier         int
	Team         string
	Channel      string
	Target       string
	Event        string
	Priority     string
	Tries        int
	CreatedAt    time.Time
	// ClaimedBy is who holds the escalation now ("user:NAME"), if anyone.
	ClaimedBy string
}

// ClaimAlerts takes up to limit alerts due for sending (new, or whose
// sender died holding them) and leases them to the caller.
func (s *Store) ClaimAlerts(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Alert, error) {
	rows, err := s.pool.Query(ctx, `UPDATE escalation_alerts a SET state = 'sending', lease_until = $1::timestamptz + $3::interval,
			tries = tries + 1
		FROM escalations e
		WHERE a.id IN (SELECT id FROM escalation_alerts
			WHERE (state = 'pending' AND next_try_at <= $1) OR (state = 'sending' AND lease_until < $1)
			ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
		  AND e.id = a.escalation_id
		RETURNING `+alertColumns, now, limit, lease)
	if err != nil {
		return nil, fmt.Errorf("claim alerts: %w", err)
	}
	return pgx.CollectRows(rows, scanAlert)
}

const alertColumns = `a.id, a.escalation_id, a.tier, a.team, a.channel, a.target, a.event, a.priority, a.tries, a.created_at,
	coalesce(e.claimed_by, '')`

func scanAlert(r pgx.CollectableRow) (Alert, error) {
	var a Alert
	err := r.Scan(&a.ID, &a.EscalationID, &a.Tier, &a.Team, &a.Channel, &a.Target, &a.Event, &a.Priority, &a.Tries, &a.CreatedAt,
		&a.ClaimedBy)
	return a, err
}

// AlertsSent marks alerts delivered, with the provider's reference.
func (s *Store) AlertsSent(ctx context.Context, ids []int64, ref string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE escalation_alerts SET state = 'sent', provider_ref = $2, sent_at = $3, lease_until = NULL, error = ''
		WHERE id = ANY($1) AND state = 'sending'`, ids, ref, at)
	if err != nil {
		return fmt.Errorf("alerts sent: %w", err)
	}
	return nil
}

// AlertsFailed records a failed delivery: tried again at retryAt, or
// failed for good when retryAt is zero.
func (s *Store) AlertsFailed(ctx context.Context, ids []int64, msg string, retryAt time.Time) error {
	state, next := "pending", retryAt
	if retryAt.IsZero() {
		state, next = "failed", time.Now()
	}
	_, err := s.pool.Exec(ctx, `UPDATE escalation_alerts SET state = $2, next_try_at = $3, error = $4, lease_until = NULL
		WHERE id = ANY($1) AND state = 'sending'`, ids, state, next, msg)
	if err != nil {
		return fmt.Errorf("alerts failed: %w", err)
	}
	return nil
}

// EscalationAlerts lists the alerts of an escalation, oldest first.
func (s *Store) EscalationAlerts(ctx context.Context, id int64) ([]Alert, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+`
		FROM escalation_alerts a JOIN escalations e ON e.id = a.escalation_id WHERE a.escalation_id = $1 ORDER BY a.id`, id)
	if err != nil {
		return nil, fmt.Errorf("escalation %d alerts: %w", id, err)
	}
	return pgx.CollectRows(rows, scanAlert)
}
