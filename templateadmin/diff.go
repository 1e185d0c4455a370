package templateadmin

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DiffOp says whether a piece of text is kept, removed or added.
type DiffOp string

// Diff operations.
const (
	DiffEqual  DiffOp = "="
	DiffDelete DiffOp = "-"
	DiffInsert DiffOp = "+"
)

// DiffPart is one run of text in a diff.
type DiffPart struct {
	Op   DiffOp `json:"op"`
	Text string `json:"text"`
}

// Diff compares two versions: by line (whole lines kept, removed, added,
// as a reviewer reads a change) and by word (within the text, as most SMS
// templates are one line). Concatenating the parts that are not inserted
// gives the old text; the parts that are not deleted give the new one.
type Diff struct {
	From  int        `json:"from"`
	To    int        `json:"to"`
	Lines []DiffPart `json:"lines"`
	Words []DiffPart `json:"words"`
}

// maxDiffTokens bounds the quadratic table; longer texts are compared as
// one replaced block. Template bodies are far below it.
const maxDiffTokens = 4000

// DiffText compares a and b by line and by word.
func DiffText(a, b string) (lines, words []DiffPart) {
	return diffTokens(splitLines(a), splitLines(b)), diffTokens(splitWords(a), splitWords(b))
}

// splitLines splits s after each "\n", keeping the line breaks.
func splitLines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// splitWords splits s into runs of letters and digits, runs of white
// space, and single other characters (punctuation, brackets), so a
// changed comma or placeholder shows as itself.
func splitWords(s string) []string {
	var out []string
	for s != "" {
		r, w := utf8.DecodeRuneInString(s)
		n := w
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'':
			n = runLen(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' })
		case unicode.IsSpace(r):
			n = runLen(s, unicode.IsSpace)
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func runLen(s string, in func(rune) bool) int {
	n := 0
	for n < len(s) {
		r, w := utf8.DecodeRuneInString(s[n:])
		if !in(r) {
			break
		}
		n += w
	}
	return n
}

// diffTokens is a longest-common-subsequence diff with adjacent parts of
// the same kind merged.
func diffTokens(a, b []string) []DiffPart {
	// Common prefix and suffix first: most edits are small.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var parts []DiffPart
	add := func(op DiffOp, text string) {
		if text == "" {
			return
		}
		if n := len(parts); n > 0 && parts[n-1].Op == op {
			parts[n-1].Text += text
			return
		}
		parts = append(parts, DiffPart{Op: op, Text: text})
	}
	for _, t := range a[:pre] {
		add(DiffEqual, t)
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	if len(ma)*len(mb) > maxDiffTokens*maxDiffTokens/4 || len(ma) > maxDiffTokens || len(mb) > maxDiffTokens {
		add(DiffDelete, strings.Join(ma, ""))
		add(DiffInsert, strings.Join(mb, ""))
	} else {
		// lcs[i][j] is the LCS length of ma[i:] and mb[j:].
		w := len(mb) + 1
		lcs := make([]int32, (len(ma)+1)*w)
		for i := len(ma) - 1; i >= 0; i-- {
			for j := len(mb) - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(ma) && j < len(mb) {
			switch {
			case ma[i] == mb[j]:
				add(DiffEqual, ma[i])
				i, j = i+1, j+1
			case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
				add(DiffDelete, ma[i])
				i++
			default:
				add(DiffInsert, mb[j])
				j++
			}
		}
		for ; i < len(ma); i++ {
			add(DiffDelete, ma[i])
		}
		for ; j < len(mb); j++ {
			add(DiffInsert, mb[j])
		}
	}
	for _, t := range a[len(a)-suf:] {
		add(DiffEqual, t)
	}
	return parts
}
