// Package phone turns the telephone numbers found in NHS extracts into E.164
// contact routes and decides whether each is a mobile (SMS and calls) or a
// landline (calls only). Numbers that cannot safely be used to contact a
// patient are refused with a reason a person can act on.
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Kind says what a number can be used for.
type Kind string

// Kinds of contact route.
const (
	Mobile   Kind = "mobile"   // SMS and voice
	Landline Kind = "landline" // voice only
)

// Number is a usable UK contact route.
type Number struct {
	E164 string
	Kind Kind
	// Test is set for Ofcom's drama range 07700 900000–900999, which GOV.UK
	// Notify also uses for test messages. They are only accepted when the
	// parser allows test numbers (sandbox and tests).
	Test bool
}

// Reasons a number is refused. Wrapped errors carry detail.
var (
	ErrEmpty       = errors.New("no number")
	ErrInvalid     = errors.New("not a valid phone number")
	ErrNotUK       = errors.New("not a UK number")
	ErrPremium     = errors.New("premium-rate number")
	ErrTollFree    = errors.New("freephone number")
	ErrSharedCost  = errors.New("shared-cost number")
	ErrPersonal    = errors.New("personal number (070), charged at premium rates")
	ErrPager       = errors.New("pager number")
	ErrUnsupported = errors.New("not a number a patient can be reached on")
	ErrTestNumber  = errors.New("a test number (07700 900xxx), not a real patient's phone")
)

// ukRegions are the regions the library gives to +44 numbers: Guernsey,
// Jersey and the Isle of Man share the UK numbering plan, and many ordinary
// UK mobiles are filed under them.
var ukRegions = map[string]bool{"GB": true, "GG": true, "JE": true, "IM": true}

// Parser parses numbers as UK numbers. The zero value refuses test numbers.
type Parser struct {
	AllowTestNumbers bool
}

// Parse parses raw as a UK number and classifies it.
func (p Parser) Parse(raw string) (Number, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return Number{}, ErrEmpty
	}
	if len(s) > 40 {
		return Number{}, ErrInvalid
	}
	nsn, ok := ukNational(s)
	if !ok {
		return p.parseSlow(s)
	}
	e164 := "+44" + nsn
	if isTestRange(e164) {
		return p.testNumber(e164)
	}
	c, err := classifyUK(nsn)
	if err != nil {
		return Number{}, err
	}
	return Number{E164: e164, Kind: c}, nil
}

// parseSlow hands anything that is not plainly a +44 number to the library.
func (p Parser) parseSlow(s string) (Number, error) {
	n, err := phonenumbers.Parse(s, "GB")
	if err != nil {
		return Number{}, ErrInvalid
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	if n.GetCountryCode() == 44 {
		if isTestRange(e164) {
			return p.testNumber(e164)
		}
		kind, err := classifyLibrary(n)
		if err != nil {
			return Number{}, err
		}
		return Number{E164: e164, Kind: kind}, nil
	}
	if !phonenumbers.IsValidNumber(n) {
		return Number{}, ErrNotUK
	}
	return Number{}, fmt.Errorf("%w (%s)", ErrNotUK, phonenumbers.GetRegionCodeForNumber(n))
}

func (p Parser) testNumber(e164 string) (Number, error) {
	if !p.AllowTestNumbers {
		return Number{}, ErrTestNumber
	}
	return Number{E164: e164, Kind: Mobile, Test: true}, nil
}

// classifyLibrary asks the library whether a +44 number is valid and what
// kind it is.
func classifyLibrary(n *phonenumbers.PhoneNumber) (Kind, error) {
	region := phonenumbers.GetRegionCodeForNumber(n)
	if region == "" || !phonenumbers.IsValidNumberForRegion(n, region) {
		return "", ErrInvalid
	}
	if !ukRegions[region] {
		return "", fmt.Errorf("%w (%s)", ErrNotUK, region)
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.MOBILE:
		return Mobile, nil
	case phonenumbers.FIXED_LINE, phonenumbers.FIXED_LINE_OR_MOBILE, phonenumbers.VOIP, phonenumbers.UAN:
		return Landline, nil
	case phonenumbers.PREMIUM_RATE:
		return "", ErrPremium
	case phonenumbers.TOLL_FREE:
		return "", ErrTollFree
	case phonenumbers.SHARED_COST:
		return "", ErrSharedCost
	case phonenumbers.PERSONAL_NUMBER:
		return "", ErrPersonal
	case phonenumbers.PAGER:
		return "", ErrPager
	default:
		return "", ErrUnsupported
	}
}

// isTestRange reports whether e164 is in +44 7700 900000–900999.
func isTestRange(e164 string) bool {
	return len(e164) == 13 && strings.HasPrefix(e164, "+447700900")
}

// IsTestNumber reports whether an E.164 number is in the 07700 900xxx range.
func IsTestNumber(e164 string) bool { return isTestRange(e164) }
