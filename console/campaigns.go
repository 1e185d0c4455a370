package console

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
)

// campaignRoles may see the campaigns page, as they may run campaigns
// through the API and the CLI.
var campaignRoles = []string{store.RoleAdmin, store.RoleProgrammeLead}

// campaignRow is one campaign on the campaigns page with its warning
// (outreach.CoverageWarning), if any.
type campaignRow struct {
	store.Campaign
	Warning string
}

// campaigns lists every campaign with its state, and warns about those
// that may run past the last year of known bank holidays.
func (c *Console) campaigns(ctx *gin.Context) {
	v := ctx.MustGet("viewer").(*viewer)
	if !slices.Contains(campaignRoles, v.Role) {
		c.fail(ctx, escalation.ErrForbidden)
		return
	}
	cs, err := c.store.Campaigns(ctx.Request.Context())
	if err != nil {
		c.fail(ctx, err)
		return
	}
	now := c.svc.Now()
	rows := make([]campaignRow, len(cs))
	for i, camp := range cs {
		rows[i] = campaignRow{Campaign: camp, Warning: outreach.CoverageWarning(camp, now)}
	}
	c.svc.Audit(ctx.Request.Context(), v.actor, "campaigns.view", "campaign", 0, nil)
	c.render(ctx, http.StatusOK, "campaigns", page{Title: "Campaigns", Data: rows})
}
