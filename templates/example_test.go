package templates_test

import (
	"fmt"

	"github.com/protectnow/protect/templates"
)

func ExampleCheck() {
	allowed, _ := templates.RegistryFor(templates.PurposeInvitation)
	err := templates.Check("Hi ((first_name)), your NHS number is ((nhs_number)).", allowed)
	fmt.Println(err != nil)
	// Output: true
}

func ExampleBody_Render() {
	b, _ := templates.Parse("Hi ((First Name)). ((repeat_attempt??We tried to call you yesterday. ))Reply YES or NO.")
	s, _ := b.Render(map[string]string{"first_name": "Margaret", "repeat_attempt": "yes"})
	fmt.Println(s)
	// Output: Hi Margaret. We tried to call you yesterday. Reply YES or NO.
}

func ExampleCountSMS() {
	c := templates.CountSMS("It’s your flu jab – reply YES")
	fmt.Println(c.Encoding, c.Units, c.Fragments, c.Remaining)
	for _, u := range c.UnicodeChars {
		fmt.Printf("%c at %d -> %q\n", u.Rune, u.Offset, u.Replacement)
	}
	fmt.Println(templates.ToGSM("It’s your flu jab – reply YES"))
	// Output:
	// UCS-2 29 1 41
	// ’ at 2 -> "'"
	// – at 20 -> "-"
	// It's your flu jab - reply YES
}
