package cohort

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/phone"
)

// FuzzValidate feeds arbitrary rows to the validator: it must never panic,
// and an accepted row must hold a valid identity.
func FuzzValidate(f *testing.F) {
	f.Add("9434765919,Ada,Lovelace,1948-07-05,07911 123456,01603 123456,D82001,Norwich,en,sms")
	f.Add("4010232137,\"O'Brien, Mary\",X,05/07/1950,,,,,,")
	f.Add(",,,,,,,,,")
	f.Add("9434765919,\x00,\xff,29/02/2000,+44,0,,,,")
	cols, err := parseHeader(strings.Split(strings.TrimSpace(header), ","))
	if err != nil {
		f.Fatal(err)
	}
	v := &rowValidator{cols: cols, phones: phone.Parser{AllowTestNumbers: true}, today: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, line string) {
		r := csv.NewReader(strings.NewReader(line))
		r.FieldsPerRecord = -1
		rec, err := r.Read()
		if err != nil {
			return
		}
		p, probs, ok := v.validate(rec, 2)
		if !ok {
			rejected := false
			for _, pr := range probs {
				rejected = rejected || pr.Severity == Rejected
			}
			if !rejected {
				t.Fatalf("row refused without a rejection reason: %q", line)
			}
			return
		}
		if len(p.NHSNumber) != 10 || p.GivenName == "" || p.FamilyName == "" || p.DateOfBirth.IsZero() {
			t.Fatalf("accepted an invalid identity: %+v", p)
		}
		if (p.Mobile == "") != (p.MobileKind == "") || (p.Landline == "") != (p.LandlineKind == "") {
			t.Fatalf("number without kind: %+v", p)
		}
	})
}

// FuzzParseHeader checks header parsing never panics and never accepts a
// header without the required columns.
func FuzzParseHeader(f *testing.F) {
	f.Add(strings.TrimSpace(header))
	f.Add("\ufeffNHS Number,given-name")
	f.Fuzz(func(t *testing.T, line string) {
		c, err := parseHeader(strings.Split(line, ","))
		if err != nil {
			return
		}
		for _, k := range RequiredColumns {
			if _, ok := c.idx[k]; !ok {
				t.Fatalf("accepted header %q without %s", line, k)
			}
		}
	})
}
