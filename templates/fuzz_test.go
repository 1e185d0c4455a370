package templates

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func addSeeds(f *testing.F) {
	for _, s := range []string{
		"", "Hello", "Hi ((first_name))!", "((First Name))", "(((name)))", "((a))((b))",
		"((flag??text))", "((flag??text (x)))", "((flag??))", "((??x))", "((", "))", "((a", "((a((b))",
		"((a)b))", "((a\nb))", "Line\n((x y!))", "It’s “fine” – really…", "😜" + digits(68),
		digits(152) + "€" + digits(152), "\xff((a))", "((a)) bit.ly/x nhs.uk",
	} {
		f.Add(s)
	}
}

// FuzzParse checks that Parse never panics, that every error is a
// positioned *ParseError, and that a parsed body round-trips: its canonical
// form parses to the same parts, and rendering each placeholder as its own
// ((name)) with every flag on reproduces that form with the optional text
// in place.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body string) {
		b, err := Parse(body)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.Offset < 0 || pe.Offset > len(body) || pe.Line < 1 || pe.Column < 1 || pe.Reason == "" {
				t.Fatalf("bad error position %+v for %q", pe, body)
			}
			if pe.Line != strings.Count(body[:pe.Offset], "\n")+1 {
				t.Fatalf("line %d wrong for offset %d in %q", pe.Line, pe.Offset, body)
			}
			return
		}
		parts := b.Parts()
		for i, p := range parts {
			if p.Kind == PartText && (p.Text == "" || (i > 0 && parts[i-1].Kind == PartText)) {
				t.Fatalf("empty or unmerged text part in %+v", parts)
			}
			if p.Kind != PartText {
				if n, err := NormaliseName(p.Name); err != nil || n != p.Name {
					t.Fatalf("name %q not normalised", p.Name)
				}
				if !strings.HasPrefix(body[p.Offset:], "((") {
					t.Fatalf("placeholder offset %d does not point at ((", p.Offset)
				}
			}
			// Literal text may hold "((" only just before a placeholder
			// ("((((a))" keeps two as text); optional text never does.
			if p.Kind == PartOptional && strings.Contains(p.Text, "((") {
				t.Fatalf("optional text contains ((: %q", p.Text)
			}
			if p.Kind == PartText && strings.Contains(p.Text, "((") &&
				(i+1 == len(parts) || !strings.HasSuffix(p.Text, "((")) {
				t.Fatalf("text part contains (( not before a placeholder: %q", p.Text)
			}
		}

		canon := b.String()
		b2, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, body, err)
		}
		if !samePartsIgnoringOffsets(parts, b2.Parts()) {
			t.Fatalf("round trip changed parts:\n%+v\n%+v", parts, b2.Parts())
		}
		if b2.String() != canon {
			t.Fatalf("canonical form not stable: %q vs %q", canon, b2.String())
		}

		values := make(map[string]string)
		var want strings.Builder
		for _, p := range parts {
			switch p.Kind {
			case PartText:
				want.WriteString(p.Text)
			case PartPlaceholder:
				values[p.Name] = "((" + p.Name + "))"
				want.WriteString("((" + p.Name + "))")
			case PartOptional:
				want.WriteString(p.Text)
			}
		}
		for _, p := range parts {
			if p.Kind == PartOptional {
				if _, used := values[p.Name]; used {
					return // the same name as value and flag: no single value fits both
				}
				values[p.Name] = "yes"
			}
		}
		got, err := b.Render(values)
		if err != nil {
			t.Fatalf("Render with every value: %v", err)
		}
		if got != want.String() {
			t.Fatalf("Render = %q, want %q", got, want.String())
		}
		if v, err := b.RenderVoice(values); err != nil || !utf8.ValidString(v) || strings.ContainsAny(v, "<>\x00") {
			t.Fatalf("RenderVoice = %q, %v", v, err)
		}
		_ = Lint(ChannelSMS, body, LintOptions{})
		_ = Lint(ChannelVoice, body, LintOptions{})
	})
}

// FuzzCountSMS checks the counter's invariants and ToGSM's promises on
// arbitrary text.
func FuzzCountSMS(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, text string) {
		c := CountSMS(text)
		checkCountInvariants(t, text, c)
		if utf8.ValidString(text) && c.Characters != utf8.RuneCountInString(text) {
			t.Fatalf("Characters %d", c.Characters)
		}
		g := ToGSM(text)
		if ToGSM(g) != g {
			t.Fatalf("ToGSM not idempotent on %q", text)
		}
		gc := CountSMS(g)
		checkCountInvariants(t, g, gc)
		for _, u := range gc.UnicodeChars {
			if u.HasReplacement {
				t.Fatalf("ToGSM left replaceable %q in %q", u.Rune, g)
			}
		}
		if len(c.UnicodeChars) > 0 && gc.Encoding == GSM7 {
			for _, u := range c.UnicodeChars {
				if !u.HasReplacement {
					t.Fatalf("%q had no replacement yet ToGSM made the text GSM-7", u.Rune)
				}
			}
		}
		if EstimateSpeech(text) < 0 {
			t.Fatalf("negative speech estimate")
		}
	})
}
