package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/protectnow/protect/nhsnumber"
)

// patient is one row of a generated cohort.
type patient struct {
	NHS    string
	Given  string
	Mobile string // national form, as an extract holds it
	E164   string // as Twilio sees it
}

// cohortHeader is the header of every generated cohort file.
const cohortHeader = "nhs_number,given_name,family_name,date_of_birth,mobile,landline\n"

// makePatients returns n patients with valid NHS numbers and mobiles of
// their own, numbered from first. The mobiles are outside the sandbox's
// 07700 900xxx personas: its default for any other number is a handset
// that receives texts and never replies, so nothing but the harness
// speaks for these patients.
func makePatients(first, n int) []patient {
	out := make([]patient, 0, n)
	serial := 900000000 + first*11
	for i := range n {
		var nhs string
		for nhs == "" {
			serial++
			nine := strconv.Itoa(serial)
			if cd := nhsnumber.CheckDigit(nine); cd >= 0 {
				nhs = nine + strconv.Itoa(cd)
			}
		}
		k := first + i
		out = append(out, patient{NHS: nhs, Given: fmt.Sprintf("Pat%d", k),
			Mobile: fmt.Sprintf("07911 %06d", k), E164: fmt.Sprintf("+447911%06d", k)})
	}
	return out
}

// writeCohort writes the patients as a cohort CSV.
func writeCohort(w io.Writer, ps []patient) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(cohortHeader) //nolint:errcheck
	for _, p := range ps {
		writeRow(bw, p)
	}
	return bw.Flush()
}

func writeRow(w io.Writer, p patient) {
	fmt.Fprintf(w, "%s,%s,Chaos,1950-01-01,%s,\n", p.NHS, p.Given, p.Mobile)
}

// The shipped English texts (questionnaire/defaults/texts.en.yaml): the
// introduction opens a patient's first text, the reminder every later
// step's.
const (
	introMark    = "We are checking on people who may need extra support"
	reminderMark = "We have not heard from you"
)

func isIntro(body string) bool    { return strings.Contains(body, introMark) }
func isReminder(body string) bool { return strings.Contains(body, reminderMark) }
