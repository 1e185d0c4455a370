package templates

import (
	"strings"
	"testing"
	"time"
)

func TestEstimateSpeech(t *testing.T) {
	w := time.Minute / SpeechWordsPerMinute
	s, c := SentencePause, ClausePause
	tests := []struct {
		text string
		want time.Duration
	}{
		{"", 0},
		{"   \n", s}, // a bare line break still pauses
		{"Hello", w},
		{"Hello.", w + s},
		{"Hello, Ann.", 2*w + c + s},
		{"Really?!", w + s},
		{"Wait...", w + s},
		{"Wait, .", w + s}, // the sentence end swallows the clause pause
		{"don't it’s", 2 * w},
		{"Press 1 or 2.", 4*w + s},
		{"Call 01603 123456.", 12*w + s}, // long numbers are said digit by digit
		{"In 2026", 5 * w},
		{"Fish & chips, 50% off", 6*w + c},
		{"Line one\nLine two", 4*w + s},
		{"Yes – now", 2*w + c},
		{"Café crème", 2 * w},
		{"-- ** !!", s},
		{strings.Repeat("word ", 130), 130 * w},
	}
	for _, tt := range tests {
		if got := EstimateSpeech(tt.text); got != tt.want {
			t.Errorf("EstimateSpeech(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
	// 130 words take a minute, give or take integer rounding.
	if d := EstimateSpeech(strings.Repeat("word ", 130)); d < time.Minute-time.Microsecond || d > time.Minute {
		t.Errorf("130 words = %v", d)
	}
}
