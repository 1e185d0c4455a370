package console

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/internal/clip"
	"github.com/protectnow/protect/store"
)

// registerAccounts mounts the pages that manage log-ins: every user's own
// password, and the admins' list of users with disable and enable.
func (c *Console) registerAccounts(a *gin.RouterGroup) {
	a.GET("/account/password", c.passwordForm)
	a.POST("/account/password", c.changePassword)
	a.GET("/admin/users", c.users)
	a.POST("/admin/users/:id/:action", c.userAction)
}

func (c *Console) passwordForm(ctx *gin.Context) {
	c.render(ctx, http.StatusOK, "password", page{Title: "Change password", Data: MinPasswordLength})
}

// changePassword sets a new password for the logged-in user, who must give
// the current one, and ends their other sessions. A wrong current password
// counts as a failed log-in for the name.
func (c *Console) changePassword(ctx *gin.Context) {
	v := ctx.MustGet("viewer").(*viewer)
	rctx := ctx.Request.Context()
	again := func(status int, msg string) {
		c.render(ctx, status, "password", page{Title: "Change password", Error: msg, Data: MinPasswordLength})
	}
	if wait, _, err := c.throttle.lockedFor(rctx, v.Name, ctx.ClientIP()); err == nil && wait > 0 {
		c.svc.Audit(rctx, v.actor, "password.throttled", "user", 0, map[string]any{"retry_after_seconds": int(wait.Seconds())})
		again(http.StatusTooManyRequests, "Too many attempts. Try again in "+minutes(wait)+".")
		return
	}
	u, err := c.store.UserByName(rctx, v.Name)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(ctx.PostForm("current"))) != nil {
		c.svc.Audit(rctx, v.actor, "password.change_failed", "user", u.ID, map[string]any{"reason": "wrong current password"})
		if _, _, err := c.throttle.failed(rctx, v.Name, ctx.ClientIP()); err != nil {
			c.logger.Error("login throttle unavailable; failure not counted", "error", err)
		}
		again(http.StatusBadRequest, "The current password is not right.")
		return
	}
	next := ctx.PostForm("new")
	if next != ctx.PostForm("confirm") {
		again(http.StatusBadRequest, "The new passwords differ.")
		return
	}
	if next == ctx.PostForm("current") {
		again(http.StatusBadRequest, "The new password must differ from the current one.")
		return
	}
	hash, err := HashPassword(next)
	if err != nil {
		again(http.StatusBadRequest, "The new password is too short or too long: "+err.Error()+".")
		return
	}
	secret, _ := ctx.Cookie(sessionCookie)
	ended, err := c.store.SetPassword(rctx, u.ID, hash, secret)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	c.svc.Audit(rctx, v.actor, "password.change", "user", u.ID, map[string]any{"sessions_ended": ended})
	ctx.Redirect(http.StatusSeeOther, "/console/account/password?done=password-changed")
}

type usersData struct {
	Users []store.UserInfo
	Me    string
}

// users lists console users for admins.
func (c *Console) users(ctx *gin.Context) {
	v := ctx.MustGet("viewer").(*viewer)
	if v.Role != store.RoleAdmin {
		c.fail(ctx, escalation.ErrForbidden)
		return
	}
	list, err := c.store.ListUsers(ctx.Request.Context(), c.svc.Now())
	if err != nil {
		c.fail(ctx, err)
		return
	}
	c.svc.Audit(ctx.Request.Context(), v.actor, "users.view", "user", 0, nil)
	c.render(ctx, http.StatusOK, "users", page{Title: "Users", Data: usersData{Users: list, Me: v.Name}})
}

// userAction disables (ending their sessions at once) or enables a user.
func (c *Console) userAction(ctx *gin.Context) {
	v := ctx.MustGet("viewer").(*viewer)
	if v.Role != store.RoleAdmin {
		c.fail(ctx, escalation.ErrForbidden)
		return
	}
	id, err := strconv.ParseInt(ctx.Param("id"), 10, 64)
	if err != nil {
		c.fail(ctx, store.ErrNotFound)
		return
	}
	action := ctx.Param("action")
	if action != "disable" && action != "enable" {
		c.fail(ctx, store.ErrNotFound)
		return
	}
	rctx := ctx.Request.Context()
	u, err := c.store.UserByID(rctx, id)
	if err != nil {
		c.fail(ctx, err)
		return
	}
	if u.Name == v.Name && action == "disable" {
		// An admin who disables themselves may leave nobody to undo it.
		c.fail(ctx, &escalation.InvalidError{Msg: "You cannot disable yourself; ask another admin."})
		return
	}
	ended, err := c.store.SetUserDisabled(rctx, id, action == "disable", c.svc.Now())
	if err != nil {
		c.fail(ctx, err)
		return
	}
	c.svc.Audit(rctx, v.actor, "user."+action, "user", id, map[string]any{"name": clip.Text(u.Name, 64), "sessions_ended": ended})
	ctx.Redirect(http.StatusSeeOther, "/console/admin/users?done=user-"+action+"d")
}
