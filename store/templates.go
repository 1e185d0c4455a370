package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Template version states.
const (
	VersionDraft      = "draft"
	VersionPending    = "pending"
	VersionApproved   = "approved"
	VersionRejected   = "rejected"
	VersionSuperseded = "superseded"
)

// SystemActor is the author of the shipped texts imported at start.
const SystemActor = "system"

// ErrVersionState is returned when a template version is not in a state
// that allows an action (approving a draft, submitting an approved
// version, approving a version older than the live one).
var ErrVersionState = errors.New("template version is not in a state that allows this")

// Template is one text Protect sends or says, for a channel and language.
type Template struct {
	ID       int64  `json:"id"`
	Key      string `json:"key"`
	Channel  string `json:"channel"`
	Language string `json:"language"`
	Purpose  string `json:"purpose"`
	// LiveVersion is the approved version sent now; nil when none is.
	LiveVersion *int `json:"live_version"`
	// LatestVersion is the highest version number.
	LatestVersion int `json:"latest_version"`
	// Pending counts versions waiting for approval.
	Pending   int       `json:"pending"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// TemplateVersion is one immutable version of a template's body with its
// review trail.
type TemplateVersion struct {
	TemplateID int64     `json:"template_id"`
	Version    int       `json:"version"`
	Body       string    `json:"body"`
	Note       string    `json:"note"`
	Author     string    `json:"author"`
	CreatedAt  time.Time `json:"created_at"`
	// RevertedFrom is the version whose body this one copies, if any.
	RevertedFrom *int       `json:"reverted_from,omitempty"`
	State        string     `json:"state"`
	SubmittedBy  *string    `json:"submitted_by,omitempty"`
	SubmittedAt  *time.Time `json:"submitted_at,omitempty"`
	DecidedBy    *string    `json:"decided_by,omitempty"`
	DecidedAt    *time.Time `json:"decided_at,omitempty"`
	DecisionNote string     `json:"decision_note,omitempty"`
}

// TemplateRef names a template: key, channel and language.
type TemplateRef struct {
	Key      string `json:"key"`
	Channel  string `json:"channel"`
	Language string `json:"language"`
}

// PinKey is the key of a campaign's template pin: "key:channel:language".
func (r TemplateRef) PinKey() string { return r.Key + ":" + r.Channel + ":" + r.Language }

// ParsePinKey reads a pin key back into a reference.
func ParsePinKey(k string) (TemplateRef, error) {
	parts := strings.Split(k, ":")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return TemplateRef{}, fmt.Errorf("pin key %q: expected key:channel:language", k)
	}
	return TemplateRef{Key: parts[0], Channel: parts[1], Language: parts[2]}, nil
}

const templateColumns = `t.id, t.key, t.channel, t.language, t.purpose, t.live_version,
	coalesce((SELECT max(version) FROM template_versions v WHERE v.template_id = t.id), 0),
	(SELECT count(*) FROM template_versions v WHERE v.template_id = t.id AND v.state = 'pending'),
	t.created_by, t.created_at`

func scanTemplate(row pgx.Row) (Template, error) {
	var t Template
	err := row.Scan(&t.ID, &t.Key, &t.Channel, &t.Language, &t.Purpose, &t.LiveVersion, &t.LatestVersion, &t.Pending,
		&t.CreatedBy, &t.CreatedAt)
	return t, err
}

const versionColumns = `template_id, version, body, note, author, created_at, reverted_from, state,
	submitted_by, submitted_at, decided_by, decided_at, decision_note`

func scanVersion(row pgx.Row) (TemplateVersion, error) {
	var v TemplateVersion
	err := row.Scan(&v.TemplateID, &v.Version, &v.Body, &v.Note, &v.Author, &v.CreatedAt, &v.RevertedFrom, &v.State,
		&v.SubmittedBy, &v.SubmittedAt, &v.DecidedBy, &v.DecidedAt, &v.DecisionNote)
	return v, err
}

// SeedTemplate stores body as version 1 by SystemActor of a new template,
// unless the template exists, and reports whether it created it. With
// live, the version is approved and live at once (the shipped texts);
// without, it waits for approval by a person (a translation to review).
func (s *Store) SeedTemplate(ctx context.Context, ref TemplateRef, purpose, body string, live bool) (bool, error) {
	created := false
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var id int64
		var liveVersion *int
		if live {
			one := 1
			liveVersion = &one
		}
		err := tx.QueryRow(ctx, `INSERT INTO templates (key, channel, language, purpose, live_version, created_by)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key, channel, language) DO NOTHING RETURNING id`,
			ref.Key, ref.Channel, ref.Language, purpose, liveVersion, SystemActor).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		created = true
		if live {
			_, err = tx.Exec(ctx, `INSERT INTO template_versions (template_id, version, body, note, author, state,
					submitted_by, submitted_at, decided_by, decided_at, decision_note)
				VALUES ($1, 1, $2, 'shipped text', $3, 'approved', $3, now(), $3, now(), 'imported at start')`,
				id, body, SystemActor)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO template_versions (template_id, version, body, note, author, state,
					submitted_by, submitted_at)
				VALUES ($1, 1, $2, 'shipped text: needs review before it goes live', $3, 'pending', $3, now())`,
				id, body, SystemActor)
		}
		if err != nil {
			return err
		}
		return bumpTemplateGeneration(ctx, tx)
	})
	if err != nil {
		return false, fmt.Errorf("seed template %s: %w", ref.PinKey(), err)
	}
	return created, nil
}

// CreateTemplate stores a new template with no versions.
func (s *Store) CreateTemplate(ctx context.Context, ref TemplateRef, purpose, actor string) (Template, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO templates (key, channel, language, purpose, created_by)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, ref.Key, ref.Channel, ref.Language, purpose, actor).Scan(&id)
	if isUniqueViolation(err) {
		return Template{}, fmt.Errorf("create template %s: %w", ref.PinKey(), ErrDuplicate)
	}
	if err != nil {
		return Template{}, fmt.Errorf("create template %s: %w", ref.PinKey(), err)
	}
	return s.Template(ctx, id)
}

// TemplateFilter narrows Templates; empty fields match everything.
type TemplateFilter struct {
	Purpose, Channel, Language, Key string
}

// Templates lists templates by key, channel and language.
func (s *Store) Templates(ctx context.Context, f TemplateFilter) ([]Template, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+templateColumns+` FROM templates t
		WHERE ($1 = '' OR t.purpose = $1) AND ($2 = '' OR t.channel = $2)
		  AND ($3 = '' OR t.language = $3) AND ($4 = '' OR t.key = $4)
		ORDER BY t.key, t.channel, t.language`, f.Purpose, f.Channel, f.Language, f.Key)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	defer rows.Close()
	var out []Template
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, fmt.Errorf("list templates: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Template loads a template by ID.
func (s *Store) Template(ctx context.Context, id int64) (Template, error) {
	t, err := scanTemplate(s.pool.QueryRow(ctx, `SELECT `+templateColumns+` FROM templates t WHERE t.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("template %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("template %d: %w", id, err)
	}
	return t, nil
}

// TemplateByRef loads a template by key, channel and language.
func (s *Store) TemplateByRef(ctx context.Context, ref TemplateRef) (Template, error) {
	t, err := scanTemplate(s.pool.QueryRow(ctx, `SELECT `+templateColumns+` FROM templates t
		WHERE t.key = $1 AND t.channel = $2 AND t.language = $3`, ref.Key, ref.Channel, ref.Language))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("template %s: %w", ref.PinKey(), ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("template %s: %w", ref.PinKey(), err)
	}
	return t, nil
}

// TemplateVersions lists a template's versions, newest first.
func (s *Store) TemplateVersions(ctx context.Context, id int64) ([]TemplateVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+versionColumns+` FROM template_versions
		WHERE template_id = $1 ORDER BY version DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("template %d versions: %w", id, err)
	}
	defer rows.Close()
	var out []TemplateVersion
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("template %d versions: %w", id, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// TemplateVersion loads one version.
func (s *Store) TemplateVersion(ctx context.Context, id int64, version int) (TemplateVersion, error) {
	v, err := scanVersion(s.pool.QueryRow(ctx, `SELECT `+versionColumns+` FROM template_versions
		WHERE template_id = $1 AND version = $2`, id, version))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, fmt.Errorf("template %d version %d: %w", id, version, ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("template %d version %d: %w", id, version, err)
	}
	return v, nil
}

// NewTemplateVersion is a version to add.
type NewTemplateVersion struct {
	TemplateID   int64
	Body         string
	Note         string
	Author       string
	RevertedFrom *int
	// Submit stores the version as pending approval rather than a draft.
	Submit bool
}

// AddTemplateVersion stores the next version of a template.
func (s *Store) AddTemplateVersion(ctx context.Context, n NewTemplateVersion) (TemplateVersion, error) {
	var v TemplateVersion
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// The row lock serialises version numbers per template.
		var next int
		err := tx.QueryRow(ctx, `SELECT coalesce((SELECT max(version) FROM template_versions WHERE template_id = t.id), 0) + 1
			FROM templates t WHERE t.id = $1 FOR UPDATE`, n.TemplateID).Scan(&next)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		state := VersionDraft
		var submitter *string
		if n.Submit {
			state, submitter = VersionPending, &n.Author
		}
		v, err = scanVersion(tx.QueryRow(ctx, `INSERT INTO template_versions (template_id, version, body, note, author,
				reverted_from, state, submitted_by, submitted_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text, CASE WHEN $8::text IS NULL THEN NULL ELSE now() END)
			RETURNING `+versionColumns, n.TemplateID, next, n.Body, n.Note, n.Author, n.RevertedFrom, state, submitter))
		return err
	})
	if err != nil {
		return v, fmt.Errorf("template %d: add version: %w", n.TemplateID, err)
	}
	return v, nil
}

// SubmitTemplateVersion moves a draft to pending approval.
func (s *Store) SubmitTemplateVersion(ctx context.Context, id int64, version int, actor string) (TemplateVersion, error) {
	v, err := scanVersion(s.pool.QueryRow(ctx, `UPDATE template_versions SET state = 'pending', submitted_by = $3, submitted_at = now()
		WHERE template_id = $1 AND version = $2 AND state = 'draft' RETURNING `+versionColumns, id, version, actor))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, s.versionStateError(ctx, id, version, "submit")
	}
	if err != nil {
		return v, fmt.Errorf("submit template %d version %d: %w", id, version, err)
	}
	return v, nil
}

func (s *Store) versionStateError(ctx context.Context, id int64, version int, action string) error {
	cur, err := s.TemplateVersion(ctx, id, version)
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	return fmt.Errorf("%s template %d version %d: it is %s: %w", action, id, version, cur.State, ErrVersionState)
}

// DecideTemplateVersion approves or rejects a pending version. Approving
// makes it live, supersedes older drafts and pending versions, and bumps
// the template generation, all in one transaction. A version older than
// the live one cannot be approved (revert to it instead). The caller
// checks the approver right; the database refuses an approval by the
// version's author.
func (s *Store) DecideTemplateVersion(ctx context.Context, id int64, version int, actor string, approve bool, note string) (TemplateVersion, error) {
	var v TemplateVersion
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var live *int
		err := tx.QueryRow(ctx, `SELECT live_version FROM templates WHERE id = $1 FOR UPDATE`, id).Scan(&live)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("template %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if approve && live != nil && version < *live {
			return fmt.Errorf("version %d is older than the live version %d: revert to it instead: %w", version, *live, ErrVersionState)
		}
		state := VersionRejected
		if approve {
			state = VersionApproved
		}
		v, err = scanVersion(tx.QueryRow(ctx, `UPDATE template_versions SET state = $3, decided_by = $4, decided_at = now(), decision_note = $5
			WHERE template_id = $1 AND version = $2 AND state = 'pending' RETURNING `+versionColumns, id, version, state, actor, note))
		if errors.Is(err, pgx.ErrNoRows) {
			return s.versionStateError(ctx, id, version, "decide")
		}
		if err != nil || !approve {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE templates SET live_version = $2 WHERE id = $1`, id, version); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE template_versions SET state = 'superseded', decided_by = $3, decided_at = now(),
				decision_note = 'a later version was approved'
			WHERE template_id = $1 AND version < $2 AND state IN ('draft', 'pending')`, id, version, actor); err != nil {
			return err
		}
		return bumpTemplateGeneration(ctx, tx)
	})
	if err != nil {
		return v, fmt.Errorf("decide template %d version %d: %w", id, version, err)
	}
	return v, nil
}

func bumpTemplateGeneration(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `UPDATE template_generation SET generation = generation + 1`)
	return err
}

// TemplateGeneration returns a number that changes whenever the text that
// would be sent may have changed (an approval, a seed, a pin).
func (s *Store) TemplateGeneration(ctx context.Context) (int64, error) {
	var g int64
	if err := s.aux.QueryRow(ctx, `SELECT generation FROM template_generation`).Scan(&g); err != nil {
		return 0, fmt.Errorf("template generation: %w", err)
	}
	return g, nil
}

// LiveTemplates returns the body of every template's live version, with
// the generation they were read at.
func (s *Store) LiveTemplates(ctx context.Context) (int64, map[TemplateRef]string, error) {
	var gen int64
	out := make(map[TemplateRef]string)
	err := pgx.BeginFunc(ctx, s.aux, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT generation FROM template_generation`).Scan(&gen); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT t.key, t.channel, t.language, v.body FROM templates t
			JOIN template_versions v ON v.template_id = t.id AND v.version = t.live_version
			WHERE v.state = 'approved'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r TemplateRef
			var body string
			if err := rows.Scan(&r.Key, &r.Channel, &r.Language, &body); err != nil {
				return err
			}
			out[r] = body
		}
		return rows.Err()
	})
	if err != nil {
		return 0, nil, fmt.Errorf("live templates: %w", err)
	}
	return gen, out, nil
}

// ApprovedTemplateBody returns the body of a version that was approved,
// live or not; any other version is ErrNotFound.
func (s *Store) ApprovedTemplateBody(ctx context.Context, ref TemplateRef, version int) (string, error) {
	var body string
	err := s.aux.QueryRow(ctx, `SELECT v.body FROM templates t
		JOIN template_versions v ON v.template_id = t.id
		WHERE t.key = $1 AND t.channel = $2 AND t.language = $3 AND v.version = $4 AND v.state = 'approved'`,
		ref.Key, ref.Channel, ref.Language, version).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("approved template %s version %d: %w", ref.PinKey(), version, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("approved template %s version %d: %w", ref.PinKey(), version, err)
	}
	return body, nil
}

// CampaignTemplatePins returns a campaign's pins: "key:channel:language"
// to version.
func (s *Store) CampaignTemplatePins(ctx context.Context, campaignID int64) (map[string]int, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT template_pins FROM campaigns WHERE id = $1`, campaignID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("campaign %d: %w", campaignID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign %d pins: %w", campaignID, err)
	}
	pins := map[string]int{}
	if err := json.Unmarshal(raw, &pins); err != nil {
		return nil, fmt.Errorf("campaign %d pins: %w", campaignID, err)
	}
	return pins, nil
}

// AllCampaignTemplatePins returns the pins of every campaign that has any.
func (s *Store) AllCampaignTemplatePins(ctx context.Context) (map[int64]map[string]int, error) {
	rows, err := s.aux.Query(ctx, `SELECT id, template_pins FROM campaigns WHERE template_pins <> '{}'`)
	if err != nil {
		return nil, fmt.Errorf("campaign pins: %w", err)
	}
	defer rows.Close()
	out := map[int64]map[string]int{}
	for rows.Next() {
		var id int64
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("campaign pins: %w", err)
		}
		pins := map[string]int{}
		if err := json.Unmarshal(raw, &pins); err != nil {
			return nil, fmt.Errorf("campaign %d pins: %w", id, err)
		}
		out[id] = pins
	}
	return out, rows.Err()
}

// SetCampaignTemplatePins replaces a campaign's pins. Every pin must name
// an approved version: anything else is ErrVersionState, and nothing
// changes.
func (s *Store) SetCampaignTemplatePins(ctx context.Context, campaignID int64, pins map[string]int) error {
	raw, err := json.Marshal(pins)
	if err != nil {
		return fmt.Errorf("campaign %d pins: %w", campaignID, err)
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var bad []string
		rows, err := tx.Query(ctx, `SELECT p.key FROM jsonb_each_text($1::jsonb) p
			WHERE NOT EXISTS (SELECT 1 FROM templates t JOIN template_versions v ON v.template_id = t.id
				WHERE t.key || ':' || t.channel || ':' || t.language = p.key
				  AND v.version = p.value::int AND v.state = 'approved')
			ORDER BY p.key`, raw)
		if err != nil {
			return err
		}
		bad, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(bad) > 0 {
			return fmt.Errorf("pins %v do not name approved versions: %w", bad, ErrVersionState)
		}
		tag, err := tx.Exec(ctx, `UPDATE campaigns SET template_pins = $2 WHERE id = $1`, campaignID, raw)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return bumpTemplateGeneration(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("campaign %d pins: %w", campaignID, err)
	}
	return nil
}

// IsTemplateApprover reports whether actor is listed as a template approver.
func (s *Store) IsTemplateApprover(ctx context.Context, actor string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM template_approvers WHERE actor = $1)`, actor).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("template approver: %w", err)
	}
	return ok, nil
}

// GrantTemplateApprover lists actor as a template approver (idempotent).
func (s *Store) GrantTemplateApprover(ctx context.Context, actor, grantedBy string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO template_approvers (actor, granted_by) VALUES ($1, $2)
		ON CONFLICT (actor) DO NOTHING`, actor, grantedBy)
	if err != nil {
		return fmt.Errorf("grant template approver: %w", err)
	}
	return nil
}

// RevokeTemplateApprover removes actor from the template approvers.
func (s *Store) RevokeTemplateApprover(ctx context.Context, actor string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM template_approvers WHERE actor = $1`, actor)
	if err != nil {
		return fmt.Errorf("revoke template approver: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("template approver %q: %w", actor, ErrNotFound)
	}
	return nil
}

// TemplateApprovers lists the actors with the approver right by grant.
func (s *Store) TemplateApprovers(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT actor FROM template_approvers ORDER BY actor`)
	if err != nil {
		return nil, fmt.Errorf("template approvers: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("template approvers: %w", err)
	}
	return out, nil
}
