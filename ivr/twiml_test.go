package ivr

import (
	"slices"
	"strings"
	"testing"

	"github.com/protectnow/protect/outreach"
)

// Each run of a script is said by its language's voice, slowed down where
// the voice takes SSML; a Gather holds every run of its prompt.
func TestSpeech(t *testing.T) {
	welshThenEnglish := []outreach.Spoken{{Text: "Helo.", Language: "cy"}, {Text: "Are you OK?", Language: "en"}}
	type say struct{ voice, lang, rate, text string }
	tests := []struct {
		name   string
		speech Speech
		text   []outreach.Spoken
		want   []say
	}{
		{"defaults: Amy at 90%", Speech{}, []outreach.Spoken{{Text: "Hello & welcome", Language: "en"}},
			[]say{{"Polly.Amy", "en-GB", "90%", "Hello & welcome"}}},
		{"Welsh run in a Welsh voice", Speech{}, welshThenEnglish,
			[]say{{"Polly.Gwyneth", "cy-GB", "90%", "Helo."}, {"Polly.Amy", "en-GB", "90%", "Are you OK?"}}},
		{"configured voices and rate", Speech{Rate: "slow", Voices: map[string]VoiceSpec{"en": {"Google.en-GB-Standard-A", "en-GB"}, "cy": {"Google.cy-GB-Standard-A", "cy-GB"}}},
			welshThenEnglish,
			[]say{{"Google.cy-GB-Standard-A", "cy-GB", "slow", "Helo."}, {"Google.en-GB-Standard-A", "en-GB", "slow", "Are you OK?"}}},
		{"a basic voice takes no SSML", Speech{Voices: map[string]VoiceSpec{"en": {"alice", "en-GB"}}}, []outreach.Spoken{{Text: "Hello", Language: "en"}},
			[]say{{"alice", "en-GB", "", "Hello"}}},
		{"normal speed needs no prosody", Speech{Rate: "medium"}, []outreach.Spoken{{Text: "Hello", Language: "en"}},
			[]say{{"Polly.Amy", "en-GB", "", "Hello"}}},
		{"a language with no voice is said in English's", Speech{}, []outreach.Spoken{{Text: "Dzień dobry", Language: "xx"}},
			[]say{{"Polly.Amy", "en-GB", "90%", "Dzień dobry"}}},
		{"empty runs say nothing", Speech{}, []outreach.Spoken{{Text: " ", Language: "en"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := tt.speech.withDefaults()
			d := &doc{sp: sp}
			d.say(tt.text).gather("https://gw.example/g", tt.text)
			out, err := d.String()
			if err != nil {
				t.Fatal(err)
			}
			verbs := parse(t, out)
			if len(verbs) != len(tt.want)+1 || verbs[len(verbs)-1].XMLName.Local != "Gather" {
				t.Fatalf("verbs %+v\n%s", verbs, out)
			}
			// The Says before the Gather and those inside it are the same.
			for _, says := range [][]node{verbs[:len(verbs)-1], verbs[len(verbs)-1].Children} {
				if len(says) != len(tt.want) {
					t.Fatalf("%d Says, want %d\n%s", len(says), len(tt.want), out)
				}
				for i, n := range says {
					text, rate := n.spoken()
					got := say{n.attr("voice"), n.attr("language"), rate, text}
					if n.XMLName.Local != "Say" || got != tt.want[i] {
						t.Errorf("Say %d = %+v, want %+v\n%s", i, got, tt.want[i], out)
					}
				}
			}
		})
	}
	if !(Speech{}.withDefaults().speaks("cy")) || (Speech{}.withDefaults().speaks("so")) {
		t.Error("built-in voices: Welsh spoken, Somali not")
	}
}

// A question is followed by a pause before its options, and each option
// (a sentence offering a key) by a shorter one; numbers never count as
// keys.
func TestPauses(t *testing.T) {
	tests := []struct {
		name, text string
		want       []pauseRun
	}{
		{"question and options", "Are you OK? Press 1 if you are. Press 2 if not. To hear this again, press 9.",
			[]pauseRun{{"Are you OK?", ""}, {"Press 1 if you are.", questionPause}, {"Press 2 if not.", optionPause},
				{"To hear this again, press 9.", optionPause}}},
		{"the who prompt", "If you are Ann, press 1. If you are not Ann, press 2.",
			[]pauseRun{{"If you are Ann, press 1.", ""}, {"If you are not Ann, press 2.", optionPause}}},
		{"Welsh options", "Ydych chi'n iawn? Pwyswch 1 os ydych. Pwyswch 2 os nad ydych.",
			[]pauseRun{{"Ydych chi'n iawn?", ""}, {"Pwyswch 1 os ydych.", questionPause}, {"Pwyswch 2 os nad ydych.", optionPause}}},
		{"numbers are not keys", "Thank you. If you feel worse, call 1 1 1, or 9 9 9 in an emergency. Call 01603 000111.",
			[]pauseRun{{"Thank you. If you feel worse, call 1 1 1, or 9 9 9 in an emergency. Call 01603 000111.", ""}}},
		{"a 4th of March is no key", "Enter the day. For example, for the 4th of March, press 0 4 0 3.",
			[]pauseRun{{"Enter the day. For example, for the 4th of March, press 0 4 0 3.", ""}}},
		{"plain", "Thank you for your time. Goodbye.", []pauseRun{{"Thank you for your time. Goodbye.", ""}}},
		{"a closing question mark", "Are you OK?", []pauseRun{{"Are you OK?", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitPauses(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
	d := &doc{sp: Speech{}.withDefaults()}
	out, err := d.say([]outreach.Spoken{{Text: "If you are Ann, press 1. If you are not Ann, press 2.", Language: "en"}}).String()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `press 1.</prosody><break time="500ms"></break><prosody`) && !strings.Contains(out, `press 1.</prosody><break time="500ms"/><prosody`) {
		t.Errorf("no pause between the options of the who prompt:\n%s", out)
	}
}
