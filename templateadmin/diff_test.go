package templateadmin

import (
	"reflect"
	"strings"
	"testing"
)

// rebuild returns the old and new texts a diff describes.
func rebuild(parts []DiffPart) (string, string) {
	var a, b strings.Builder
	for _, p := range parts {
		if p.Op != DiffInsert {
			a.WriteString(p.Text)
		}
		if p.Op != DiffDelete {
			b.WriteString(p.Text)
		}
	}
	return a.String(), b.String()
}

func TestDiffText(t *testing.T) {
	tests := []struct {
		name       string
		a, b       string
		wantWords  []DiffPart
		wantLines  int
		changedAny bool
	}{
		{name: "same", a: "Are you OK?", b: "Are you OK?", wantWords: []DiffPart{{DiffEqual, "Are you OK?"}}, wantLines: 1},
		{name: "empty", a: "", b: "", wantWords: nil, wantLines: 0},
		{name: "one word", a: "Are you OK? Reply 1.", b: "Are you well? Reply 1.",
			wantWords: []DiffPart{{DiffEqual, "Are you "}, {DiffDelete, "OK"}, {DiffInsert, "well"}, {DiffEqual, "? Reply 1."}}, wantLines: 2},
		{name: "placeholder added", a: "Hello, this is us.", b: "Hello ((first_name)), this is us.",
			wantWords: []DiffPart{{DiffEqual, "Hello"}, {DiffInsert, " ((first_name))"}, {DiffEqual, ", this is us."}}, wantLines: 2},
		{name: "line added", a: "One\nTwo\n", b: "One\nNew\nTwo\n",
			wantWords: []DiffPart{{DiffEqual, "One\n"}, {DiffInsert, "New\n"}, {DiffEqual, "Two\n"}}, wantLines: 3},
		{name: "all new", a: "", b: "Hi", wantWords: []DiffPart{{DiffInsert, "Hi"}}, wantLines: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, words := DiffText(tt.a, tt.b)
			if !reflect.DeepEqual(words, tt.wantWords) {
				t.Errorf("words = %q, want %q", words, tt.wantWords)
			}
			if len(lines) != tt.wantLines {
				t.Errorf("lines = %q, want %d parts", lines, tt.wantLines)
			}
			for _, parts := range [][]DiffPart{lines, words} {
				if a, b := rebuild(parts); a != tt.a || b != tt.b {
					t.Errorf("rebuilt %q -> %q", a, b)
				}
			}
		})
	}
}

// FuzzDiffText checks the tokenisers and the diff on any input: the parts
// always rebuild both texts, and no two neighbours share an operation.
func FuzzDiffText(f *testing.F) {
	f.Add("Are you OK? Reply 1 for yes.", "Are you well? Reply 1 for yes or 2 for no.")
	f.Add("One\nTwo\n", "One\nthree\nTwo")
	f.Add("((first_name))", "((First Name??text))")
	f.Add("\xff\xfe", "caf\u00e9 \u2014 \U0001F600")
	f.Fuzz(func(t *testing.T, a, b string) {
		lines, words := DiffText(a, b)
		for _, parts := range [][]DiffPart{lines, words} {
			if x, y := rebuild(parts); x != a || y != b {
				t.Fatalf("rebuilt %q -> %q from %q -> %q", x, y, a, b)
			}
			for i := 1; i < len(parts); i++ {
				if parts[i].Op == parts[i-1].Op || parts[i].Text == "" {
					t.Fatalf("parts not merged: %q", parts)
				}
			}
		}
	})
}
