package escalation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/protectnow/protect/internal/clip"
)

// RoutingPollEvery is how often WatchRouting looks at the routing file's
// modification time and size.
const RoutingPollEvery = 5 * time.Second

// SetRouting puts a checked routing in use at once. Work already under way
// finishes with the routing it started with.
func (s *Service) SetRouting(r *Routing) { s.routing.Store(r) }

// ReloadRouting reads the routing file again and, only if it is valid as a
// whole and every team that holds open escalations is still in it, puts it
// in use. On any error the routing in use stays, and the error is logged
// and audited. A successful reload is logged and audited too.
func (s *Service) ReloadRouting(ctx context.Context, path string) error {
	sys := Actor{Name: "system"}
	r, sum, err := s.checkRoutingFile(ctx, path)
	if err != nil {
		s.logger.Error("routing file NOT reloaded: keeping the routing in use", "file", path, "error", err)
		s.audit(ctx, sys, "routing.reload_failed", "routing", 0, nil, map[string]any{"file": path, "error": clip.Text(err.Error(), 2000)})
		return err
	}
	old := s.Routing()
	s.SetRouting(r)
	s.logger.Info("routing file reloaded", "file", path, "sha256", sum, "teams", len(r.Teams), "rules", len(r.Rules))
	s.audit(ctx, sys, "routing.reload", "routing", 0, nil, map[string]any{"file": path, "sha256": sum,
		"teams": r.TeamKeys(), "teams_before": old.TeamKeys()})
	return nil
}

// checkRoutingFile loads a routing file and checks it against the
// escalations in the database; it returns the routing and a short hash of
// the file for the log.
func (s *Service) checkRoutingFile(ctx context.Context, path string) (*Routing, string, error) {
	name, data, err := readRouting(path)
	if err != nil {
		return nil, "", err
	}
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:6])
	r, err := ParseRouting(name, data, os.LookupEnv)
	if err != nil {
		return nil, sum, err
	}
	// A team that holds open escalations must stay: they would be left
	// with a team nobody can be alerted for or hand over from.
	teams, err := s.store.OpenEscalationTeams(ctx)
	if err != nil {
		return nil, sum, err
	}
	var gone []string
	for _, t := range teams {
		if r.Team(t) == nil {
			gone = append(gone, t)
		}
	}
	if len(gone) > 0 {
		return nil, sum, fmt.Errorf("%s: teams %s hold open escalations but are not in the file: hand them over first",
			name, strings.Join(gone, ", "))
	}
	return r, sum, nil
}

// WatchRouting reloads the routing file when reload receives (SIGHUP) and
// when the file's modification time or size changes to content other than
// the routing in use, looked at every `every`, until ctx ends. An empty
// path (the built-in routing) is only reloaded on signal. A file that fails
// its checks is reported once per change, not at every look.
func (s *Service) WatchRouting(ctx context.Context, path string, every time.Duration, reload <-chan os.Signal) {
	// seen is the file as the last look found it, loaded as it was when
	// last reloaded (or found unchanged). A file is reloaded only once two
	// looks in a row find it the same, so a file caught half-written (a
	// write truncates first) is not read.
	var seenMod, loadedMod time.Time
	seenSize, loadedSize := int64(-1), int64(-1)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			s.logger.Info("reloading the routing file on signal", "file", path)
			s.ReloadRouting(ctx, path) //nolint:errcheck // logged and audited
		case <-t.C:
			if path == "" {
				continue
			}
			st, err := os.Stat(path)
			if err != nil {
				if seenSize != -2 { // once, not at every look
					s.logger.Error("routing file unreadable: keeping the routing in use", "file", path, "error", err)
				}
				seenSize = -2
				continue
			}
			if !st.ModTime().Equal(seenMod) || st.Size() != seenSize {
				seenMod, seenSize = st.ModTime(), st.Size()
				continue // changed since the last look: wait until it settles
			}
			if st.ModTime().Equal(loadedMod) && st.Size() == loadedSize {
				continue
			}
			loadedMod, loadedSize = st.ModTime(), st.Size()
			// Touched but the same, or the file in use: nothing to do.
			if b, err := os.ReadFile(path); err == nil && sha256.Sum256(b) == s.Routing().source {
				continue
			}
			s.ReloadRouting(ctx, path) //nolint:errcheck // logged and audited
		}
	}
}
