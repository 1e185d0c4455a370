package questionnaire_test

import (
	"fmt"

	"github.com/protectnow/protect/questionnaire"
)

// An SMS conversation: keywords first, then Match, Advance or NoMatch.
func Example_sms() {
	qn := questionnaire.Default()
	texts := questionnaire.DefaultTexts()
	state, step := qn.Begin()
	fmt.Println(step.Messages())

	for _, reply := range []string{"Yes thanks", "not sure", "1.", "no", "YES", "3", "no thank you"} {
		if kw := questionnaire.ParseKeyword(reply); kw != questionnaire.KeywordNone {
			fmt.Println("keyword:", kw)
			continue
		}
		q := qn.Question(state.QuestionID)
		var err error
		if opt, res := q.Match(reply); res == questionnaire.MatchOK {
			state, step, err = qn.Advance(state, opt)
		} else {
			state, step, err = qn.NoMatch(state)
		}
		if err != nil {
			panic(err)
		}
		for _, n := range step.NewNeeds {
			fmt.Printf("escalate now: %s (%s)\n", n.Category, n.Priority)
		}
		fmt.Printf("%q -> %v\n", reply, step.Messages())
	}
	closing, _ := texts.SMS(step.Closing)
	fmt.Println(state.Outcome, questionnaire.MergeNeeds(state.Needs))
	fmt.Println(closing)
	// Output:
	// [wellbeing.intro wellbeing.ok]
	// "Yes thanks" -> [wellbeing.food]
	// "not sure" -> [system.not_understood wellbeing.food]
	// escalate now: food (normal)
	// "1." -> [wellbeing.medicines]
	// "no" -> [wellbeing.unwell]
	// "YES" -> [wellbeing.symptoms]
	// escalate now: clinical (normal)
	// "3" -> [wellbeing.callback]
	// "no thank you" -> [wellbeing.end_need]
	// need [{clinical normal} {food normal}]
	// Thank you. Someone from the team will contact you soon. If you feel worse, call 111, or 999 in an emergency.
}

// A call: each question is a Gather of one digit; 9 repeats, 0 is a person.
func Example_voice() {
	qn := questionnaire.Default()
	state, step := qn.Begin()
	for _, digits := range []string{"2", "9", "7", "1", "0"} {
		q := qn.Question(state.QuestionID)
		opt, res := q.MatchDigit(digits)
		var err error
		switch res {
		case questionnaire.DigitOK:
			state, step, err = qn.Advance(state, opt)
		case questionnaire.DigitRepeat:
			step, err = qn.Repeat(state)
		case questionnaire.DigitOperator:
			fmt.Println("0 -> say", questionnaire.KeyOperator, "and dial the team")
			continue
		default: // DigitInvalid, DigitNone
			state, step, err = qn.NoMatch(state)
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(digits, "->", step.Messages())
	}
	// Output:
	// 2 -> [wellbeing.food]
	// 9 -> [wellbeing.food]
	// 7 -> [system.not_understood wellbeing.food]
	// 1 -> [wellbeing.medicines]
	// 0 -> say system.operator and dial the team
}
