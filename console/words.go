package console

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/store"
)

// Words for what people read: the console never shows a slug where a
// word will do.

var categoryWords = map[string]string{
	"clinical-urgent": "Urgent clinical",
	"clinical":        "Clinical",
	"medicines":       "Medicines or prescriptions",
	"food":            "Food or shopping",
	"social":          "Social support",
	"call-back":       "Wants a call back",
	"unclear-reply":   "Reply not understood",
	"unreachable":     "Not reached after every attempt",
	// identity-unconfirmed: a call's identity check failed.
	"identity-unconfirmed": "Could not confirm identity",
}

var outcomeWords = map[string]string{
	"helped":       "Helped",
	"referred":     "Referred on",
	"advice-given": "Advice given",
	"no-need":      "No need after all",
	"not-reached":  "Could not reach them",
	"declined":     "Declined help",
	"other":        "Other",
}

var stateWords = map[string]string{
	"open":      "Not claimed",
	"claimed":   "Claimed",
	"resolved":  "Resolved",
	"duplicate": "Closed as a duplicate",
}

var eventWords = map[string]string{
	"opened":               "Opened",
	"need-added":           "Another need added",
	"claimed":              "Claimed",
	"note":                 "Note",
	"resolved":             "Resolved",
	"duplicate":            "Closed as a duplicate",
	"handed-over":          "Handed over",
	"re-escalated":         "Moved up a tier: not claimed in time",
	"not-resolved-in-time": "Not resolved in time: team alerted",
}

var contactOutcomeWords = map[string]string{
	"spoke":        "Spoke to them",
	"no_answer":    "No answer",
	"left_message": "Left a voicemail",
	"wrong_number": "Wrong number",
	"declined":     "Declined",
	"other":        "Other",
}

var contactMethodWords = map[string]string{
	"phone": "Phoned", "sms": "Texted", "visit": "Visited", "letter": "Wrote", "email": "Emailed", "other": "Contacted",
}

var attemptWords = map[string]string{
	"sending": "sending", "retry": "being retried", "sent": "sent", "delivered": "delivered", "undelivered": "not delivered",
	"failed": "failed", "answered": "answered", "unanswered": "not answered", "completed": "completed",
}

// languageWords names every language the cohort importer accepts
// (outreach/cohort, languages).
var languageWords = map[string]string{
	"en": "English", "cy": "Welsh", "pl": "Polish", "pa": "Punjabi", "ur": "Urdu", "bn": "Bengali", "gu": "Gujarati",
	"ar": "Arabic", "ro": "Romanian", "pt": "Portuguese", "lt": "Lithuanian", "so": "Somali", "zh": "Chinese",
	"es": "Spanish", "fr": "French", "gd": "Scottish Gaelic", "ta": "Tamil", "tr": "Turkish",
}

var roleWords = map[string]string{
	"admin": "Admin", "handler": "Handler", "comms_lead": "Comms lead", "programme_lead": "Programme lead",
}

// callResultWords say how a call's dialog ended (calls.result).
var callResultWords = map[string]string{
	"finished": "Answered every question", "handover": "Handed to a person", "transferred": "Put through to the team",
	"callback": "Asked for a call back", "voicemail": "Reached voicemail", "fax": "Reached a fax",
	"no-input": "No key pressed", "identity-failed": "Identity not confirmed", "not-patient": "Someone else answered",
}

// actionWords say what an audit entry records.
var actionWords = map[string]string{
	"access.denied": "Was refused access", "audit.view": "Viewed the audit log",
	"campaign.cancel": "Cancelled a campaign", "campaign.complete": "Completed a campaign", "campaign.create": "Created a campaign",
	"campaign.forecast.view": "Viewed a campaign forecast", "campaign.pause": "Paused a campaign",
	"campaign.pin_templates": "Pinned a campaign's templates", "campaign.refused": "Was refused a campaign action",
	"campaign.report.download": "Downloaded a campaign report", "campaign.report.view": "Viewed a campaign report",
	"campaign.resume": "Resumed a campaign", "campaign.start": "Started a campaign", "campaign.view": "Viewed a campaign",
	"campaign.worklist.download": "Downloaded a worklist", "campaign.worklist.view": "Viewed a worklist",
	"campaigns.view": "Viewed the campaigns", "cohort.import": "Imported a cohort", "contact.record": "Recorded a contact",
	"csrf.refused":     "Sent a form that was refused (expired page)",
	"escalation.claim": "Claimed an escalation", "escalation.duplicate": "Closed an escalation as a duplicate",
	"escalation.handover": "Handed over an escalation", "escalation.handed-over": "Handed over an escalation",
	"escalation.note": "Added a note", "escalation.opened": "Opened an escalation", "escalation.overdue": "Escalation overdue",
	"escalation.raised": "Raised an escalation", "escalation.reescalate": "Moved an escalation up a tier",
	"escalation.resolve": "Resolved an escalation", "escalation.sms": "Texted a patient",
	"escalation.sms.failed": "Text to a patient failed", "escalation.unresolved": "Escalation not resolved in time",
	"escalation.view": "Viewed an escalation", "inbox.view": "Viewed the inbox",
	"login.failed": "Failed to log in", "login.throttled": "Log-in slowed after failures",
	"password.change": "Changed their password", "password.change_failed": "Failed to change their password",
	"password.throttled": "Password change slowed after failures", "patient.view": "Viewed a patient",
	"routing.reload": "Reloaded the routing", "routing.reload_failed": "Failed to reload the routing",
	"sender.hold": "Sending held", "sender.resume": "Sending resumed",
	"template.approve": "Approved a template", "template.approver_grant": "Made someone a template approver",
	"template.approver_revoke": "Removed a template approver", "template.create": "Created a template",
	"template.reject": "Rejected a template", "template.revert": "Reverted a template", "template.save": "Saved a template draft",
	"template.seed": "Loaded the shipped templates", "template.submit": "Submitted a template for approval",
	"template.test": "Sent a template test", "template.test_phone_add": "Added a test phone",
	"template.test_phone_remove": "Removed a test phone", "template.test_phone_verify": "Verified a test phone",
	"template.test_phone_verify_failed": "Failed to verify a test phone", "template.test_refused": "Was refused a template test",
	"token.create": "Created an API token", "token.revoke": "Revoked an API token",
	"user.create": "Created a user", "user.disable": "Disabled a user", "user.enable": "Enabled a user",
	"users.view": "Viewed the users", "call.identity": "Checked who answered a call",
}

var doneWords = map[string]string{
	"claimed":             "You claimed this escalation.",
	"note-added":          "Note added.",
	"shared-note-added":   "Note added and shared with every team that sees this patient.",
	"resolved":            "Escalation resolved.",
	"handed-over":         "Escalation handed over.",
	"closed-as-duplicate": "Escalation closed as a duplicate.",
	"called":              "Your call is on the contact ledger.",
	"sms-sent":            "Text sent to the patient.",
	"contact-recorded":    "Contact recorded.",
}

var triesWords = []string{"", "1st", "2nd", "3rd"}

// identityWords says how a call's identity check went, never what was
// typed: "Identity check: passed on the 2nd try".
func identityWords(result string, tries int) string {
	switch result {
	case "passed":
		if tries > 0 && tries < len(triesWords) {
			return "Identity check: passed on the " + triesWords[tries] + " try"
		}
		return "Identity check: passed"
	case "failed":
		if tries > 1 {
			return fmt.Sprintf("Identity check: not confirmed after %d tries", tries)
		}
		return "Identity check: not confirmed"
	case "not-patient":
		return "Identity check: someone else answered"
	}
	return "Identity check: " + strings.ToLower(word(nil, result))
}

// word looks a slug up, and otherwise makes it readable: dashes and
// underscores become spaces and the first letter a capital.
func word(m map[string]string, slug string) string {
	if w, ok := m[slug]; ok {
		return w
	}
	s := strings.NewReplacer("-", " ", "_", " ").Replace(slug)
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// flashText is the sentence for a "done" code, or the code itself.
func flashText(code string) string {
	if w, ok := doneWords[code]; ok {
		return w
	}
	return word(nil, code)
}

// person is an actor as people call them: "nina", not "user:nina".
func person(actor string) string {
	switch {
	case actor == "system" || actor == "":
		return "Protect"
	case strings.HasPrefix(actor, "user:"):
		return strings.TrimPrefix(actor, "user:")
	case strings.HasPrefix(actor, "token:"):
		return strings.TrimPrefix(actor, "token:") + " (team system)"
	}
	return actor
}

// span is a duration in words: "4 min", "2 h 5 min", "3 days".
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		if m := int(d.Minutes()) % 60; m != 0 {
			return fmt.Sprintf("%d h %d min", int(d.Hours()), m)
		}
		return fmt.Sprintf("%d h", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
}

// ago is a past time relative to now: "just now", "5 min ago"; a future
// one reads "in 5 min".
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < -time.Minute:
		return "in " + span(-d)
	case d < time.Minute:
		return "just now"
	}
	return span(d) + " ago"
}

// yearsOld is a person's age in whole years at now.
func yearsOld(dob, now time.Time) int {
	y := now.Year() - dob.Year()
	if now.Month() < dob.Month() || (now.Month() == dob.Month() && now.Day() < dob.Day()) {
		y--
	}
	return y
}

// countdown is a deadline as shown: words, and a class that turns amber
// when little time is left and red when it has passed. The same rule is in
// static/inbox.js, which keeps it current without a reload.
type countdown struct {
	Label string // "Claim" or "Resolve"
	Text  string
	Class string // ok, soon or late
	Start string // RFC 3339, for the script
	At    string
}

// soonWhen says when a deadline turns amber: a quarter of its time left,
// and never less than 15 minutes.
func soonWhen(start, due time.Time) time.Duration {
	return max(due.Sub(start)/4, 15*time.Minute)
}

func deadlineOf(e store.Escalation, now time.Time) *countdown {
	var c countdown
	var start time.Time
	switch {
	case e.State == store.EscalationOpen:
		c.Label, start = "Claim", e.OpenedAt
	case e.State == store.EscalationClaimed && e.ResolveBy != nil:
		c.Label, start = "Resolve", e.OpenedAt
		if e.ClaimedAt != nil {
			start = *e.ClaimedAt
		}
	default:
		return nil
	}
	due := e.Deadline()
	left := due.Sub(now)
	switch {
	case left < 0:
		c.Class, c.Text = "late", fmt.Sprintf("%s: overdue by %s", c.Label, span(-left))
	case left < soonWhen(start, due):
		c.Class, c.Text = "soon", fmt.Sprintf("%s within %s", c.Label, span(left))
	default:
		c.Class, c.Text = "ok", fmt.Sprintf("%s within %s", c.Label, span(left))
	}
	c.Start, c.At = start.UTC().Format(time.RFC3339), due.UTC().Format(time.RFC3339)
	return &c
}

// auditWords is an audit entry's details as people read them:
// "Outcome: Helped; team: clinical", keys in order, values in words where
// they are slugs we know; lists joined with commas.
func auditWords(details map[string]any) string {
	keys := make([]string, 0, len(details))
	for k := range details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, word(nil, k)+": "+auditValue(k, details[k]))
	}
	return strings.Join(parts, "; ")
}

func auditValue(key string, v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case bool:
		return map[bool]string{true: "yes", false: "no"}[v]
	case string:
		switch key {
		case "outcome":
			if w, ok := outcomeWords[v]; ok {
				return w
			}
			return word(contactOutcomeWords, v)
		case "category":
			return word(categoryWords, v)
		case "method":
			return word(contactMethodWords, v)
		case "attempted":
			return v
		}
		return v
	case []any:
		if len(v) == 0 {
			return "none"
		}
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = auditValue(key, x)
		}
		return strings.Join(out, ", ")
	case float64:
		return fmt.Sprintf("%g", v)
	}
	return fmt.Sprint(v)
}

// telHref is the tel: link of an E.164 number.
func telHref(e164 string) template.URL {
	if e164 == "" || strings.Trim(e164, "+0123456789") != "" {
		return ""
	}
	return template.URL("tel:" + e164)
}

// handlerFuncs are the template functions of the inbox and escalation
// pages.
func (c *Console) handlerFuncs() template.FuncMap {
	return template.FuncMap{
		"category":       func(s string) string { return word(categoryWords, s) },
		"outcomeWords":   func(s string) string { return word(outcomeWords, s) },
		"stateWords":     func(s string) string { return word(stateWords, s) },
		"eventWords":     func(s string) string { return word(eventWords, s) },
		"contactOutcome": func(s string) string { return word(contactOutcomeWords, s) },
		"contactMethod":  func(s string) string { return word(contactMethodWords, s) },
		"priorityWords":  func(s string) string { return word(nil, s) },
		"language":       func(s string) string { return word(languageWords, s) },
		"person":         person,
		"ago":            ago,
		"yearsOld":       yearsOld,
		"national":       phone.National,
		"tel":            telHref,
		"deadline":       deadlineOf,
		"clock":          func(t time.Time) string { return t.In(c.loc).Format("15:04") },
		"day": func(t time.Time) string {
			return t.In(c.loc).Format("Mon 2 Jan")
		},
		"snippet": func(s string) string {
			if r := []rune(s); len(r) > 140 {
				return string(r[:139]) + "…"
			}
			return s
		},
		"attemptWords": func(s string) string { return word(attemptWords, s) },
		"callResult":   func(s string) string { return word(callResultWords, s) },
		"actionWords":  func(s string) string { return word(actionWords, s) },
		"roleWords":    func(s string) string { return word(roleWords, s) },
		"auditWords":   auditWords,
	}
}
