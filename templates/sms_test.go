package templates

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// digits returns n characters of "1234567890" repeated, the filler the
// public test suite below uses.
func digits(n int) string {
	return strings.Repeat("1234567890", n/10+1)[:n]
}

type smsCase struct {
	name      string
	text      string
	encoding  Encoding
	units     int
	fragments int
	remaining int // -1: not checked
	bits      int // message size in bits from the public suite; 0: not given
}

// twilioCases are the inputs and expected numbers of the public test suite
// of Twilio's Message Segment Calculator, ported as table rows (inputs and
// numbers only; no code):
//
//	github.com/TwilioDevEd/message-segment-calculator
//	  tests/index.test.js    (commit 29a4bc2f45655fc14246be06d5da7b15ba4d112d)
//	  tests/segments.test.js (commit 4c1e2687c5c669c8c89bf6ebfeb2a7c93eb7b5bb)
//
// Where the suite gives messageSize in bits, the row's bits field checks
// our unit count against it (7 bits a septet, 16 a UCS-2 unit). One
// deliberate difference (Malaysia's rules) is noted on its row.
func twilioCases() []smsCase {
	cs := []smsCase{
		{"twilio: GSM-7 in one segment", digits(160), GSM7, 160, 1, 0, 1120},
		{"twilio: GSM-7 in two segments", digits(161), GSM7, 161, 2, -1, 1127},
		// segments.test.js: the third segment holds a single character.
		{"twilio: GSM-7 in three segments", digits(307), GSM7, 307, 3, GSM7Multi - 1, 2149},
		{"twilio: UCS-2 message in one segment", "😜" + digits(68), UCS2, 70, 1, 0, 1120},
		{"twilio: UCS-2 message in two segments", "😜" + digits(69), UCS2, 71, 2, -1, 1136},
		// segments.test.js: the third segment holds a single character.
		{"twilio: UCS-2 message in three segments", "😜" + digits(133), UCS2, 135, 3, UCS2Multi - 1, 2160},
		{"twilio: UCS-2 two-unit flag, one segment boundary", "🇮🇹" + digits(66), UCS2, 70, 1, 0, 1120},
		{"twilio: UCS-2 two-unit flag, two segments boundary", "🇮🇹" + digits(67), UCS2, 71, 2, -1, 1136},
		// The suite's rainbow flag is four code points (its test says
		// unicodeScalars 68 for 64 digits): white flag, VS16, ZWJ, rainbow.
		{"twilio: UCS-2 four-scalar flag, one segment boundary", "\U0001F3F3\uFE0F\u200D\U0001F308" + digits(64), UCS2, 70, 1, 0, 1120},
		{"twilio: UCS-2 four-scalar flag, two segments boundary", "\U0001F3F3\uFE0F\u200D\U0001F308" + digits(65), UCS2, 71, 2, -1, 1136},
		// Difference: the suite expects UCS-2, 2 segments, because it uses
		// Malaysia's rules, where é is not sent as GSM-7. In the UK é is in
		// the GSM 03.38 basic set, so the message is GSM-7 and one part.
		{"twilio: Malaysia latin é (UK rules)", "Hi I am john, this is my message in MY sms format é, this should generate to 2 segments and be formatted in UCS-2", GSM7, 113, 1, 47, 0},
		// Issue #18 in the suite: GSM extension characters in a UCS-2
		// message count one unit each.
		{"twilio: UCS-2 with GSM extension characters, one segment", "😀" + strings.Repeat("]", 68), UCS2, 70, 1, 0, 0},
		{"twilio: UCS-2 with GSM extension characters, two segments", "😀" + strings.Repeat("]", 69), UCS2, 71, 2, -1, 0},
		// The suite checks numberOfCharacters (11 and 12); CR and LF are
		// one septet each, so our unit counts are the same numbers.
		{"twilio: CRLF line breaks", "\rabcde\r\n123", GSM7, 11, 1, 149, 0},
		{"twilio: LF line breaks", "\nabcde\n\n123\n", GSM7, 12, 1, 148, 0},
		// The suite's "triple accents" character is four code points
		// (unicodeScalars 4): é and three combining acute accents.
		{"twilio: triple accents, one segment", "é\u0301\u0301\u0301" + strings.Repeat("a", 66), UCS2, 70, 1, 0, 0},
		{"twilio: triple accents, two segments", "é\u0301\u0301\u0301" + strings.Repeat("a", 67), UCS2, 71, 2, -1, 0},
	}
	// "GSM-7 Escape Characters": each extension character counts two.
	for _, esc := range []string{"|", "^", "€", "{", "}", "[", "]", "~", `\`} {
		cs = append(cs,
			smsCase{"twilio: escape " + esc + " one segment", esc + digits(158), GSM7, 160, 1, 0, 1120},
			smsCase{"twilio: escape " + esc + " two segments", esc + digits(159), GSM7, 161, 2, -1, 1127},
		)
	}
	// "One grapheme UCS-2 characters": 70 fit in one part, 71 need two.
	for _, ch := range []string{"Á", "Ú", "ú", "ç", "í", "Í", "ó", "Ó"} {
		cs = append(cs,
			smsCase{"twilio: 70 x " + ch, strings.Repeat(ch, 70), UCS2, 70, 1, 0, 0},
			smsCase{"twilio: 71 x " + ch, strings.Repeat(ch, 71), UCS2, 71, 2, -1, 0},
		)
	}
	return cs
}

func ownCases() []smsCase {
	return []smsCase{
		{"empty", "", GSM7, 0, 0, 160, 0},
		{"short", "Hello", GSM7, 5, 1, 155, 0},
		{"exactly two parts", digits(306), GSM7, 306, 2, 0, 0},
		{"one over two parts", digits(307), GSM7, 307, 3, 152, 0},
		{"euro alone counts two", "€", GSM7, 2, 1, 158, 0},
		{"form feed is in the extension table", "\f", GSM7, 2, 1, 158, 0},
		{"all extension characters", "^{}\\[~]|€", GSM7, 18, 1, 142, 0},
		{"158 plus one escape fits", digits(158) + "~", GSM7, 160, 1, 0, 0},
		{"159 plus one escape splits", digits(159) + "~", GSM7, 161, 2, 145, 0},
		// 306 septets would fit two parts, but the escape pair at the end of
		// the first part cannot be split, so it moves and a third is needed.
		{"escape not split across parts", digits(152) + "€" + digits(152), GSM7, 306, 3, 152, 0},
		// Likewise a surrogate pair is never split.
		{"surrogate pair not split across parts", strings.Repeat("ж", 66) + "😀" + strings.Repeat("ж", 66), UCS2, 134, 3, 66, 0},
		{"capital C cedilla is GSM", "Ça va", GSM7, 5, 1, 155, 0},
		{"small c cedilla is not", "ça va", UCS2, 5, 1, 65, 0},
		{"É is in the basic set", "École", GSM7, 5, 1, 155, 0},
		{"GSM Greek capitals", "ΔΦΓΛΩΠΨΣΘΞ", GSM7, 10, 1, 150, 0},
		{"Welsh circumflex forces UCS-2", "Croeso i’r ŵyl", UCS2, 14, 1, 56, 0},
		{"NHS smart quote pushes past one part", digits(70) + "’", UCS2, 71, 2, 63, 0},
		{"emoji counts two units", "👍", UCS2, 2, 1, 68, 0},
		{"invalid UTF-8 forces UCS-2", "ok\xff", UCS2, 3, 1, 67, 0},
	}
}

func TestCountSMS(t *testing.T) {
	for _, tt := range append(twilioCases(), ownCases()...) {
		t.Run(tt.name, func(t *testing.T) {
			c := CountSMS(tt.text)
			if c.Encoding != tt.encoding || c.Units != tt.units || c.Fragments != tt.fragments {
				t.Errorf("CountSMS = %s %d units %d parts, want %s %d units %d parts",
					c.Encoding, c.Units, c.Fragments, tt.encoding, tt.units, tt.fragments)
			}
			if tt.remaining >= 0 && c.Remaining != tt.remaining {
				t.Errorf("Remaining = %d, want %d", c.Remaining, tt.remaining)
			}
			if tt.bits != 0 {
				per := 7
				if c.Encoding == UCS2 {
					per = 16
				}
				if c.Units*per != tt.bits {
					t.Errorf("%d units x %d bits = %d, public suite says %d", c.Units, per, c.Units*per, tt.bits)
				}
			}
			if c.Characters != utf8.RuneCountInString(tt.text) {
				t.Errorf("Characters = %d", c.Characters)
			}
			checkCountInvariants(t, tt.text, c)
		})
	}
}

// checkCountInvariants holds for every text; the fuzz test uses it too.
func checkCountInvariants(t *testing.T, text string, c SMSCount) {
	t.Helper()
	single, multi := GSM7Single, GSM7Multi
	if c.Encoding == UCS2 {
		single, multi = UCS2Single, UCS2Multi
	}
	if (c.Encoding == GSM7) != (len(c.UnicodeChars) == 0) {
		t.Fatalf("encoding %s with %d unicode chars", c.Encoding, len(c.UnicodeChars))
	}
	switch {
	case c.Units == 0:
		if c.Fragments != 0 || c.Remaining != single || text != "" {
			t.Fatalf("empty count %+v for %q", c, text)
		}
	case c.Units <= single:
		if c.Fragments != 1 || c.PerFragment != single || c.Remaining != single-c.Units {
			t.Fatalf("single-part count %+v", c)
		}
	default:
		if c.PerFragment != multi {
			t.Fatalf("PerFragment %d for %d units", c.PerFragment, c.Units)
		}
		// Each part carries at least multi-1 units (a pair that does not
		// fit moves on) and at most multi.
		lo := (c.Units + multi - 1) / multi
		hi := (c.Units + multi - 2) / (multi - 1)
		if c.Fragments < lo || c.Fragments > hi {
			t.Fatalf("%d parts for %d units, want %d..%d", c.Fragments, c.Units, lo, hi)
		}
		if c.Remaining < 0 || c.Remaining >= multi {
			t.Fatalf("Remaining %d", c.Remaining)
		}
	}
	for _, u := range c.UnicodeChars {
		r, _ := utf8.DecodeRuneInString(text[u.Offset:])
		if r != u.Rune || gsmSeptets(r) != 0 {
			t.Fatalf("unicode char %+v does not match text", u)
		}
		if !u.HasReplacement && u.Replacement != "" {
			t.Fatalf("replacement without HasReplacement: %+v", u)
		}
	}
}

func TestCountSMSUnicodeChars(t *testing.T) {
	tests := []struct {
		text string
		want []UnicodeChar
	}{
		{"plain", nil},
		{"It’s “fine” – really…", []UnicodeChar{
			{Rune: '’', Offset: 2, Replacement: "'", HasReplacement: true},
			{Rune: '“', Offset: 7, Replacement: `"`, HasReplacement: true},
			{Rune: '”', Offset: 14, Replacement: `"`, HasReplacement: true},
			{Rune: '–', Offset: 18, Replacement: "-", HasReplacement: true},
			{Rune: '…', Offset: 28, Replacement: "...", HasReplacement: true},
		}},
		{"a\u00A0b\u200Bc", []UnicodeChar{
			{Rune: '\u00A0', Offset: 1, Replacement: " ", HasReplacement: true},
			{Rune: '\u200B', Offset: 4, Replacement: "", HasReplacement: true},
		}},
		{"Zoë", []UnicodeChar{{Rune: 'ë', Offset: 2}}},
		{"`cmd`\t—", []UnicodeChar{
			{Rune: '`', Offset: 0, Replacement: "'", HasReplacement: true},
			{Rune: '`', Offset: 4, Replacement: "'", HasReplacement: true},
			{Rune: '\t', Offset: 5, Replacement: " ", HasReplacement: true},
			{Rune: '—', Offset: 6, Replacement: "-", HasReplacement: true},
		}},
	}
	for _, tt := range tests {
		if got := CountSMS(tt.text).UnicodeChars; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("CountSMS(%q).UnicodeChars\n got %+v\nwant %+v", tt.text, got, tt.want)
		}
	}
}

func TestToGSM(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"It’s “fine” – really…", `It's "fine" - really...`},
		{"‘single’ ‚low‛ ′prime″", `'single' 'low' 'prime"`},
		{"«guillemets» — em", `"guillemets" - em`},
		{"no\u00A0break\u202Fnarrow\u2009thin", "no break narrow thin"},
		{"zero\u200Bwidth\uFEFF soft\u00ADhyphen", "zerowidth softhyphen"},
		{"tab\there", "tab here"},
		{"½ × 2", "1/2 x 2"},
		{"Zoë and ŵ stay", "Zoë and ŵ stay"},
		{"€ and ^ are GSM already", "€ and ^ are GSM already"},
	}
	for _, tt := range tests {
		if got := ToGSM(tt.in); got != tt.want {
			t.Errorf("ToGSM(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if again := ToGSM(ToGSM(tt.in)); again != ToGSM(tt.in) {
			t.Errorf("ToGSM is not idempotent on %q", tt.in)
		}
	}
}

// gsmTableInOrder is the GSM 03.38 basic character set in code order,
// 0x00 to 0x7F, with the escape at 0x1B, written independently of the
// switch in gsm.go so each checks the other.
const gsmTableInOrder = "@£$¥èéùìòÇ\nØø\rÅå" +
	"Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ" +
	" !\"#¤%&'()*+,-./" +
	"0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNO" +
	"PQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmno" +
	"pqrstuvwxyzäöñüà"

func TestGSMTables(t *testing.T) {
	table := []rune(gsmTableInOrder)
	if len(table) != 128 {
		t.Fatalf("table has %d codes", len(table))
	}
	for code, r := range table {
		want := 1
		if code == 0x1B {
			want = 0 // the escape is not a character
		}
		if got := gsmSeptets(r); got != want {
			t.Errorf("code 0x%02X %q: %d septets, want %d", code, r, got, want)
		}
	}
	if table[0x09] != 'Ç' || table[0x1F] != 'É' || table[0x24] != '¤' {
		t.Errorf("spot checks failed")
	}
	// No other character is in the basic set, and exactly the ten
	// extension characters take two septets.
	basic, ext := 0, ""
	for r := rune(0); r <= utf8.MaxRune; r++ {
		switch gsmSeptets(r) {
		case 1:
			basic++
		case 2:
			ext += string(r)
		}
	}
	if basic != 127 {
		t.Errorf("%d basic characters, want 127", basic)
	}
	if ext != "\f[\\]^{|}~€" {
		t.Errorf("extension characters %q", ext)
	}
	// A replacement is only offered for characters outside GSM-7, and is
	// itself GSM-7.
	for r := rune(0); r <= 0xFFFF; r++ {
		rep, ok := gsmReplacement(r)
		if !ok {
			continue
		}
		if gsmSeptets(r) != 0 {
			t.Errorf("replacement offered for GSM character %q", r)
		}
		if c := CountSMS(rep); c.Encoding != GSM7 {
			t.Errorf("replacement %q for %q is not GSM-7", rep, r)
		}
	}
}
