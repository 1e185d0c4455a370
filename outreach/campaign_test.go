package outreach_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/outreach"
)

// A campaign spec is checked when the campaign is created, every problem
// named at once, so nothing fails later at the first message or call.
func TestCreateCampaignChecksTheSpec(t *testing.T) {
	h := newHarness(t, nil)
	h.importCohort("spec", []patient{{nhs: "9434765919", given: "Ann", mobile: "07700 900001"}})
	const mg = "MG0123456789abcdef0123456789abcdef"
	callTwice := []byte(`{"steps":[{"channel":"sms","wait":"1h"},{"channel":"voice","wait":"1h"}],"conversation_timeout":"1h"}`)
	textTwice := []byte(`{"steps":[{"channel":"sms","wait":"1h"},{"channel":"sms","wait":"1h"}],"conversation_timeout":"1h"}`)
	tests := []struct {
		name    string
		spec    outreach.CampaignSpec
		noVoice bool     // an engine that cannot call
		want    []string // in the error; none: created
		stored  string   // the senders stored, when they differ from the spec's
	}{
		{name: "a number", spec: outreach.CampaignSpec{Sender: "+447700900999"}},
		{name: "a messaging service, SMS only", spec: outreach.CampaignSpec{Sender: mg, Policy: textTwice}},
		{name: "a messaging service and a voice sender", spec: outreach.CampaignSpec{Sender: mg, VoiceSender: "+441603111111", Policy: callTwice}},
		{name: "a messaging service that calls from nothing", spec: outreach.CampaignSpec{Sender: mg, Policy: callTwice},
			want: []string{"voice_sender: required"}},
		{name: "the default policy calls too", spec: outreach.CampaignSpec{Sender: mg}, want: []string{"voice_sender: required"}},
		{name: "a number as people write it", spec: outreach.CampaignSpec{Sender: "07700 900999", VoiceSender: "+44 (0)1603 111111"},
			stored: "+447700900999 +441603111111"},
		{name: "not a number", spec: outreach.CampaignSpec{Sender: "07700 9009"}, want: []string{"sender: expected"}},
		{name: "not a service", spec: outreach.CampaignSpec{Sender: "MG123"}, want: []string{"sender: expected"}},
		{name: "voice sender not a number", spec: outreach.CampaignSpec{Sender: "+447700900999", VoiceSender: "01603 1111"},
			want: []string{"voice_sender: expected"}},
		{name: "everything wrong at once", spec: outreach.CampaignSpec{Name: "-", Cohort: "missing", Pace: -1},
			want: []string{"sender: required", "pace:", "cohort:"}},
		{name: "an engine that cannot call refuses voice steps", spec: outreach.CampaignSpec{Sender: "+447700900999", Policy: callTwice},
			noVoice: true, want: []string{"voice calls are not available"}},
		{name: "an engine that cannot call plans SMS only", spec: outreach.CampaignSpec{Sender: mg}, noVoice: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := h.engine
			if tt.noVoice {
				eng = outreach.New(outreach.Options{Store: testdb.Store(t)})
			}
			spec := tt.spec
			if spec.Name == "" {
				spec.Name = "spec " + strings.Repeat("x", i)
			}
			if spec.Cohort == "" {
				spec.Cohort = "spec"
			}
			if spec.Pace == 0 {
				spec.Pace = 5
			}
			spec.CreatedBy = "test"
			c, err := eng.CreateCampaign(context.Background(), spec)
			var invalid *outreach.InvalidSpecError
			switch {
			case len(tt.want) == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case len(tt.want) > 0 && !errors.As(err, &invalid):
				t.Fatalf("error %v, want an InvalidSpecError", err)
			}
			if got := c.Sender + " " + c.VoiceSender; err == nil && tt.stored != "" && got != tt.stored {
				t.Errorf("stored senders %q, want %q", got, tt.stored)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
