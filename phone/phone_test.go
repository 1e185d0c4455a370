package phone

import (
	"errors"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		test bool
		want Number
		err  error
	}{
		{"mobile national", "07911 123456", false, Number{E164: "+447911123456", Kind: Mobile}, nil},
		{"mobile international", "+44 7911 123456", false, Number{E164: "+447911123456", Kind: Mobile}, nil},
		{"mobile 0044", "0044 7911 123456", false, Number{E164: "+447911123456", Kind: Mobile}, nil},
		{"mobile with brackets", "(07911) 123-456", false, Number{E164: "+447911123456", Kind: Mobile}, nil},
		{"mobile filed as Guernsey", "07781 123456", false, Number{E164: "+447781123456", Kind: Mobile}, nil},
		{"mobile filed as Jersey", "07797 123456", false, Number{E164: "+447797123456", Kind: Mobile}, nil},
		{"mobile filed as Isle of Man", "07624 123456", false, Number{E164: "+447624123456", Kind: Mobile}, nil},
		{"landline Norwich", "01603 123456", false, Number{E164: "+441603123456", Kind: Landline}, nil},
		{"landline London", "020 7946 0000", false, Number{E164: "+442079460000", Kind: Landline}, nil},
		{"non-geographic 03", "0303 123 4567", false, Number{E164: "+443031234567", Kind: Landline}, nil},
		{"VoIP 056", "056 1234 5678", false, Number{E164: "+445612345678", Kind: Landline}, nil},
		{"test number allowed", "07700 900123", true, Number{E164: "+447700900123", Kind: Mobile, Test: true}, nil},
		{"test number refused", "07700 900123", false, Number{}, ErrTestNumber},
		{"freephone", "0800 123456", false, Number{}, ErrTollFree},
		{"premium", "0909 879 0000", false, Number{}, ErrPremium},
		{"personal 070", "070 1234 5678", false, Number{}, ErrPersonal},
		{"pager 076", "07600 123456", false, Number{}, ErrPager},
		{"US", "+1 202 555 0101", false, Number{}, ErrNotUK},
		{"France mobile", "+33 6 12 34 56 78", false, Number{}, ErrNotUK},
		{"too short", "07911 12345", false, Number{}, ErrInvalid},
		{"letters", "call me", false, Number{}, ErrInvalid},
		{"empty", "  ", false, Number{}, ErrEmpty},
		{"absurdly long", "0791112345607911123456079111234560791112345600", false, Number{}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parser{AllowTestNumbers: tt.test}.Parse(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"07911 123456", "+441603123456", "07700900123", "0800 123456", "+1 202 555 0101", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parser{AllowTestNumbers: true}.Parse(s)
		if err != nil {
			return
		}
		if n.Kind != Mobile && n.Kind != Landline {
			t.Fatalf("Parse(%q) kind %q", s, n.Kind)
		}
		again, err := Parser{AllowTestNumbers: true}.Parse(n.E164)
		if err != nil || again != n {
			t.Fatalf("Parse(%q)=%+v but Parse(%q)=%+v, %v", s, n, n.E164, again, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	p := Parser{}
	for b.Loop() {
		_, _ = p.Parse("07911 123456")
	}
}

// TestBlockCacheAgreesWithLibrary checks the premise of the block cache:
// within each thousand-number block the library gives one answer. It samples
// numbers across every leading prefix that patients' numbers start with.
func TestBlockCacheAgreesWithLibrary(t *testing.T) {
	prefixes := []string{"11", "12", "13", "14", "15", "16", "17", "18", "19", "20", "23", "24", "28", "29", "30", "33", "34", "37", "55", "56", "70", "71", "72", "73", "74", "75", "76", "77", "78", "79", "80", "84", "87", "90", "91", "98"}
	seed := uint64(1)
	for _, pre := range prefixes {
		for i := 0; i < 400; i++ {
			seed = seed*6364136223846793005 + 1442695040888963407
			for _, l := range []int{9, 10} {
				num := pre
				x := seed
				for len(num) < l {
					num += string(rune('0' + x%10))
					x /= 10
				}
				for _, last := range []string{"000", "371", "999"} {
					nsn := num[:l-3] + last
					got, gotErr := classifyUK(nsn)
					n, err := phonenumbers.Parse("+44"+nsn, "GB")
					if err != nil {
						continue
					}
					want, wantErr := classifyLibrary(n)
					if got != want || errors.Is(gotErr, ErrInvalid) != errors.Is(wantErr, ErrInvalid) || (gotErr == nil) != (wantErr == nil) {
						t.Errorf("+44%s: cached %q %v, library %q %v", nsn, got, gotErr, want, wantErr)
					}
				}
			}
		}
	}
}
