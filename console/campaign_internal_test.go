package console

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/store"
)

func TestAxisTicks(t *testing.T) {
	tests := []struct {
		peak int
		want []int
	}{
		{0, []int{0, 1}},
		{1, []int{0, 1}},
		{4, []int{0, 1, 2, 3, 4}},
		{7, []int{0, 2, 4, 6, 8}},
		{19, []int{0, 5, 10, 15, 20}},
		{1000, []int{0, 500, 1000}},
		{1204, []int{0, 500, 1000, 1500}},
	}
	for _, tt := range tests {
		if got := axisTicks(tt.peak); !slices.Equal(got, tt.want) {
			t.Errorf("axisTicks(%d) = %v, want %v", tt.peak, got, tt.want)
		}
	}
}

func TestFiguresAgoAndIntervals(t *testing.T) {
	now := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)
	ages := []struct {
		age  time.Duration
		want string
	}{
		{0, "just now"},
		{1500 * time.Millisecond, "just now"},
		{12 * time.Second, "12 seconds ago"},
		{59 * time.Second, "59 seconds ago"},
		{5 * time.Minute, "5 min ago"},
		{125 * time.Minute, "2 h 5 min ago"},
	}
	for _, tt := range ages {
		if got := figuresAgo(now.Add(-tt.age), now); got != tt.want {
			t.Errorf("figuresAgo(%v) = %q, want %q", tt.age, got, tt.want)
		}
	}
	intervals := []struct {
		refresh    time.Duration
		words      string
		pollEveryS time.Duration
	}{
		{time.Second, "second", time.Second},
		{5 * time.Second, "5 seconds", 2500 * time.Millisecond},
		{30 * time.Second, "30 seconds", 15 * time.Second},
		{2 * time.Minute, "2 minutes", 15 * time.Second},
	}
	for _, tt := range intervals {
		if got := seconds(tt.refresh); got != tt.words {
			t.Errorf("seconds(%v) = %q, want %q", tt.refresh, got, tt.words)
		}
		if got := pollEvery(tt.refresh); got != tt.pollEveryS {
			t.Errorf("pollEvery(%v) = %v, want %v", tt.refresh, got, tt.pollEveryS)
		}
	}
}

// The chart is drawn for wide screens and phones, each with its labels at
// a size that reads where it is shown, and with the hours around now.
func TestActivityChartSizes(t *testing.T) {
	now := time.Date(2026, 11, 30, 16, 20, 0, 0, time.UTC)
	hours := []store.Bucket{
		{Start: now.Truncate(time.Hour), Planned: 7, Contacts: 5, Answered: 3},
		{Start: now.Truncate(time.Hour).Add(-30 * time.Hour), Contacts: 2}, // before the narrow chart's start
	}
	svg := string(activityChart(hours, now, time.UTC))
	if strings.Count(svg, "<svg") != 2 || !strings.Contains(svg, `id="activity-chart"`) || !strings.Contains(svg, `id="activity-chart-narrow"`) {
		t.Fatalf("want a wide and a narrow drawing:\n%s", svg)
	}
	wide, narrow, _ := strings.Cut(svg, `id="activity-chart-narrow"`)
	if strings.Count(wide, `class="sent"`) != 2 || strings.Count(narrow, `class="sent"`) != 1 {
		t.Errorf("bars: wide %d narrow %d", strings.Count(wide, `class="sent"`), strings.Count(narrow, `class="sent"`))
	}
	if !strings.Contains(narrow, `viewBox="0 0 360 230"`) {
		t.Errorf("narrow drawing not sized for a phone")
	}
	// Its viewBox is about as wide as it shows, so SVG units are about
	// CSS pixels: no label under 12 (the browser test measures them).
	for _, m := range regexp.MustCompile(`font-size="([0-9.]+)"`).FindAllStringSubmatch(svg, -1) {
		if f, _ := strconv.ParseFloat(m[1], 64); f < 12 {
			t.Errorf("label of font size %s", m[1])
		}
	}
	// Grid lines on round figures: 0, 2, 4, 6, 8 for a peak of 7.
	for _, label := range []string{">0</text>", ">2</text>", ">8</text>"} {
		if !strings.Contains(narrow, label) {
			t.Errorf("narrow chart lacks the axis label %s", label)
		}
	}
}
