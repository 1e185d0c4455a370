// Package templates parses, checks, renders and measures the message
// templates Protect sends by SMS and says in voice calls.
//
// # Syntax
//
// Bodies use the placeholder syntax NHS comms teams already know from
// GOV.UK Notify:
//
//	Hello ((first_name)), this is ((practice_name)).
//	((repeat_attempt??We tried to contact you before. ))Please reply YES or NO.
//
// A placeholder is a name between double round brackets. Optional text is
// a yes/no flag name, two question marks, and text that is shown only when
// the flag is true. The rules, decided here and tested in parse_test.go:
//
//   - Names may use ASCII letters, digits, spaces, hyphens and underscores,
//     and must start with a letter (at most 50 characters). They are
//     case-insensitive: a name is normalised by lower-casing it and turning
//     each run of spaces, hyphens and underscores into one underscore, so
//     ((First Name)), ((first-name)) and ((FIRST_NAME)) are the same
//     placeholder, first_name. Leading and trailing spaces are ignored.
//   - Optional text is plain text: it may not contain placeholders (a "(("
//     inside it is a nested-brackets error). It may contain line breaks,
//     question marks and single round brackets, and it may end with ")":
//     the closing "))" of optional text is the last two of a run of ")".
//   - A run of three or more "(" opens a placeholder at its last two; the
//     others are literal, so "(((name)))" renders as "(" value ")".
//   - A lone "))" outside a placeholder is literal text.
//   - An unknown name is an error when a template is saved (see Check),
//     never when a message is sent.
//
// # Rendering
//
// Render substitutes values in a single pass, so a value that itself looks
// like "((name))" is never expanded. RenderVoice additionally cleans the
// result for a TwiML <Say> verb (see CleanSpeech). Neither escapes XML:
// github.com/twilio/twilio-go/twiml escapes text itself when it writes the
// document, and escaping here too would make callers hear "amp".
//
// # Measuring
//
// CountSMS counts fragments as carriers do (GSM 03.38 septets or UTF-16
// code units), ToGSM offers GSM-7 replacements for typographic characters,
// EstimateSpeech estimates how long a voice script takes to say, and Lint
// gathers the warnings a comms lead should see before saving a template.
//
// The package holds no mutable state and does no I/O; every function is
// safe for concurrent use.
package templates
