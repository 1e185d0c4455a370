// Package questionnaire loads, checks and runs the short questionnaires
// that Protect asks patients by SMS and by automated voice call. It has no
// database and no HTTP: callers store State as JSON, send texts and build
// TwiML. One engine serves both channels.
//
// # File format
//
// A questionnaire is a YAML file (JSON is accepted: it is read as YAML):
//
//	id: wellbeing            # letters, digits, '.', '_', '-'
//	version: 1               # increase on every change
//	title: Wellbeing check   # for staff only
//	intro: wellbeing.intro   # optional template key sent before the first question
//	start: ok                # first question
//	end_fine: wellbeing.end_fine   # optional closing template keys
//	end_need: wellbeing.end_need   # (default system.end_fine / system.end_need)
//	questions:
//	  - id: ok
//	    prompt: wellbeing.ok          # template key (required)
//	    reprompt: wellbeing.ok_again  # optional, used when re-asking
//	    unclear_priority: high        # priority if not understood twice
//	    options:
//	      - key: "no"                 # unique within the question
//	        digit: "2"                # keypad 1 to 8 (0 and 9 are reserved)
//	        words: [no, nope, not ok] # SMS replies meaning this option
//	        label: Is not OK          # for staff
//	        need: {category: call-back, priority: normal}  # optional
//	        advice: advice.urgent_111 # optional template key, given at once
//	        next: food                # question id or "end"
//
// Unknown fields are rejected. Quote "yes", "no" and digits to be safe.
//
// # Loading
//
// Load reports every problem at once in a *LoadError, each with its
// question, option and reason: unreadable YAML or unknown fields; missing
// or invalid ids and keys; duplicate question ids or option keys; a start
// that is missing or not a question; a next that is empty or not a question
// (an option that leads nowhere); a question no path from the start reaches;
// a reachable question from which no path reaches "end" (a loop with no way
// out); no options, or more than 8; a missing, reserved (0, 9), invalid or
// duplicate digit; an option word that is empty, listed twice, a reserved
// keyword (stop, help, ...), contains a digit or a digit's name, consists
// only of filler words, or also means another option; an unknown need
// category or priority; a prompt without a template key; a template key
// (prompt, reprompt, advice, intro, closings) for which
// LoadOptions.TemplateExists is false.
//
// Option words are stored normalised, so Canonical (JSON) and Checksum
// (sha256 of it) identify what the questionnaire does: store both with the
// version, and refuse a file whose version is unchanged but whose checksum
// differs. Loading the canonical JSON gives the same checksum.
//
// # Replies
//
// SMS replies are first checked with ParseKeyword. A keyword is matched
// only when the whole reply, after Normalize, is the keyword, as Twilio
// does: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE and OPTOUT opt
// out; START and UNSTOP opt back in; HELP and INFO ask for help. "Stop
// please" is not a keyword; it matches no option either (keywords cannot be
// option words), so it is re-asked once and then read by a person. Note
// that Twilio also treats YES as an opt-in keyword by default; here YES is
// an answer.
//
// Other replies go to Question.Match, whose rules are documented on it. In
// short: the reply must consist of phrases of exactly one option (its
// digit, the digit's English name or one of its words) plus filler words
// (please, thanks, ...). Anything else is MatchNone, MatchUnclear or
// MatchAmbiguous, and the caller calls Questionnaire.NoMatch. The matcher is
// conservative on purpose: no word inside a reply is enough on its own, so
// "not ok" never means "ok", and "yes and no", "yes no", "no I'm fine", "not
// ok at all" and "yes but I need food" are never matched. Negative phrases
// are matched only when the author lists them as words of an option: the
// default questionnaire lists "not ok" and "not fine" under "no", so "Not
// OK" and "No, I'm not fine" mean "no" there, while "not unwell" (a double
// negative nobody listed) goes to a person.
//
// On a call, each question is a Gather of one digit; Question.MatchDigit
// maps the digit to an option, or 9 to DigitRepeat (Questionnaire.Repeat,
// not counted as a retry), 0 to DigitOperator (connect to a person), no
// press to DigitNone and other digits to DigitInvalid (both treated as not
// understood by the caller).
//
// # Engine
//
// The engine is stateless: Begin returns the first State and Step; Advance
// records an answer; NoMatch handles a reply that was not understood; Repeat
// asks again. Each Step lists the template keys to send or say, in order
// (Step.Messages): advice first, then the next prompt or the closing
// message. A need on an option is recorded and the questionnaire continues
// to the option's next, so one run can report several needs; Step.NewNeeds
// should be escalated at once, not at the end. The outcome is derived when
// the questionnaire finishes: OutcomeFine when no need was reported,
// otherwise OutcomeNeed. The first reply to a question that is not
// understood re-asks it (its Reprompt, or KeyNotUnderstood then its
// Prompt); the second stops the questionnaire with a CategoryUnclearReply
// need at the question's UnclearPriority and Step.Handover, so that a
// person reads the replies. HELP, STOP and START are the caller's: they do
// not change State.
//
// # Texts
//
// Template keys are resolved by the template feature; until it lands,
// DefaultTexts (defaults/texts.en.yaml) has SMS and voice wording for every
// key of the default questionnaire and SystemTemplateKeys, with GOV.UK
// Notify placeholders ((first_name)), ((practice_name)),
// ((programme_name)) and ((team_phone)). The voicemail text names only the
// practice, never the patient, the programme or a condition.
package questionnaire
