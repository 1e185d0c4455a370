package sandbox

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// verb is one TwiML element: its name, attributes, text and children.
type verb struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []verb     `xml:",any"`
}

func (v verb) attr(name string) string {
	for _, a := range v.Attrs {
		if a.Name.Local == name {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

func (v verb) text() string { return strings.Join(strings.Fields(v.Text), " ") }

// spoken is the text a Say speaks, SSML elements inside it (prosody,
// break, emphasis...) included.
func (v verb) spoken() string {
	var b strings.Builder
	var walk func(v verb)
	walk = func(v verb) {
		if v.XMLName.Local == "say-as" && (v.attr("interpret-as") == "telephone" || v.attr("interpret-as") == "digits") {
			// As a voice reads it: digit by digit, a pause between groups.
			b.WriteString(spellDigits(v.Text))
			return
		}
		b.WriteString(v.Text)
		for _, c := range v.Children {
			b.WriteString(" ")
			walk(c)
		}
	}
	walk(v)
	return strings.Join(strings.Fields(b.String()), " ")
}

// parseTwiML parses a voice TwiML document and returns the verbs of its
// <Response>.
func parseTwiML(data []byte) ([]verb, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty TwiML document")
	}
	var root verb
	if err := xml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse TwiML: %w", err)
	}
	if root.XMLName.Local != "Response" {
		return nil, fmt.Errorf("parse TwiML: root element is <%s>, want <Response>", root.XMLName.Local)
	}
	return root.Children, nil
}

// spellDigits writes a number as a voice says it under say-as telephone:
// "01603 000 111" is "0 1 6 0 3, 0 0 0, 1 1 1", "999" is "9 9 9".
func spellDigits(number string) string {
	var groups []string
	for _, g := range strings.Fields(number) {
		groups = append(groups, strings.Join(strings.Split(g, ""), " "))
	}
	return strings.Join(groups, ", ")
}
