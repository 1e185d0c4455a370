package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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

func cmdUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "usage: protect user create --name NAME --role admin|programme_lead|comms_lead|handler [--team TEAM]...\n" +
		"       the password is read from standard input, or asked for twice on a terminal"
	if len(args) == 0 || args[0] != "create" {
		return usageError{usage}
	}
	fs := newFlagSet("user create", stderr)
	name := fs.String("name", "", "user name to log in with (unique)")
	role := fs.String("role", "", "admin, programme_lead, comms_lead or handler")
	var teams teamList
	fs.Var(&teams, "team", "a team the user belongs to (repeat, or separate with commas)")
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" || !store.ValidRole(*role) {
		return usageError{usage}
	}
	rt, err := openRuntime(ctx, stderr)
	if err != nil {
		return err
	}
	defer rt.Close()
	if err := checkTeams(rt.Config.RoutingFile, *role, teams); err != nil {
		return err
	}
	password, err := readPassword(os.Stdin, stderr)
	if err != nil {
		return err
	}
	hash, err := console.HashPassword(password)
	if err != nil {
		return err
	}
	who := "cli:" + os.Getenv("USER")
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
