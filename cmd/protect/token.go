package main

import (
	"context"
	"fmt"
	"github.com/protectnow/protect/app"
	"io"
	"os"

	"github.com/protectnow/protect/store"
)

func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "usage: protect token create --name NAME --role admin|programme_lead|comms_lead|handler [--team TEAM]... [--template-approver]\n       protect token revoke NAME"
	if len(args) == 0 {
		return usageError{usage}
	}
	rt, err := openRuntime(ctx, stderr, app.MigrateApply)
	if err != nil {
		return err
	}
	defer rt.Close()
	who := "cli:" + os.Getenv("USER")
	switch args[0] {
	case "create":
		fs := newFlagSet("token create", stderr)
		name := fs.String("name", "", "what the token is for (unique)")
		role := fs.String("role", "", "admin, programme_lead, comms_lead or handler")
		var teams teamList
		fs.Var(&teams, "team", "a team whose work a handler token sees (repeat, or separate with commas)")
		approver := fs.Bool("template-approver", false, "a comms lead token that may approve templates (admins always may)")
		if _, err := parseInterspersed(fs, args[1:]); err != nil {
			return err
		}
		if *name == "" || !store.ValidRole(*role) {
			return usageError{usage}
		}
		if err := checkTeams(rt.Config.RoutingFile, *role, teams); err != nil {
			return err
		}
		tok, err := rt.Store.CreateAPIToken(ctx, *name, *role, who)
		if err != nil {
			return err
		}
		if err := rt.Store.SetTokenTeams(ctx, *name, teams); err != nil {
			return err
		}
		if err := rt.Store.Audit(ctx, store.AuditEntry{Actor: who, Action: "token.create", SubjectType: "token", SubjectID: *name,
			Details: map[string]any{"role": *role, "teams": teams}}); err != nil {
			return err
		}
		if *approver {
			if err := rt.Store.GrantTemplateApprover(ctx, "token:"+*name, who); err != nil {
				return err
			}
			if err := rt.Store.Audit(ctx, store.AuditEntry{Actor: who, Action: "template.approver_grant", SubjectType: "template",
				SubjectID: "token:" + *name}); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "%s\n", tok)
		fmt.Fprintln(stderr, "Keep this token secret: it is shown once. Send it as 'Authorization: Bearer TOKEN'.")
		return nil
	case "revoke":
		if len(args) != 2 {
			return usageError{"usage: protect token revoke NAME"}
		}
		if err := rt.Store.RevokeAPIToken(ctx, args[1]); err != nil {
			return err
		}
		return rt.Store.Audit(ctx, store.AuditEntry{Actor: who, Action: "token.revoke", SubjectType: "token", SubjectID: args[1]})
	}
	return usageError{usage}
}
