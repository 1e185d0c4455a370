// Command protect is the Protect outreach gateway: the HTTP server that
// takes Twilio webhooks and serves the console and API, the workers that
// send messages and place calls, and the commands that import cohorts and
// run campaigns.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	// subcommands are the words the command takes first, if any; the
	// README's command table is checked against them (readme_test.go).
	subcommands []string
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"run":     {"HTTP server and workers in one process (the default on one machine)", cmdRun, nil},
		"serve":   {"HTTP server only: webhooks, API and console", cmdServe, nil},
		"worker":  {"workers only: sending, calling, reconciling", cmdWorker, nil},
		"migrate": {"apply database migrations", cmdMigrate, nil},
		"cohort":  {"cohort commands: import", cmdCohort, []string{"import"}},
		"campaign": {"campaign commands: create, start, pause, resume, cancel, status, forecast, list, pin", cmdCampaign,
			[]string{"create", "start", "pause", "resume", "cancel", "status", "forecast", "list", "pin"}},
		"token":   {"API tokens: create (--team for a team's system), revoke", cmdToken, []string{"create", "revoke"}},
		"user":    {"console users: create, passwd, disable, enable", cmdUser, []string{"create", "passwd", "disable", "enable"}},
		"sandbox": {"run the Twilio sandbox alone (for serve and worker run apart)", cmdSandbox, nil},
		"version": {"print the version", func(_ context.Context, _ []string, out, _ io.Writer) error {
			fmt.Fprintln(out, "protect", version)
			return nil
		}, nil},
	}
}

// usageError is printed with the usage and exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: protect COMMAND [ARGS]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nConfiguration comes from environment variables: see README.md.")
}

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "protect: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.run(ctx, args[1:], stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "protect %s: %s\n", args[0], ue.msg)
		return 2
	default:
		fmt.Fprintf(stderr, "protect %s: %s\n", args[0], strings.TrimSpace(err.Error()))
		return 1
	}
}

// newFlagSet makes a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseInterspersed parses flags that may come before or after positional
// arguments ("import FILE --json" as well as "import --json FILE").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
