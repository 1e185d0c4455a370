package outreach

import (
	"time"

	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/window"
)

// planningMargin is added to a policy's waits for the days pacing a large
// cohort through the window takes.
const planningMargin = 14 * 24 * time.Hour

// CoverageWarning warns when a campaign planned from now may still contact
// patients after the last day whose bank holidays are known
// (window.CoveredUntil): the first contacts are paced from now, and each
// step of its policy waits before the next. It returns "" when there is
// nothing to say, for a campaign that has ended, and for a window that
// ignores bank holidays. The CLI, the API and the console all show this
// one warning.
func CoverageWarning(c store.Campaign, now time.Time) string {
	if c.State == store.CampaignCancelled || c.State == store.CampaignCompleted {
		return ""
	}
	w, err := window.Parse(c.Window)
	if err != nil {
		return ""
	}
	pol, err := ParsePolicy(c.Policy, true)
	if err != nil {
		pol = DefaultPolicy(true) // stored policies are valid; warn rather than not
	}
	span := planningMargin
	for _, s := range pol.Steps {
		span += time.Duration(s.Wait)
	}
	return w.CoverageWarning(window.DateOf(now.Add(span)))
}

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.now() }
