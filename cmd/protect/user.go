package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/protectnow/protect/app"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/protectnow/protect/console"
	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/store"
)

// teamList is a repeatable --team flag.
type teamList []string

func (t *teamList) String() string { return strings.Join(*t, ",") }
func (t *teamList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*t = append(*t, s)
		}
	}
	return nil
}

// checkTeams makes sure every team is in the routing file, and that a
// handler has one.
func checkTeams(routingFile, role string, teams []string) error {
	r, err := escalation.LoadRoutingFile(routingFile)
	if err != nil {
		return err
	}
	for _, t := range teams {
		if r.Team(t) == nil {
			return usageError{fmt.Sprintf("no team %q in the routing file (teams: %s)", t, strings.Join(r.TeamKeys(), ", "))}
		}
	}
	if role == store.RoleHandler && len(teams) == 0 {
		return usageError{fmt.Sprintf("a handler needs --team (teams: %s)", strings.Join(r.TeamKeys(), ", "))}
	}
	return nil
}

const userUsage = "usage: protect user create --name NAME --role admin|programme_lead|comms_lead|handler [--team TEAM]...\n" +
	"       protect user passwd NAME     set a new password (ends the user's sessions)\n" +
	"       protect user disable NAME    refuse log-ins and end the user's sessions at once\n" +
	"       protect user enable NAME     allow log-ins again\n" +
	"       passwords are read from standard input, or asked for twice on a terminal"

// stdin is where passwords are read from; tests replace it.
var stdin = os.Stdin

func cmdUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{userUsage}
	}
	switch args[0] {
	case "create":
		return userCreate(ctx, args[1:], stdout, stderr)
	case "passwd", "disable", "enable":
		return userChange(ctx, args[0], args[1:], stdout, stderr)
	}
	return usageError{userUsage}
}

func userCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = userUsage
	fs := newFlagSet("user create", stderr)
	name := fs.String("name", "", "user name to log in with (unique)")
	role := fs.String("role", "", "admin, programme_lead, comms_lead or handler")
	var teams teamList
	fs.Var(&teams, "team", "a team the user belongs to (repeat, or separate with commas)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" || !store.ValidRole(*role) {
		return usageError{usage}
	}
	rt, err := openRuntime(ctx, stderr, app.MigrateApply)
	if err != nil {
		return err
	}
	defer rt.Close()
	if err := checkTeams(rt.Config.RoutingFile, *role, teams); err != nil {
		return err
	}
	hash, err := readNewPassword(stderr)
	if err != nil {
		return err
	}
	who := cliActor()
	id, err := rt.Store.CreateUser(ctx, strings.TrimSpace(*name), *role, hash, teams, who)
	if errors.Is(err, store.ErrDuplicate) {
		return fmt.Errorf("a user called %q exists already", *name)
	}
	if err != nil {
		return err
	}
	if err := rt.Store.Audit(ctx, store.AuditEntry{Actor: who, Action: "user.create", SubjectType: "user",
		SubjectID: fmt.Sprint(id), Details: map[string]any{"name": *name, "role": *role, "teams": teams}}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s created (%s%s); log in at %s/console\n", *name, *role,
		map[bool]string{true: ", teams " + teams.String(), false: ""}[len(teams) > 0], rt.Config.PublicURL)
	return nil
}

func cliActor() string { return "cli:" + os.Getenv("USER") }

// readNewPassword reads a password and hashes it.
func readNewPassword(stderr io.Writer) ([]byte, error) {
	password, err := readPassword(stdin, stderr)
	if err != nil {
		return nil, err
	}
	return console.HashPassword(password)
}

// userChange sets a user's password, or disables or enables them. Each
// ends the user's console sessions (except enable) and is audited.
func userChange(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" || strings.HasPrefix(args[0], "-") {
		return usageError{"usage: protect user " + action + " NAME"}
	}
	name := strings.TrimSpace(args[0])
	rt, err := openRuntime(ctx, stderr, app.MigrateApply)
	if err != nil {
		return err
	}
	defer rt.Close()
	u, err := rt.Store.UserByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user called %q", name)
	}
	if err != nil {
		return err
	}
	var ended int
	if action == "passwd" {
		hash, err := readNewPassword(stderr)
		if err != nil {
			return err
		}
		ended, err = rt.Store.SetPassword(ctx, u.ID, hash, "")
		if err != nil {
			return err
		}
	} else if ended, err = rt.Store.SetUserDisabled(ctx, u.ID, action == "disable", time.Now()); err != nil {
		return err
	}
	if err := rt.Store.Audit(ctx, store.AuditEntry{Actor: cliActor(), Action: "user." + action, SubjectType: "user",
		SubjectID: fmt.Sprint(u.ID), Details: map[string]any{"name": name, "sessions_ended": ended}}); err != nil {
		return err
	}
	done := map[string]string{"passwd": "has a new password", "disable": "is disabled", "enable": "is enabled"}[action]
	fmt.Fprintf(stdout, "user %s %s; %d session(s) ended\n", name, done, ended)
	return nil
}

// readPassword asks twice on a terminal, or reads one line from a pipe.
func readPassword(in *os.File, stderr io.Writer) (string, error) {
	fd := int(in.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fmt.Fprintf(stderr, "Password (%d characters or more): ", console.MinPasswordLength)
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(stderr, "Again: ")
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if string(p1) != string(p2) {
		return "", errors.New("the passwords differ")
	}
	return string(p1), nil
}
