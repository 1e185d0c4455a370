package redact_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/protectnow/protect/redact"
)

// The numbers a log line must never show in clear: a UK mobile written
// three ways and an NHS number written two ways.
var secrets = []struct{ written, clear string }{
	{"+447911123456", "7911123456"},
	{"07911 123456", "7911 123"},
	{"447911123456", "47911123"},
	{"943 476 5919", "943 476"},
	{"9434765919", "9434765"},
}

type stringer struct{ s string }

func (s stringer) String() string { return "stringer " + s.s }

type patient struct {
	ID     int
	Mobile string
	Notes  []string
}

type valuer struct{ s string }

func (v valuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("inner", v.s), slog.Any("deeper", patient{ID: 1, Mobile: v.s}))
}

// Every kind of attribute, through the text and the JSON handler, with the
// redaction safety net, shows none of the numbers in clear; Twilio SIDs,
// whose 32 hex digits can hold long digit runs, stay whole.
func TestNoNumberInClearWhateverIsLogged(t *testing.T) {
	const sid = "CAf95d1234567890123abc45678900950b"
	const msgSID = "SM0123456789abcdef0123456789abcdef"
	kinds := []struct {
		name string
		log  func(l *slog.Logger, n string)
	}{
		{"message", func(l *slog.Logger, n string) { l.Info("dialled " + n) }},
		{"string", func(l *slog.Logger, n string) { l.Info("x", "detail", "number "+n) }},
		{"sensitive key", func(l *slog.Logger, n string) { l.Info("x", "mobile", n) }},
		{"error", func(l *slog.Logger, n string) { l.Info("x", "error", errors.New("bad number "+n)) }},
		{"wrapped error", func(l *slog.Logger, n string) {
			l.Info("x", "error", fmt.Errorf("send: %w", fmt.Errorf("twilio: %w", errors.New("to "+n))))
		}},
		{"joined error", func(l *slog.Logger, n string) { l.Info("x", "err", errors.Join(errors.New("a"), errors.New(n))) }},
		{"stringer", func(l *slog.Logger, n string) { l.Info("x", "who", stringer{n}) }},
		{"struct", func(l *slog.Logger, n string) { l.Info("x", "patient", patient{ID: 7, Mobile: n, Notes: []string{n}}) }},
		{"struct pointer", func(l *slog.Logger, n string) { l.Info("x", "patient", &patient{ID: 7, Mobile: n}) }},
		{"map", func(l *slog.Logger, n string) { l.Info("x", "m", map[string]any{"contact": n}) }},
		{"slice", func(l *slog.Logger, n string) { l.Info("x", "list", []string{"a", n}) }},
		{"bytes", func(l *slog.Logger, n string) { l.Info("x", "raw", []byte("From="+n)) }},
		{"group", func(l *slog.Logger, n string) {
			l.Info("x", slog.Group("patient", "detail", n, slog.Group("inner", "err", errors.New(n))))
		}},
		{"log valuer", func(l *slog.Logger, n string) { l.Info("x", "v", valuer{n}) }},
		{"with", func(l *slog.Logger, n string) { l.With("detail", n, "e", errors.New(n)).Info("x") }},
		{"with group", func(l *slog.Logger, n string) { l.WithGroup("g").Info("x", "detail", n, "s", stringer{n}) }},
		{"attrs", func(l *slog.Logger, n string) {
			l.LogAttrs(t.Context(), slog.LevelInfo, "x", slog.Any("a", []any{n, 3}))
		}},
	}
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{ReplaceAttr: redact.ReplaceAttr})
		},
		"json": func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{ReplaceAttr: redact.ReplaceAttr})
		},
	}
	for hname, h := range handlers {
		for _, k := range kinds {
			for _, s := range secrets {
				t.Run(hname+"/"+k.name+"/"+s.written, func(t *testing.T) {
					var buf bytes.Buffer
					k.log(slog.New(h(&buf)), s.written)
					if strings.Contains(buf.String(), s.clear) {
						t.Fatalf("%s in clear:\n%s", s.written, buf.String())
					}
				})
			}
		}
		t.Run(hname+"/sids", func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(h(&buf)).Info("sent "+msgSID, "sid", sid, "error", fmt.Errorf("call %s failed", sid), "to", "+447911123456")
			if !strings.Contains(buf.String(), "sent "+msgSID) || strings.Count(buf.String(), sid) != 2 {
				t.Fatalf("a SID was masked:\n%s", buf.String())
			}
		})
	}
	// Numbers, times and durations keep their kind.
	if a := redact.ReplaceAttr(nil, slog.Int("attempt", 5)); a.Value.Kind() != slog.KindInt64 || a.Value.Int64() != 5 {
		t.Fatalf("int changed: %v", a)
	}
}
