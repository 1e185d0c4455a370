// Package cohort imports cohort extracts: CSV files of patients to contact,
// validated row by row, streamed into PostgreSQL. Nothing is silently
// dropped: every rejected row and every unusable phone number is written to
// a report with its line, field and reason.
package cohort

import (
	"fmt"
	"sort"
	"strings"
)

// Column names of the extract. Header names are matched without regard to
// case, surrounding spaces, or spaces and hyphens used for underscores.
const (
	ColNHSNumber        = "nhs_number"
	ColGivenName        = "given_name"
	ColFamilyName       = "family_name"
	ColDateOfBirth      = "date_of_birth"
	ColMobile           = "mobile"
	ColLandline         = "landline"
	ColGPPracticeCode   = "gp_practice_code"
	ColLocality         = "locality"
	ColLanguage         = "language"
	ColPreferredChannel = "preferred_channel"
)

// RequiredColumns must all be in the header.
var RequiredColumns = []string{ColNHSNumber, ColGivenName, ColFamilyName, ColDateOfBirth, ColMobile, ColLandline}

// OptionalColumns may be left out.
var OptionalColumns = []string{ColGPPracticeCode, ColLocality, ColLanguage, ColPreferredChannel}

// HeaderError says why a header cannot be used; the file is not read.
type HeaderError struct {
	Missing   []string
	Duplicate []string
	Empty     bool
}

func (e *HeaderError) Error() string {
	if e.Empty {
		return "the file is empty: expected a header row naming the columns " + strings.Join(RequiredColumns, ", ")
	}
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing columns: "+strings.Join(e.Missing, ", "))
	}
	if len(e.Duplicate) > 0 {
		parts = append(parts, "columns named twice: "+strings.Join(e.Duplicate, ", "))
	}
	return "bad header row: " + strings.Join(parts, "; ")
}

// columns maps each known column to its index in a record, -1 when absent.
type columns struct {
	idx     map[string]int
	ignored []string
	width   int
}

func normaliseHeader(h string) string {
	h = strings.TrimPrefix(h, "\ufeff")
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.NewReplacer(" ", "_", "-", "_").Replace(h)
	return h
}

func parseHeader(rec []string) (*columns, error) {
	c := &columns{idx: map[string]int{}, width: len(rec)}
	known := map[string]bool{}
	for _, k := range RequiredColumns {
		known[k] = true
	}
	for _, k := range OptionalColumns {
		known[k] = true
	}
	herr := &HeaderError{}
	for i, raw := range rec {
		h := normaliseHeader(raw)
		if !known[h] {
			if h != "" {
				c.ignored = append(c.ignored, strings.TrimSpace(raw))
			}
			continue
		}
		if _, dup := c.idx[h]; dup {
			herr.Duplicate = append(herr.Duplicate, h)
			continue
		}
		c.idx[h] = i
	}
	for _, k := range RequiredColumns {
		if _, ok := c.idx[k]; !ok {
			herr.Missing = append(herr.Missing, k)
		}
	}
	if len(herr.Missing) > 0 || len(herr.Duplicate) > 0 {
		sort.Strings(herr.Duplicate)
		return nil, herr
	}
	return c, nil
}

// get returns the trimmed field of a column, "" when the column is absent.
func (c *columns) get(rec []string, col string) string {
	i, ok := c.idx[col]
	if !ok || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

func (c *columns) String() string { return fmt.Sprint(c.idx) }
