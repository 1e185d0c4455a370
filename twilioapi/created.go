package twilioapi

import "time"

// createdSlack allows for Twilio's times being cut to the second and for
// its clock not being ours.
const createdSlack = 5 * time.Second

// CreatedSince reports whether a resource whose date_created Twilio gives
// as dateCreated (RFC 1123 with a numeric zone, whole seconds) may have
// been created at or after since. A missing or unreadable time counts as
// since: when asking "did an earlier try already send this?", assuming so
// is the answer that never contacts a patient twice.
func CreatedSince(dateCreated *string, since time.Time) bool {
	if dateCreated == nil {
		return true
	}
	t, err := time.Parse(time.RFC1123Z, *dateCreated)
	if err != nil {
		return true
	}
	return !t.Before(since.Add(-createdSlack))
}
