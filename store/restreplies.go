package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// RESTReply is one text of the answer to an inbound message, to send by
// the REST API because the webhook could not answer it in TwiML.
type RESTReply struct {
	ID       int64
	From, To string
	Body     string
	Part     int
	// Retried is true when an earlier try began sending it: Twilio may
	// already have it.
	Retried bool
	// Since is when the first try began.
	Since time.Time
}

// ClaimRESTReplies marks the texts answering the inbound message sid as
// being sent by REST and returns those not yet sent or given up, in the
// order they are sent.
func (s *Store) ClaimRESTReplies(ctx context.Context, sid string) ([]RESTReply, error) {
	rows, err := s.pool.Query(ctx, `WITH old AS (
			SELECT id, rest_state FROM messages
			WHERE in_reply_to = $1 AND direction = 'out' AND (rest_state IS NULL OR rest_state = 'sending')
			FOR UPDATE)
		UPDATE messages m SET rest_state = 'sending', rest_at = coalesce(m.rest_at, now())
		FROM old WHERE m.id = old.id
		RETURNING m.id, m.from_number, m.to_number, m.body, m.reply_part, old.rest_state IS NOT NULL, m.rest_at`, sid)
	if err != nil {
		return nil, fmt.Errorf("claim replies to %s: %w", sid, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RESTReply, error) {
		var x RESTReply
		err := r.Scan(&x.ID, &x.From, &x.To, &x.Body, &x.Part, &x.Retried, &x.Since)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim replies to %s: %w", sid, err)
	}
	// RETURNING keeps no order.
	slices.SortFunc(out, func(a, b RESTReply) int { return a.Part - b.Part })
	return out, nil
}

// RESTReplySent records the message Twilio created for a reply.
func (s *Store) RESTReplySent(ctx context.Context, id int64, providerSID string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE messages SET rest_state = 'sent', provider_sid = nullif($2, '') WHERE id = $1`,
		id, providerSID); err != nil {
		return fmt.Errorf("reply %d sent: %w", id, err)
	}
	return nil
}

// RESTReplyFailed records that Twilio refused a reply for good.
func (s *Store) RESTReplyFailed(ctx context.Context, id int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE messages SET rest_state = 'failed' WHERE id = $1`, id); err != nil {
		return fmt.Errorf("reply %d failed: %w", id, err)
	}
	return nil
}
