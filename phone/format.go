package phone

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// National formats an E.164 UK number the way people in the UK write it:
// 07911 123 456, 01603 123 456, 020 7946 0000. The library's national
// format is used, with a six-digit subscriber number split in threes so it
// can be read out in a breath. Anything it cannot parse is returned as
// given.
func National(e164 string) string {
	n, err := phonenumbers.Parse(e164, "GB")
	if err != nil {
		return e164
	}
	s := phonenumbers.Format(n, phonenumbers.NATIONAL)
	if n.GetCountryCode() != 44 {
		return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
	}
	if area, rest, ok := strings.Cut(s, " "); ok && len(rest) == 6 && !strings.Contains(rest, " ") {
		return area + " " + rest[:3] + " " + rest[3:]
	}
	return s
}
