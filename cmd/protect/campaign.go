package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/protectnow/protect/app"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/protectnow/protect/escalation"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
	"github.com/protectnow/protect/window"
)

const campaignUsage = `usage:
  protect campaign create --name NAME --cohort COHORT --sender NUMBER|MGSID [--voice-sender NUMBER] [--pace N]
                          [--window FILE.json] [--policy FILE.json] [--questionnaire FILE.yaml]
                          [--programme NAME] [--team-phone NUMBER]
  protect campaign start|pause|resume|cancel NAME
  protect campaign status NAME [--json]
  protect campaign forecast NAME [--finish-by YYYY-MM-DD] [--json]
  protect campaign pin NAME --live | KEY:CHANNEL:LANGUAGE=VERSION ... | --none
  protect campaign list`

func cmdCampaign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{campaignUsage}
	}
	rt, err := openRuntime(ctx, stderr, app.MigrateApply)
	if err != nil {
		return err
	}
	defer rt.Close()
	// Campaign commands only touch PostgreSQL: no Twilio client or queue.
	// The gateway's IVR places the calls of the campaigns made here.
	eng := outreach.New(outreach.Options{Store: rt.Store, Texts: templateadmin.NewDBTexts(rt.Store, 0, rt.Logger),
		PublicURL: rt.Config.PublicURL, Logger: rt.Logger, Voice: true})
	who := "cli:" + os.Getenv("USER")
	sub, rest := args[0], args[1:]
	switch sub {
	case "create":
		return campaignCreate(ctx, eng, who, rest, stdout, stderr)
	case "list":
		if len(rest) > 0 {
			return usageError{"campaign list takes no arguments"}
		}
		cs, err := rt.Store.Campaigns(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-5s %-30s %-10s %-20s %s\n", "ID", "NAME", "STATE", "COHORT", "PACE/s")
		for _, c := range cs {
			fmt.Fprintf(stdout, "%-5d %-30s %-10s %-20s %g\n", c.ID, c.Name, c.State, c.CohortName, c.Pace)
		}
		return nil
	case "pin":
		return campaignPin(ctx, rt.Store, who, rest, stdout, stderr)
	case "start", "pause", "resume", "cancel", "status", "forecast":
	default:
		return usageError{campaignUsage}
	}
	fs := newFlagSet("campaign "+sub, stderr)
	asJSON := fs.Bool("json", false, "print as JSON")
	finishBy := fs.String("finish-by", "", "forecast: warn when the campaign cannot finish by the end of this date (YYYY-MM-DD)")
	pos, err := parseInterspersed(fs, rest)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"give the campaign's name"}
	}
	c, err := rt.Store.CampaignByName(ctx, pos[0])
	if err != nil {
		return err
	}
	switch sub {
	case "start":
		warnCoverage(stderr, c, time.Now())
		n, err := eng.Start(ctx, c.ID, who)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Campaign %q started: %d patients planned.\n", c.Name, n)
	case "pause":
		if err := eng.Pause(ctx, c.ID, who); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Campaign %q paused: no new contact will be made until it is resumed.\n", c.Name)
	case "resume":
		if err := eng.Resume(ctx, c.ID, who); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Campaign %q resumed.\n", c.Name)
	case "cancel":
		if err := eng.Cancel(ctx, c.ID, who); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Campaign %q cancelled.\n", c.Name)
	case "status":
		counts, err := rt.Store.CampaignStatus(ctx, c.ID)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"campaign": c, "status": counts})
		}
		printStatus(stdout, c, counts)
	case "forecast":
		warnCoverage(stderr, c, time.Now())
		return campaignForecast(ctx, eng, rt.Config.RoutingFile, rt.Config.Timezone, c, *finishBy, *asJSON, stdout)
	}
	return nil
}

// campaignForecast prints what a campaign would do if started now: contacts
// per day, escalations per team against capacity, and warnings.
func campaignForecast(ctx context.Context, eng *outreach.Engine, routingFile string, loc *time.Location, c store.Campaign,
	finishBy string, asJSON bool, stdout io.Writer) error {
	r, err := escalation.LoadRoutingFile(routingFile)
	if err != nil {
		return err
	}
	var by time.Time
	if finishBy != "" {
		d, err := window.ParseDate(finishBy)
		if err != nil {
			return usageError{"--finish-by: " + err.Error()}
		}
		by = d.AddDays(1).In(loc).Add(-time.Second)
	}
	f, err := eng.ForecastCampaign(ctx, c, time.Now(), by, outreach.ForecastRouting{DefaultTeam: r.DefaultTeam,
		UnreachableTeam: r.UnreachableTeam(), Capacity: r.Capacities()})
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(f)
	}
	day := func(t time.Time) string { return t.In(loc).Format("Mon 2 Jan 2006 15:04") }
	fmt.Fprintf(stdout, "Forecast for %q if started now: %d patients to reach, about %.0f attempts.\n", c.Name, f.Patients, f.Attempts)
	fmt.Fprintf(stdout, "First messages %s; last first messages %s; last journeys end %s.\n", day(f.FirstContact), day(f.LastFirstContact), day(f.Ends))
	fmt.Fprintln(stdout, "Contacts per day:")
	for _, d := range f.Days {
		fmt.Fprintf(stdout, "  %s %10.0f\n", d.Date, d.Contacts)
	}
	fmt.Fprintln(stdout, "Escalations by team (busiest hour against capacity an hour):")
	for _, t := range f.Teams {
		capacity := "not set"
		if t.Capacity > 0 {
			capacity = strconv.Itoa(t.Capacity)
		}
		fmt.Fprintf(stdout, "  %-24s %8.0f in all, busiest %6.1f at %s, capacity %s\n", t.Team, t.Total, t.Peak, day(t.PeakAt), capacity)
	}
	for _, a := range f.Assumptions {
		fmt.Fprintln(stdout, "Assumed: "+a)
	}
	for _, w := range f.Warnings {
		fmt.Fprintln(stdout, "WARNING: "+w)
	}
	return nil
}

func printStatus(w io.Writer, c store.Campaign, s store.CampaignCounts) {
	fmt.Fprintf(w, "Campaign %q (%s), cohort %q, %d patients, pace %g/s\n", c.Name, c.State, c.CohortName, s.Patients, c.Pace)
	fmt.Fprintln(w, "Outcomes:")
	for _, k := range []string{"fine", "need", "opted_out", "unreachable"} {
		fmt.Fprintf(w, "  %-16s %8d\n", k, s.Outcomes[k])
	}
	fmt.Fprintf(w, "  %-16s %8d\n", "in progress", s.Patients-s.States["done"])
	section := func(title string, m map[string]int) {
		if len(m) == 0 {
			return
		}
		fmt.Fprintln(w, title)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %-16s %8d\n", k, m[k])
		}
	}
	section("Patients by state:", s.States)
	section("Attempts by state:", s.Attempts)
	section("Needs reported:", s.NeedsByType)
}

func campaignCreate(ctx context.Context, eng *outreach.Engine, who string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("campaign create", stderr)
	name := fs.String("name", "", "campaign name (unique)")
	cohort := fs.String("cohort", "", "cohort to contact")
	sender := fs.String("sender", "", "Twilio number (07700 900999 or +447700900999) or messaging service SID (MG...)")
	voiceSender := fs.String("voice-sender", "", "Twilio number (01603 111111 or +441603111111) calls come from (default: the sender, when it is a number)")
	pace := fs.Float64("pace", 5, "messages per second")
	windowFile := fs.String("window", "", "calling window JSON file (default Mon-Sat 09:00-19:00 Europe/London, closed on England and Wales bank holidays)")
	policyFile := fs.String("policy", "", "attempt policy JSON file (default: SMS, SMS 48h later, then a call 48h after that)")
	qFile := fs.String("questionnaire", "", "questionnaire YAML file (default: the wellbeing check)")
	programme := fs.String("programme", "NHS Protect", "programme name used in messages")
	teamPhone := fs.String("team-phone", "", "phone number patients can call, used in messages")
	identity := fs.String("identity-check", "dob", "how calls confirm who answered before any health question: dob (day and month of birth), year (year of birth) or off")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{"unexpected arguments: use the flags"}
	}
	spec := outreach.CampaignSpec{Name: *name, Cohort: *cohort, Sender: *sender, VoiceSender: *voiceSender, Pace: *pace, ProgrammeName: *programme,
		TeamPhone: *teamPhone, CreatedBy: who, Questionnaire: *qFile, IdentityCheck: *identity}
	read := func(path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		return b, nil
	}
	if spec.Window, err = read(*windowFile); err != nil {
		return err
	}
	if spec.Policy, err = read(*policyFile); err != nil {
		return err
	}
	if spec.QuestionnaireData, err = read(*qFile); err != nil {
		return err
	}
	c, err := eng.CreateCampaign(ctx, spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Campaign %q created (id %s) as a draft. Start it with: protect campaign start %s\n", c.Name, strconv.FormatInt(c.ID, 10), c.Name)
	warnCoverage(stderr, c, time.Now())
	return nil
}

// campaignPin pins template versions to a campaign: every template at its
// live version (--live), none (--none), or the versions given.
func campaignPin(ctx context.Context, st *store.Store, who string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("campaign pin", stderr)
	live := fs.Bool("live", false, "pin every template to its live version")
	none := fs.Bool("none", false, "remove every pin: send the live versions")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 || *live && *none || (*live || *none) != (len(pos) == 1) {
		return usageError{campaignUsage}
	}
	c, err := st.CampaignByName(ctx, pos[0])
	if err != nil {
		return err
	}
	svc := templateadmin.New(templateadmin.Options{Store: st})
	actor := templateadmin.Actor{Name: who, Role: store.RoleAdmin}
	pins := map[string]int{}
	switch {
	case *live:
		if pins, err = svc.PinLive(ctx, actor, c.ID); err != nil {
			return err
		}
	default:
		for _, p := range pos[1:] {
			k, v, ok := strings.Cut(p, "=")
			n, err := strconv.Atoi(v)
			if !ok || err != nil || strings.Count(k, ":") != 2 {
				return usageError{"pins look like wellbeing.ok:sms:en=3"}
			}
			pins[k] = n
		}
		if err := svc.SetPins(ctx, actor, c.ID, pins); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "Campaign %q pins %d template versions; other templates follow their live version.\n", c.Name, len(pins))
	return nil
}

// warnCoverage prints outreach.CoverageWarning for a campaign, if any.
func warnCoverage(w io.Writer, c store.Campaign, now time.Time) {
	if msg := outreach.CoverageWarning(c, now); msg != "" {
		fmt.Fprintf(w, "warning: campaign %q: %s\n", c.Name, msg)
	}
}
