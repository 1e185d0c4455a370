package main

import (
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReadmeCommandTable: the README's command table names every command
// and subcommand the CLI has, and no other, so the two cannot drift.
func TestReadmeCommandTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "\n## Commands\n")
	if !ok {
		t.Fatal("README has no Commands section")
	}
	table, _, _ = strings.Cut(table, "\n## ")

	documented := map[string]bool{}
	span := regexp.MustCompile("`protect ([^`]+)`")
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		for _, m := range span.FindAllStringSubmatch(line, -1) {
			words := strings.Fields(m[1])
			cmd, ok := commands[words[0]]
			if !ok || len(cmd.subcommands) == 0 || len(words) < 2 {
				documented[words[0]] = true
				continue
			}
			for _, sub := range strings.Split(words[1], `\|`) {
				documented[words[0]+" "+sub] = true
			}
		}
	}
	var want []string
	for name, cmd := range commands {
		if len(cmd.subcommands) == 0 {
			want = append(want, name)
		}
		for _, sub := range cmd.subcommands {
			want = append(want, name+" "+sub)
		}
	}
	slices.Sort(want)
	for _, w := range want {
		if !documented[w] {
			t.Errorf("README's command table lacks `protect %s`", w)
		}
	}
	for d := range documented {
		if !slices.Contains(want, d) {
			t.Errorf("README's command table has `protect %s`, which the CLI does not know", d)
		}
	}
	// The summaries printed by `protect help` name the same subcommands.
	for name, cmd := range commands {
		for _, sub := range cmd.subcommands {
			if !strings.Contains(cmd.summary, sub) {
				t.Errorf("summary of %s does not mention %s: %q", name, sub, cmd.summary)
			}
		}
	}
}

func TestCampaignCreateHelpMatchesDefaultWindow(t *testing.T) {
	var out strings.Builder
	err := campaignCreate(t.Context(), nil, "", []string{"-h"}, &out, &out)
	if err == nil || !strings.Contains(out.String(), "closed on England and Wales bank holidays") {
		t.Fatalf("help (%v):\n%s", err, out.String())
	}
}

// TestSubcommandsAreDispatched: every subcommand the README table and the
// help list (command.subcommands) is one its command really runs: given a
// wrong argument it answers about itself, not with the usage a word the
// command does not know gets.
func TestSubcommandsAreDispatched(t *testing.T) {
	cliEnv(t)
	ctx := context.Background()
	for name, cmd := range commands {
		if len(cmd.subcommands) == 0 {
			continue
		}
		unknown := cmd.run(ctx, []string{"no-such-subcommand"}, io.Discard, io.Discard)
		var ue usageError
		if !errors.As(unknown, &ue) {
			t.Errorf("protect %s no-such-subcommand: %v; want the usage", name, unknown)
			continue
		}
		for _, sub := range cmd.subcommands {
			err := cmd.run(ctx, []string{sub, "--no-such-flag", "extra"}, io.Discard, io.Discard)
			if err == nil || err.Error() == unknown.Error() {
				t.Errorf("protect %s %s with a wrong argument: %v; want its own answer", name, sub, err)
			}
		}
	}
}
