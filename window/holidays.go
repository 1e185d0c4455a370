package window

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Region names accepted by BankHolidays and the "bank_holidays" JSON field.
const (
	EnglandAndWales = "england-and-wales"
	Scotland        = "scotland"
	NorthernIreland = "northern-ireland"
	// NoBankHolidays turns bank holidays off in the JSON form.
	NoBankHolidays = "none"
)

// bankHolidaysJSON is GOV.UK's published list of bank holidays, in its own
// format, as scripts/refresh-bank-holidays.sh downloads it (README.md in
// this folder says which years it covers and how they were checked).
//
//go:embed bank-holidays.json
var bankHolidaysJSON []byte

var (
	// bankHolidays holds the official lists, region by region.
	bankHolidays map[string][]Date
	// bankHolidaySet holds the days a window closes for, region by region:
	// the official list and the weekend days it substitutes for.
	bankHolidaySet map[string]map[Date]bool
)

func init() {
	var weekend map[string][]Date
	var err error
	bankHolidays, weekend, err = parseBankHolidays(bankHolidaysJSON)
	if err != nil {
		// The file is embedded, so a bad entry is a build-time mistake.
		panic(fmt.Sprintf("window: bank-holidays.json: %v", err))
	}
	bankHolidaySet = make(map[string]map[Date]bool, len(bankHolidays))
	for r, ds := range bankHolidays {
		set := make(map[Date]bool, len(ds))
		for _, d := range append(slices.Clone(ds), weekend[r]...) {
			set[d] = true
		}
		bankHolidaySet[r] = set
	}
}

// govukDivision is one region of GOV.UK's bank holidays JSON.
type govukDivision struct {
	Division string `json:"division"`
	Events   []struct {
		Title   string `json:"title"`
		Date    string `json:"date"`
		Notes   string `json:"notes"`
		Bunting bool   `json:"bunting"`
	} `json:"events"`
}

// fixedHolidays are the holidays on a fixed date that a substitute day can
// stand in for, by their GOV.UK title (lower case, plain apostrophes).
var fixedHolidays = map[string]struct {
	month time.Month
	day   int
}{
	"new year's day": {time.January, 1}, "2nd january": {time.January, 2},
	"st patrick's day": {time.March, 17}, "battle of the boyne (orangemen's day)": {time.July, 12},
	"st andrew's day": {time.November, 30}, "christmas day": {time.December, 25}, "boxing day": {time.December, 26},
}

// parseBankHolidays reads GOV.UK's JSON into the official lists, region by
// region, and the weekend days that substitute days stand in for (a
// Saturday Boxing Day): those are not bank holidays, but windows stay
// closed on them too, as nobody wants an automated call on Boxing Day.
func parseBankHolidays(data []byte) (official, weekend map[string][]Date, err error) {
	var in map[string]govukDivision
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, nil, err
	}
	official, weekend = map[string][]Date{}, map[string][]Date{}
	for _, region := range Regions() {
		div, ok := in[region]
		if !ok || len(div.Events) == 0 {
			return nil, nil, fmt.Errorf("no bank holidays for %s", region)
		}
		for i, e := range div.Events {
			d, err := ParseDate(e.Date)
			if err != nil {
				return nil, nil, fmt.Errorf("%s event %d (%s): %w", region, i, e.Title, err)
			}
			official[region] = append(official[region], d)
			if !strings.Contains(strings.ToLower(e.Notes), "substitute day") {
				continue
			}
			title := strings.ToLower(strings.ReplaceAll(e.Title, "’", "'"))
			if f, ok := fixedHolidays[title]; ok {
				if orig := (Date{d.Year, f.month, f.day}); orig.Weekday() == time.Saturday || orig.Weekday() == time.Sunday {
					weekend[region] = append(weekend[region], orig)
				}
			}
		}
		slices.SortFunc(official[region], Date.Compare)
		official[region] = slices.Compact(official[region])
		slices.SortFunc(weekend[region], Date.Compare)
		weekend[region] = slices.Compact(weekend[region])
	}
	return official, weekend, nil
}

// Regions lists the regions that BankHolidays knows.
func Regions() []string {
	return []string{EnglandAndWales, Scotland, NorthernIreland}
}

// BankHolidays returns the bank holidays of a UK region (EnglandAndWales,
// Scotland or NorthernIreland), sorted, substitute days included. "" and
// "none" give no dates. The list covers BankHolidayYears only (see
// CoveredUntil).
//
// A window with BankHolidays set is closed on these days and also on the
// holiday itself when it falls at a weekend and a substitute day stands in
// for it (a Saturday Boxing Day), which is not a bank holiday.
func BankHolidays(region string) ([]Date, error) {
	if region == "" || region == NoBankHolidays {
		return nil, nil
	}
	ds, ok := bankHolidays[region]
	if !ok {
		return nil, fmt.Errorf("window: unknown bank holiday region %q: expected one of %s", region, strings.Join(Regions(), ", "))
	}
	return slices.Clone(ds), nil
}

// BankHolidayYears returns the first and last years that the shipped bank
// holiday lists cover. Outside them no bank holiday is known, so a window
// would allow contact on, say, Christmas Day.
func BankHolidayYears() (first, last int) {
	ds := bankHolidays[EnglandAndWales]
	first, last = ds[0].Year, ds[len(ds)-1].Year
	for _, r := range Regions() {
		last = min(last, bankHolidays[r][len(bankHolidays[r])-1].Year)
	}
	return first, last
}

// CoveredUntil returns the last day whose bank holidays are known: 31
// December of the last year in the shipped list.
func CoveredUntil() Date {
	_, last := BankHolidayYears()
	return Date{last, time.December, 31}
}

// CoverageWarning returns a warning for a campaign whose window closes on
// bank holidays and whose contacts may run until last (a date), when last
// is after CoveredUntil: bank holidays after that are unknown, so the
// window would stay open on them. It returns "" when there is nothing to
// say. outreach.CoverageWarning works out last for a campaign, for the
// CLI, the API and the console.
func (w Window) CoverageWarning(last Date) string {
	until := CoveredUntil()
	if w.BankHolidays == "" || w.BankHolidays == NoBankHolidays || last.Compare(until) <= 0 {
		return ""
	}
	return fmt.Sprintf("this campaign may run until %s, but bank holidays are known only until %s: after that its window "+
		"stays open on bank holidays. Refresh the list (scripts/refresh-bank-holidays.sh) and rebuild, or add the dates to the window's \"holidays\"",
		last, until)
}

func isBankHoliday(region string, d Date) bool {
	return bankHolidaySet[region][d]
}
