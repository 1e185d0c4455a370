package escalation

import (
	"github.com/protectnow/protect/store"
)

// SeesDetails is the sharing rule of the patient timeline, the one place
// that decides it for the API and the console: a team's notes and
// escalation details are seen by that team, admins and programme leads,
// and by everyone who sees the patient when the author shared the note.
// Protect's own outreach (team "") is seen by all who see the patient.
func SeesDetails(a Actor, team string, shared bool) bool {
	return team == "" || shared || a.inTeam(team)
}

// VisibleTimeline applies SeesDetails to a patient's timeline. Every
// organisation's contacts with the patient stay: who (team and person),
// when, the channel and the outcome; another team's contact note is
// dropped unless shared. Another team's escalation entries keep only that
// something happened and when: category, note, outcome and link are
// dropped, unless the entry is a shared note.
func VisibleTimeline(a Actor, entries []store.TimelineEntry) []store.TimelineEntry {
	out := make([]store.TimelineEntry, 0, len(entries))
	for _, e := range entries {
		if e.Kind == "escalation" && e.Shared && !SeesDetails(a, e.Team, false) {
			// A shared note is for everyone who sees the patient; which
			// need the escalation is about stays with the team.
			e.Summary = "note shared by " + e.Team
			e.EscalationID = nil
		}
		if !SeesDetails(a, e.Team, e.Shared) {
			switch e.Kind {
			case "contact":
				e.Note = ""
			default:
				e = store.TimelineEntry{At: e.At, Kind: e.Kind, Source: e.Team, Team: e.Team,
					Summary: "escalation update (details with the team)"}
			}
		}
		out = append(out, e)
	}
	return out
}

// visibleEscalations keeps the escalations whose details the actor sees.
func visibleEscalations(a Actor, list []store.Escalation) []store.Escalation {
	out := make([]store.Escalation, 0, len(list))
	for _, e := range list {
		if SeesDetails(a, e.Team, false) {
			out = append(out, e)
		}
	}
	return out
}
