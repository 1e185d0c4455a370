package window

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
)

// Region names accepted by BankHolidays and the "bank_holidays" JSON field.
const (
	EnglandAndWales = "england-and-wales"
	Scotland        = "scotland"
	NorthernIreland = "northern-ireland"
	// NoBankHolidays turns bank holidays off in the JSON form.
	NoBankHolidays = "none"
)

//go:embed bankholidays.txt
var bankHolidaysText string

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
	bankHolidays, weekend, err = parseBankHolidays(bankHolidaysText)
	if err != nil {
		// The file is embedded, so a bad line is a build-time mistake.
		panic(fmt.Sprintf("window: bankholidays.txt: %v", err))
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

// parseBankHolidays reads bankholidays.txt into the official lists and
// the "~" weekend days.
func parseBankHolidays(text string) (official, weekend map[string][]Date, err error) {
	official, weekend = map[string][]Date{}, map[string][]Date{}
	region := ""
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			region = line[1 : len(line)-1]
			continue
		case region == "":
			return nil, nil, fmt.Errorf("line %d: date before any [region]", n+1)
		}
		into := official
		if rest, ok := strings.CutPrefix(line, "~"); ok {
			into, line = weekend, rest
		}
		field, _, _ := strings.Cut(line, " ")
		d, err := ParseDate(field)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		into[region] = append(into[region], d)
	}
	for r, ds := range official {
		slices.SortFunc(ds, Date.Compare)
		official[r] = slices.Compact(ds)
	}
	return official, weekend, nil
}

// Regions lists the regions that BankHolidays knows.
func Regions() []string {
	return []string{EnglandAndWales, Scotland, NorthernIreland}
}

// BankHolidays returns the bank holidays of a UK region (EnglandAndWales,
// Scotland or NorthernIreland), sorted, substitute days included. "" and
// "none" give no dates. The list covers BankHolidayYears only.
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
	return ds[0].Year, ds[len(ds)-1].Year
}

func isBankHoliday(region string, d Date) bool {
	return bankHolidaySet[region][d]
}
