package benchdb

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"

	"github.com/protectnow/protect/nhsnumber"
)

var mobilePrefixes = []string{"07911", "07700", "07400", "07500", "07801", "07956", "07415", "07533", "07725", "07860"}
var landlinePrefixes = []string{"01603", "01493", "01502", "01263", "01328", "01362", "01366", "01379", "01692", "01953"}

// WriteCohort writes a synthetic extract of n patients: realistic numbers,
// about 1% bad rows (check digit, dates) and 0.5% duplicates, so the import
// exercises every path. Mobiles in the 07700 900xxx test range are used
// when testNumbers is set (the sandbox's personas answer those).
func WriteCohort(w io.Writer, n int, seed uint64, testNumbers bool) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(seed, 1))
	fmt.Fprintln(bw, "nhs_number,given_name,family_name,date_of_birth,mobile,landline,gp_practice_code,locality,language,preferred_channel")
	given := []string{"Ada", "Brian", "Carys", "Dev", "Edith", "Farid", "Grace", "Huw", "Iris", "John", "Katarzyna", "Liam"}
	family := []string{"Smith", "Jones", "Patel", "O'Brien", "Nowak", "Williams", "Khan", "Brown", "Evans", "Taylor"}
	localities := []string{"Norwich", "Great Yarmouth", "Waveney", "North Norfolk", "South Norfolk", "Breckland"}
	base := 400000000
	var recent [8]string
	for i := 0; i < n; i++ {
		var nhs string
		for {
			base++
			nine := strconv.Itoa(base)
			if cd := nhsnumber.CheckDigit(nine); cd >= 0 {
				nhs = nine + strconv.Itoa(cd)
				break
			}
		}
		recent[i%len(recent)] = nhs
		switch k := r.IntN(1000); {
		case k < 5 && i >= len(recent): // duplicate of a recent row's number
			nhs = recent[(i+1+r.IntN(len(recent)-1))%len(recent)]
		case k < 10:
			nhs = nhs[:9] + strconv.Itoa((int(nhs[9]-'0')+1)%10) // bad check digit
		}
		dob := fmt.Sprintf("%04d-%02d-%02d", 1925+r.IntN(80), 1+r.IntN(12), 1+r.IntN(28))
		if r.IntN(1000) < 3 {
			dob = "31/02/1950"
		}
		var mobile, landline string
		if r.IntN(100) < 85 {
			if testNumbers {
				mobile = fmt.Sprintf("07700 900%03d", r.IntN(1000))
			} else {
				mobile = fmt.Sprintf("%s %06d", mobilePrefixes[r.IntN(len(mobilePrefixes))], r.IntN(1000000))
			}
		}
		if r.IntN(100) < 40 {
			landline = fmt.Sprintf("%s %06d", landlinePrefixes[r.IntN(len(landlinePrefixes))], 200000+r.IntN(700000))
		}
		practice := fmt.Sprintf("D8%04d", r.IntN(150))
		fmt.Fprintf(bw, "%s,%s,%s,%s,%s,%s,%s,%s,en,\n", nhs, given[r.IntN(len(given))], family[r.IntN(len(family))],
			dob, mobile, landline, practice, localities[r.IntN(len(localities))])
	}
	return bw.Flush()
}
