package templates

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestRegistryForEveryPurpose(t *testing.T) {
	for _, p := range Purposes() {
		r, err := RegistryFor(p)
		if err != nil {
			t.Fatalf("RegistryFor(%s): %v", p, err)
		}
		if !p.Valid() || !p.Channel().Valid() {
			t.Errorf("%s: Valid %v, Channel %q", p, p.Valid(), p.Channel())
		}
		// Every sample value is usable: the samples render every
		// placeholder the registry allows.
		var sb strings.Builder
		for _, ph := range r.Placeholders() {
			if ph.Kind == KindFlag {
				sb.WriteString("((" + ph.Name + "??x))")
			} else {
				sb.WriteString("((" + ph.Name + "))")
			}
			if ph.Description == "" || ph.Example == "" {
				t.Errorf("%s: %s lacks a description or example", p, ph.Name)
			}
		}
		if err := Check(sb.String(), r); err != nil {
			t.Errorf("%s: own placeholders fail Check: %v", p, err)
		}
		b, _ := Parse(sb.String())
		if _, err := b.Render(r.Samples()); err != nil {
			t.Errorf("%s: samples do not render: %v", p, err)
		}
	}
	if _, err := RegistryFor("nonsense"); !errors.Is(err, ErrInvalidRegistry) {
		t.Errorf("unknown purpose: %v", err)
	}
}

func TestPurposeChannel(t *testing.T) {
	tests := map[Purpose]Channel{
		PurposeInvitation: ChannelSMS, PurposeAlert: ChannelSMS, PurposeOptOut: ChannelSMS,
		PurposeVoiceGreeting: ChannelVoice, PurposeVoicemail: ChannelVoice, PurposeVoicePrompt: ChannelVoice,
		PurposeVoiceGoodbye: ChannelVoice, "nonsense": "",
	}
	for p, want := range tests {
		if got := p.Channel(); got != want {
			t.Errorf("%s.Channel() = %q, want %q", p, got, want)
		}
	}
}

func TestRegistryConfidentiality(t *testing.T) {
	tests := []struct {
		purpose Purpose
		name    string
		allowed bool
	}{
		{PurposeInvitation, "last_name", true},
		{PurposeVoicemail, "first_name", true},
		{PurposeVoicemail, "last_name", false},
		{PurposeVoicemail, "campaign_name", false},
		{PurposeOptOut, "first_name", false},
		{PurposeHelp, "team_phone", true},
		{PurposeAlert, "first_name", false},
		{PurposeAlert, "reference", true},
		{PurposeQuestion, "question_number", true},
		{PurposeInvitation, "question_number", false},
		{PurposeUrgentAdvice, "out_of_hours", true},
	}
	for _, tt := range tests {
		r, err := RegistryFor(tt.purpose)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.Lookup(tt.name); ok != tt.allowed {
			t.Errorf("%s allows %s = %v, want %v", tt.purpose, tt.name, ok, tt.allowed)
		}
	}
}

func TestNewRegistry(t *testing.T) {
	tests := []struct {
		name string
		in   []Placeholder
		ok   bool
	}{
		{"empty", nil, true},
		{"normalises names", []Placeholder{{Name: "First Name", Kind: KindText}}, true},
		{"invalid name", []Placeholder{{Name: "first.name", Kind: KindText}}, false},
		{"unknown kind", []Placeholder{{Name: "a", Kind: "number"}}, false},
		{"duplicate after normalising", []Placeholder{{Name: "a_b", Kind: KindText}, {Name: "A B", Kind: KindFlag}}, false},
	}
	for _, tt := range tests {
		r, err := NewRegistry(tt.in...)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidRegistry) {
			t.Errorf("%s: error does not wrap ErrInvalidRegistry", tt.name)
		}
		if err == nil && len(tt.in) > 0 {
			if _, ok := r.Lookup("FIRST-NAME"); !ok {
				t.Errorf("%s: lookup by another spelling failed", tt.name)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	allowed, err := NewRegistry(
		Placeholder{Name: "first_name", Kind: KindText},
		Placeholder{Name: "practice_name", Kind: KindText},
		Placeholder{Name: "repeat_attempt", Kind: KindFlag},
	)
	if err != nil {
		t.Fatal(err)
	}
	type prob struct {
		name         string
		line, column int
		reason       string
	}
	tests := []struct {
		name     string
		body     string
		registry *Registry
		syntax   bool
		want     []prob
	}{
		{"all known", "Hi ((First Name)) at ((practice_name)) ((repeat_attempt??again))", allowed, false, nil},
		{"no placeholders, nil registry", "Hello", nil, false, nil},
		{"every unknown listed once, in order", "((nhs_number)) ((first_name))\n((dob)) ((nhs_number)) ((x??y))", allowed, false, []prob{
			{"nhs_number", 1, 1, "not a placeholder this template can use"},
			{"dob", 2, 1, "not a placeholder"},
			{"x", 2, 24, "not a placeholder"},
		}},
		{"flag used as text", "((repeat_attempt))", allowed, false, []prob{{"repeat_attempt", 1, 1, "is a yes/no flag"}}},
		{"text used as flag", "((first_name??hi))", allowed, false, []prob{{"first_name", 1, 1, "not a yes/no flag"}}},
		{"nil registry allows nothing", "((first_name))", nil, false, []prob{{"first_name", 1, 1, "not a placeholder"}}},
		{"syntax error first", "((first_name", allowed, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.body, tt.registry)
			if tt.syntax {
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("err = %v, want a syntax error", err)
				}
				return
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var ce *CheckError
			if !errors.As(err, &ce) || !errors.Is(err, ErrUnknownPlaceholder) {
				t.Fatalf("err = %v, want *CheckError", err)
			}
			var got []prob
			for _, p := range ce.Problems {
				got = append(got, prob{p.Name, p.Line, p.Column, ""})
				if !strings.Contains(p.Reason, tt.want[len(got)-1].reason) {
					t.Errorf("reason %q lacks %q", p.Reason, tt.want[len(got)-1].reason)
				}
				if !strings.Contains(err.Error(), p.Reason) {
					t.Errorf("Error() omits %q", p.Reason)
				}
			}
			var want []prob
			for _, p := range tt.want {
				want = append(want, prob{p.name, p.line, p.column, ""})
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("problems %+v, want %+v", got, want)
			}
		})
	}
}
