package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/protectnow/protect/internal/testdb"
)

// The CLI makes the same campaigns as the API, calls included (the
// gateway's IVR places them), and refuses a spec the gateway could not run.
func TestCampaignCommands(t *testing.T) {
	cliEnv(t)
	ctx := context.Background()
	write := tempFiles(t)
	csv := write("cohort.csv", "nhs_number,given_name,family_name,date_of_birth,mobile,landline\n"+
		"9434765919,Ann,Test,1950-01-01,,01603 123456\n")
	policy := write("policy.json", `{"steps":[{"channel":"sms","wait":"1h"},{"channel":"voice","wait":"1h"}],"conversation_timeout":"1h"}`)
	var out, errOut bytes.Buffer
	if err := cmdCohort(ctx, []string{"import", "--cohort", "cli", csv}, &out, &errOut); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut.String())
	}
	const mg = "MG0123456789abcdef0123456789abcdef"
	tests := []struct {
		args    []string
		wantErr string
		wantOut string
	}{
		{[]string{"create", "--name", "calls", "--cohort", "cli", "--sender", mg, "--voice-sender", "+441603111111", "--policy", policy},
			"", `Campaign "calls" created`},
		{[]string{"create", "--name", "no caller", "--cohort", "cli", "--sender", mg, "--policy", policy}, "voice_sender: required", ""},
		{[]string{"create", "--name", "bad sender", "--cohort", "cli", "--sender", "07700 9009"}, "sender: expected", ""},
		{[]string{"create", "--name", "national sender", "--cohort", "cli", "--sender", "07700 900999"}, "", `Campaign "national sender" created`},
		{[]string{"forecast", "calls"}, "", `Forecast for "calls" if started now: 1 patients to reach`},
		{[]string{"forecast", "calls", "--finish-by", "2020-01-01"}, "", "WARNING: The campaign cannot finish by"},
		{[]string{"forecast", "calls", "--finish-by", "soon"}, "--finish-by", ""},
		{[]string{"start", "calls"}, "", "1 patients planned"},
		{[]string{"status", "calls", "--json"}, "", `"planned"`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[:2], " "), func(t *testing.T) {
			out.Reset()
			err := cmdCampaign(ctx, tc.args, &out, &errOut)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("error %v, output %q, want %q", err, out.String(), tc.wantOut)
			}
		})
	}
	var channel string
	if err := testdb.Store(t).Pool().QueryRow(ctx, `SELECT channel FROM attempts`).Scan(&channel); err != nil || channel != "voice" {
		t.Fatalf("the landline patient's first attempt: %q %v", channel, err)
	}
}
