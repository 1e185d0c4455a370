package templateadmin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
)

// TestLookupErrorsKeepTheirCause: while the database cannot be reached,
// creating a campaign reports the database error, never that a template
// or cohort "does not exist" nor that the spec is invalid; a template that
// really has no text is still reported missing.
func TestLookupErrorsKeepTheirCause(t *testing.T) {
	ctx := context.Background()
	testdb.Store(t) // the package database is set up and seeded
	down, err := store.Open(ctx, testdb.URL())
	if err != nil {
		t.Fatal(err)
	}
	down.Close() // every query now fails, as when PostgreSQL refuses connections
	eng := outreach.New(outreach.Options{Store: down, Texts: templateadmin.NewDBTexts(down, 0, nil), Voice: true})

	_, _, err = eng.SaveQuestionnaire(ctx, "wellbeing.yaml", questionnaire.DefaultYAML())
	var lerr *questionnaire.LoadError
	if err == nil || errors.As(err, &lerr) || strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "closed pool") {
		t.Fatalf("questionnaire check with the database down: %v", err)
	}

	_, err = eng.CreateCampaign(ctx, outreach.CampaignSpec{Name: "c", Cohort: "any", Sender: "+447700900001", Pace: 1})
	var serr *outreach.InvalidSpecError
	if err == nil || errors.As(err, &serr) || errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "closed pool") {
		t.Fatalf("campaign create with the database down: %v", err)
	}

	// A real miss is still a missing template, reported as such.
	up := testdb.Store(t)
	eng = outreach.New(outreach.Options{Store: up, Texts: templateadmin.NewDBTexts(up, 0, nil), Voice: true})
	yaml := strings.Replace(string(questionnaire.DefaultYAML()), "intro: wellbeing.intro", "intro: wellbeing.nosuchintro", 1)
	if yaml == string(questionnaire.DefaultYAML()) {
		t.Fatal("the default questionnaire no longer names wellbeing.intro")
	}
	_, _, err = eng.SaveQuestionnaire(ctx, "wellbeing.yaml", []byte(yaml))
	if !errors.As(err, &lerr) || !strings.Contains(err.Error(), `intro template "wellbeing.nosuchintro" does not exist`) {
		t.Fatalf("missing template: %v", err)
	}
}
