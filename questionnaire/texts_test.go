package questionnaire

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// gsm7 is the GSM 03.38 basic character set (without the extension table):
// SMS texts restricted to it cost one segment per 160 characters.
const gsm7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

var sample = strings.NewReplacer(
	"((first_name))", "Margaret",
	"((practice_name))", "Castle Street Surgery",
	"((programme_name))", "Protect NoW",
	"((team_phone))", "01603 123456",
)

var placeholderRE = regexp.MustCompile(`\(\(([^)]*)\)\)`)

func TestDefaultTextsCoverEveryKey(t *testing.T) {
	texts := DefaultTexts()
	qn := Default()
	prompts := map[string]bool{}
	for _, q := range qn.Questions {
		prompts[q.Prompt] = true
	}
	smsOnly := map[string]bool{KeyOptOut: true, KeyOptIn: true}
	voiceOnly := map[string]bool{KeyOperator: true, KeyVoicemail: true, KeyGoodbye: true,
		KeyGreeting: true, KeyInvalidOption: true, KeyNoInput: true, KeyCallBackPromise: true,
		KeyCallBackPromiseUnconfirmed: true, KeyIdentityWho: true, KeyIdentityDOB: true, KeyIdentityYear: true,
		KeyIdentityRetry: true, KeyIdentityFailed: true, KeyIdentityNotPatient: true}
	keys := append(qn.TemplateKeys(), SystemTemplateKeys()...)
	for _, k := range keys {
		sms, hasSMS := texts.SMS(k)
		voice, hasVoice := texts.Voice(k)
		if !voiceOnly[k] && !hasSMS {
			t.Errorf("%s: no SMS text", k)
		}
		if !smsOnly[k] && !hasVoice {
			t.Errorf("%s: no voice text", k)
		}
		if hasSMS {
			for _, r := range sms {
				if !strings.ContainsRune(gsm7, r) {
					t.Errorf("%s: SMS has non-GSM-7 character %q", k, r)
				}
			}
			limit := 306 // two segments
			if prompts[k] {
				limit = 160 // one question, one segment
			}
			if n := len(sample.Replace(sms)); n > limit {
				t.Errorf("%s: SMS is %d characters with sample values, limit %d", k, n, limit)
			}
			if strings.Contains(sms, "http") || strings.Contains(sms, "www") {
				t.Errorf("%s: SMS has a link", k)
			}
		}
		if prompts[k] {
			if !strings.Contains(voice, "press 9") || !strings.Contains(voice, "press 0") {
				t.Errorf("%s: voice prompt lacks the 9 (repeat) and 0 (person) reminders", k)
			}
			if !strings.Contains(sms, "Reply 1") {
				t.Errorf("%s: SMS prompt does not say how to reply", k)
			}
		}
		for _, text := range []string{sms, voice} {
			for _, m := range placeholderRE.FindAllStringSubmatch(text, -1) {
				switch m[1] {
				case "first_name", "practice_name", "programme_name", "team_phone":
				default:
					t.Errorf("%s: unexpected placeholder %s", k, m[0])
				}
			}
		}
	}
	// Every digit a voice prompt mentions is an option's digit.
	for _, q := range qn.Questions {
		voice, _ := texts.Voice(q.Prompt)
		for _, m := range regexp.MustCompile(`Press (\d)`).FindAllStringSubmatch(voice, -1) {
			if _, r := q.MatchDigit(m[1]); r != DigitOK {
				t.Errorf("%s: voice says press %s, which is not an option", q.ID, m[1])
			}
		}
		if n := len(regexp.MustCompile(`Press \d`).FindAllString(voice, -1)); n != len(q.Options) {
			t.Errorf("%s: voice names %d options, question has %d", q.ID, n, len(q.Options))
		}
	}
	vm, _ := texts.Voice(KeyVoicemail)
	for _, bad := range []string{"first_name", "programme_name", "unwell", "medicine", "covid", "shield"} {
		if strings.Contains(strings.ToLower(vm), bad) {
			t.Errorf("voicemail mentions %q", bad)
		}
	}
	if texts.Language != "en" || !texts.Has(KeyHelp) || texts.Has("nope") {
		t.Error("Language/Has")
	}
	if _, ok := texts.SMS(KeyOperator); ok {
		t.Error("operator has no SMS text")
	}
	if len(texts.Keys()) != len(uniq(keys)) {
		t.Errorf("texts file has %d keys, used %d: %v", len(texts.Keys()), len(uniq(keys)), texts.Keys())
	}
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

func TestLoadTextsRejects(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"not yaml", "texts: [", "cannot read file"},
		{"unknown field", "language: en\ntexts:\n  a.b:\n    sms: hi\n    email: x\n", `unknown field "email" in a text`},
		{"no language", "texts:\n  a.b:\n    sms: hi\n", "language is missing"},
		{"empty text", "language: en\ntexts:\n  a.b: {}\n", "a.b: no sms or voice text"},
		{"bad key", "language: en\ntexts:\n  \"a b\":\n    sms: hi\n", `key "a b" is not valid`},
		{"unclosed placeholder", "language: en\ntexts:\n  a.b:\n    sms: \"Hi ((first_name\"\n", `"((" without "))"`},
		{"stray close", "language: en\ntexts:\n  a.b:\n    voice: \"Hi first_name))\"\n", `voice: "))" without "(("`},
		{"bad name", "language: en\ntexts:\n  a.b:\n    sms: \"Hi ((First Name))\"\n", "invalid name"},
		{"nested", "language: en\ntexts:\n  a.b:\n    sms: \"Hi ((a((b))\"\n", "not closed"},
	}
	for _, c := range cases {
		_, err := LoadTexts([]byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	tx, err := LoadTexts([]byte("language: cy\ntexts:\n  a.b:\n    sms: \"  Helo ((first_name)) ((flag??optional text)) \"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := tx.SMS("a.b"); !ok || s != "Helo ((first_name)) ((flag??optional text))" {
		t.Errorf("SMS = %q %v", s, ok)
	}
	if _, ok := tx.Voice("a.b"); ok {
		t.Error("voice should be missing")
	}
	var zero Texts
	if _, ok := zero.SMS("a"); ok || zero.Has("a") || len(zero.Keys()) != 0 {
		t.Error("zero Texts")
	}
}

func TestDefaultWelshTextsMatchEnglish(t *testing.T) {
	en, _ := DefaultTextsFor("en")
	cy, ok := DefaultTextsFor("cy")
	if !ok || cy.Language != "cy" {
		t.Fatalf("no Welsh texts: %+v", cy)
	}
	if got, want := cy.Keys(), en.Keys(); !slices.Equal(got, want) {
		t.Fatalf("Welsh keys %v, English keys %v", got, want)
	}
	for _, k := range en.Keys() {
		_, enSMS := en.SMS(k)
		_, cySMS := cy.SMS(k)
		_, enVoice := en.Voice(k)
		_, cyVoice := cy.Voice(k)
		if enSMS != cySMS || enVoice != cyVoice {
			t.Errorf("%s: channels differ between English and Welsh", k)
		}
	}
}

// The first text names the GP practice and the programme, and nothing
// about a condition: whoever reads the phone learns only who is writing.
func TestFirstTextDisclosesNothing(t *testing.T) {
	condition := regexp.MustCompile(`(?i)\b(unwell|ill|medicines?|prescriptions?|chest|breathe|symptoms?|clinical|condition|shield\w*|` +
		`vulnerable|cancer|diabetes|screening|vaccin\w*|covid|risk)\b`)
	for _, lang := range DefaultTextLanguages() {
		texts, _ := DefaultTextsFor(lang)
		intro := Default().Intro
		sms, ok := texts.SMS(intro)
		if !ok {
			t.Fatalf("%s: no first text %s", lang, intro)
		}
		for _, p := range []string{"((practice_name))", "((programme_name))"} {
			if !strings.Contains(sms, p) {
				t.Errorf("%s: first text does not name %s: %s", lang, p, sms)
			}
		}
		if m := condition.FindString(sms); m != "" {
			t.Errorf("%s: first text says %q: %s", lang, m, sms)
		}
		// The call says the greeting once: what follows a passed check
		// does not say who is calling again, nor the name.
		voice, _ := texts.Voice(intro)
		if strings.Contains(voice, "((first_name))") || strings.Contains(voice, "((practice_name))") {
			t.Errorf("%s: the call's introduction repeats the greeting: %s", lang, voice)
		}
	}
}
