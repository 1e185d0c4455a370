package ivr

import (
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
