package templates

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Part
	}{
		{"empty", "", nil},
		{"text only", "Hello there.", []Part{{Kind: PartText, Text: "Hello there."}}},
		{"placeholder", "Hi ((first_name)).", []Part{
			{Kind: PartText, Text: "Hi "},
			{Kind: PartPlaceholder, Name: "first_name", Offset: 3},
			{Kind: PartText, Text: ".", Offset: 17},
		}},
		{"case and spaces normalised", "((First Name))((FIRST-NAME))(( first__name ))", []Part{
			{Kind: PartPlaceholder, Name: "first_name"},
			{Kind: PartPlaceholder, Name: "first_name", Offset: 14},
			{Kind: PartPlaceholder, Name: "first_name", Offset: 28},
		}},
		{"digits after first letter", "((line2))", []Part{{Kind: PartPlaceholder, Name: "line2"}}},
		{"optional text", "((repeat_attempt??We tried before. ))Reply YES", []Part{
			{Kind: PartOptional, Name: "repeat_attempt", Text: "We tried before. "},
			{Kind: PartText, Text: "Reply YES", Offset: 37},
		}},
		{"optional text with question marks and line break", "((urgent??Call 999?\nNow??))", []Part{
			{Kind: PartOptional, Name: "urgent", Text: "Call 999?\nNow??"},
		}},
		{"optional text ending in a bracket", "((has_car??Bring your car (if you can)))!", []Part{
			{Kind: PartOptional, Name: "has_car", Text: "Bring your car (if you can)"},
			{Kind: PartText, Text: "!", Offset: 40},
		}},
		{"optional text may be empty", "((flag??))", []Part{{Kind: PartOptional, Name: "flag"}}},
		{"outer brackets kept as text", "(((name)))", []Part{
			{Kind: PartText, Text: "("},
			{Kind: PartPlaceholder, Name: "name", Offset: 1},
			{Kind: PartText, Text: ")", Offset: 9},
		}},
		{"longer runs keep the extra brackets as text", "0((((A))", []Part{
			{Kind: PartText, Text: "0(("},
			{Kind: PartPlaceholder, Name: "a", Offset: 3},
		}},
		{"single brackets are text", "Call (01603) 123456 :)", []Part{{Kind: PartText, Text: "Call (01603) 123456 :)"}}},
		{"lone closing pair is text", "Hi)) there", []Part{{Kind: PartText, Text: "Hi)) there"}}},
		{"adjacent placeholders", "((a))((b))", []Part{
			{Kind: PartPlaceholder, Name: "a"},
			{Kind: PartPlaceholder, Name: "b", Offset: 5},
		}},
		{"unicode text around", "Shwmae ((enw)) – diolch", []Part{
			{Kind: PartText, Text: "Shwmae "},
			{Kind: PartPlaceholder, Name: "enw", Offset: 7},
			{Kind: PartText, Text: " – diolch", Offset: 14},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse(tt.body)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.body, err)
			}
			if got := b.Parts(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) parts\n got %+v\nwant %+v", tt.body, got, tt.want)
			}
			if b.Source() != tt.body {
				t.Errorf("Source() = %q", b.Source())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		offset       int
		line, column int
		reason       string // a substring of the reason
	}{
		{"unclosed", "Hello ((first_name", 6, 1, 7, "never closed"},
		{"unclosed at end", "Hello ((", 6, 1, 7, "never closed"},
		{"empty name", "Hi (())", 3, 1, 4, "no name"},
		{"blank name", "Hi ((   ))", 3, 1, 4, "no name"},
		{"empty flag", "((??text))", 0, 1, 1, "flag name before ??"},
		{"illegal character", "((first.name))", 7, 1, 8, `'.' (U+002E) cannot be used`},
		{"illegal non-ASCII", "((prénom))", 4, 1, 5, "cannot be used"},
		{"control character", "((a\x01b))", 3, 1, 4, "control character U+0001"},
		{"starts with a digit", "((2nd))", 2, 1, 3, "start with a letter"},
		{"line break in name", "((first\nname))", 7, 1, 8, "line break"},
		{"nested", "((a((b))", 3, 1, 4, "cannot be nested"},
		{"nested in optional text", "((flag??see ((b))))", 12, 1, 13, "cannot be nested"},
		{"unclosed then another", "Dear ((first_name and ((last_name", 22, 1, 23, "cannot be nested"},
		{"stray closing bracket in name", "Hello ((first_name), welcome))", 18, 1, 19, "bracket missing or extra"},
		{"position on a later line", "Line one\nLine ‘two’ ((x y!))", 29, 2, 17, "'!'"},
		{"too long", "((" + strings.Repeat("a", MaxNameLength+1) + "))", 0, 1, 1, "at most 50"},
		{"invalid UTF-8", "ok \xff ((a))", 3, 1, 4, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.body)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error = %v, want *ParseError", tt.body, err)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error does not match ErrSyntax")
			}
			if pe.Offset != tt.offset || pe.Line != tt.line || pe.Column != tt.column {
				t.Errorf("position = %d %d:%d, want %d %d:%d", pe.Offset, pe.Line, pe.Column, tt.offset, tt.line, tt.column)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", pe.Reason, tt.reason)
			}
			if !strings.HasPrefix(pe.Error(), "line ") {
				t.Errorf("Error() = %q", pe.Error())
			}
		})
	}
}

func TestNormaliseName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"first_name", "first_name", true},
		{"First Name", "first_name", true},
		{"  FIRST - NAME  ", "first_name", true},
		{"a1", "a1", true},
		{"team-phone", "team_phone", true},
		{"_x", "x", true},
		{"", "", false},
		{"___", "", false},
		{"1a", "", false},
		{"first.name", "", false},
		{"naïve", "", false},
	}
	for _, tt := range tests {
		got, err := NormaliseName(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormaliseName(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	tests := []struct {
		body string
		want []string
	}{
		{"no placeholders", nil},
		{"((b)) ((A)) ((b)) ((flag??x)) ((a))", []string{"b", "a", "flag"}},
		{"((First Name)) and ((first_name))", []string{"first_name"}},
	}
	for _, tt := range tests {
		b, err := Parse(tt.body)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Placeholders(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Placeholders(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestBodyStringRoundTrip(t *testing.T) {
	tests := []struct{ body, canonical string }{
		{"Hi ((First Name))!", "Hi ((first_name))!"},
		{"(((name)))", "(((name)))"},
		{"((has_car??Bring it (if you can)))", "((has_car??Bring it (if you can)))"},
		{"((Flag ??  spaced ))", "((flag??  spaced ))"},
	}
	for _, tt := range tests {
		b, err := Parse(tt.body)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != tt.canonical {
			t.Errorf("String() = %q, want %q", got, tt.canonical)
		}
		b2, err := Parse(b.String())
		if err != nil {
			t.Fatalf("reparse %q: %v", b.String(), err)
		}
		if !samePartsIgnoringOffsets(b.Parts(), b2.Parts()) {
			t.Errorf("round trip changed parts: %+v vs %+v", b.Parts(), b2.Parts())
		}
	}
}

func samePartsIgnoringOffsets(a, b []Part) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || a[i].Name != b[i].Name || a[i].Text != b[i].Text {
			return false
		}
	}
	return true
}
