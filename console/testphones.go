package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
)

// registerTestPhones mounts the page where comms leads and admins manage
// the phones their template tests may go to (templateadmin.AddTestPhone).
//
//	GET  /console/account/test-phones                 the list, with add, verify and remove forms
//	POST /console/account/test-phones                 number: add it and text it a code
//	POST /console/account/test-phones/:id/verify     code: the code texted to it
//	POST /console/account/test-phones/:id/remove     remove it
func (c *Console) registerTestPhones(g *gin.RouterGroup) {
	g.GET("/account/test-phones", c.testPhones)
	g.POST("/account/test-phones", c.addTestPhone)
	g.POST("/account/test-phones/:id/:action", c.testPhoneAction)
}

type testPhonesData struct {
	Phones []store.TestPhone
	// Number is what was typed in the add form.
	Number  string
	Minutes int
}

// showTestPhones renders the page with status and an error message.
func (c *Console) showTestPhones(ctx *gin.Context, status int, msg, number string) {
	ps, err := c.tpl.TestPhones(ctx.Request.Context(), templateActor(ctx))
	if err != nil {
		c.templateFail(ctx, err)
		return
	}
	c.render(ctx, status, "testphones", page{Title: "Test phones", Error: msg,
		Data: testPhonesData{Phones: ps, Number: number, Minutes: int(templateadmin.CodeTTL.Minutes())}})
}

func (c *Console) testPhones(ctx *gin.Context) { c.showTestPhones(ctx, http.StatusOK, "", "") }

func (c *Console) addTestPhone(ctx *gin.Context) {
	number := ctx.PostForm("number")
	p, err := c.tpl.AddTestPhone(ctx.Request.Context(), templateActor(ctx), number)
	if err != nil {
		status, msg := c.templateMessage(ctx, err)
		c.showTestPhones(ctx, status, msg, number)
		return
	}
	done := "code-sent"
	if p.Verified {
		done = "already-verified"
	}
	ctx.Redirect(http.StatusSeeOther, "/console/account/test-phones?done="+done+"#phone-"+strconv.FormatInt(p.ID, 10))
}

func (c *Console) testPhoneAction(ctx *gin.Context) {
	id, err := idParam(ctx)
	if err != nil {
		c.templateFail(ctx, err)
		return
	}
	a, rctx := templateActor(ctx), ctx.Request.Context()
	done := ""
	switch ctx.Param("action") {
	case "verify":
		_, err = c.tpl.VerifyTestPhone(rctx, a, id, ctx.PostForm("code"))
		done = "phone-verified"
	case "remove":
		err, done = c.tpl.RemoveTestPhone(rctx, a, id), "phone-removed"
	default:
		err = fmt.Errorf("test phone action %q: %w", ctx.Param("action"), store.ErrNotFound)
	}
	if errors.Is(err, store.ErrNotFound) {
		c.templateFail(ctx, err)
		return
	}
	if err != nil {
		status, msg := c.templateMessage(ctx, err)
		c.showTestPhones(ctx, status, msg, "")
		return
	}
	ctx.Redirect(http.StatusSeeOther, "/console/account/test-phones?done="+done)
}

// sentence makes an error message of the service a sentence.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}
