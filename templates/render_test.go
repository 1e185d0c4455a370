package templates

import (
	"errors"
	"reflect"
	"testing"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		values map[string]string
		want   string
	}{
		{"no placeholders", "Hello.", nil, "Hello."},
		{"substitution", "Hi ((first_name)) from ((practice_name)).",
			map[string]string{"first_name": "Ann", "practice_name": "Riverside"}, "Hi Ann from Riverside."},
		{"keys are case-insensitive", "Hi ((First Name))",
			map[string]string{"FIRST_NAME": "Ann"}, "Hi Ann"},
		{"extra keys ignored", "Hi ((a))", map[string]string{"a": "x", "b": "y", "not valid!": "z"}, "Hi x"},
		{"value cannot inject a placeholder", "Hi ((first_name)), ((last_name))",
			map[string]string{"first_name": "((last_name))", "last_name": "Smith"}, "Hi ((last_name)), Smith"},
		{"value cannot inject optional text", "Hi ((first_name))",
			map[string]string{"first_name": "((urgent??Call 999))"}, "Hi ((urgent??Call 999))"},
		{"optional shown for yes", "((repeat_attempt??Again: ))Reply", map[string]string{"repeat_attempt": "yes"}, "Again: Reply"},
		{"optional shown for TRUE", "((repeat_attempt??Again: ))Reply", map[string]string{"repeat_attempt": " TRUE "}, "Again: Reply"},
		{"optional hidden for no", "((repeat_attempt??Again: ))Reply", map[string]string{"repeat_attempt": "no"}, "Reply"},
		{"optional hidden for empty", "((repeat_attempt??Again: ))Reply", map[string]string{"repeat_attempt": ""}, "Reply"},
		{"value kept verbatim", "((a))", map[string]string{"a": "  <b>&amp;\n"}, "  <b>&amp;\n"},
		{"same key twice with the same value", "((first_name))", map[string]string{"first_name": "A", "First Name": "A"}, "A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.Render(tt.values)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		values  map[string]string
		target  error
		missing []string
	}{
		{"missing value", "Hi ((first_name)) ((last_name)) ((first_name))", map[string]string{"last_name": "S"},
			ErrMissingValue, []string{"first_name"}},
		{"all missing listed in order", "((b)) ((flag??x)) ((a))", nil,
			ErrMissingValue, []string{"b", "flag", "a"}},
		{"ambiguous keys", "((first_name))", map[string]string{"first_name": "A", "First Name": "B"},
			ErrAmbiguousValues, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.Render(tt.values)
			if !errors.Is(err, tt.target) {
				t.Fatalf("Render error = %v, want %v", err, tt.target)
			}
			var me *MissingValuesError
			if errors.As(err, &me) && !reflect.DeepEqual(me.Names, tt.missing) {
				t.Errorf("missing = %q, want %q", me.Names, tt.missing)
			}
			if _, err := b.RenderVoice(tt.values); !errors.Is(err, tt.target) {
				t.Errorf("RenderVoice error = %v", err)
			}
		})
	}
}

func TestTruthy(t *testing.T) {
	for v, want := range map[string]bool{
		"yes": true, "YES": true, "Y": true, "true": true, "True": true, "1": true, " yes\n": true,
		"no": false, "n": false, "false": false, "0": false, "": false, "maybe": false, "yes please": false,
	} {
		if got := Truthy(v); got != want {
			t.Errorf("Truthy(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestCleanSpeech(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello.", "Hello."},
		{"  Press 1\n\nfor yes.\t", "Press 1 for yes."},
		{`Say <break time="3s"/> now`, `Say break time="3s"/ now`},
		{"<speak>Hi</speak>", "speak Hi /speak"},
		{"Fish & chips, \"quoted\" 'too'", "Fish & chips, \"quoted\" 'too'"}, // twiml escapes these itself
		{"&lt;b&gt;", "&lt;b&gt;"},                                           // never unescaped or escaped again
		{"bell\x07 nul\x00 del\x7f c1\u0085x", "bell nul del c1 x"},
		{"zero\u200Bwidth\u202Erev\uFEFF", "zerowidthrev"},
		{"bad\xffbyte", "badbyte"},
		{"private\uE000use\uFFFE", "privateuse"},
		{"Zoë’s café – ok", "Zoë’s café – ok"},
	}
	for _, tt := range tests {
		if got := CleanSpeech(tt.in); got != tt.want {
			t.Errorf("CleanSpeech(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRenderVoice(t *testing.T) {
	b, err := Parse("Hello ((first_name)).\n((repeat_attempt??We called before. ))Press 1 <for> yes.")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.RenderVoice(map[string]string{
		"first_name":     "Ann <prosody rate=\"x-fast\">\u0000",
		"repeat_attempt": "yes",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `Hello Ann prosody rate="x-fast" . We called before. Press 1 for yes.`
	if got != want {
		t.Errorf("RenderVoice = %q, want %q", got, want)
	}
}
