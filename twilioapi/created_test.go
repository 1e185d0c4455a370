package twilioapi

import (
	"testing"
	"time"
)

func TestCreatedSince(t *testing.T) {
	since := time.Date(2026, 11, 27, 17, 0, 0, 500_000_000, time.UTC)
	str := func(s string) *string { return &s }
	tests := []struct {
		created *string
		want    bool
	}{
		{str("Fri, 27 Nov 2026 17:00:00 +0000"), true},  // the same second, cut
		{str("Fri, 27 Nov 2026 16:59:57 +0000"), true},  // within the slack
		{str("Fri, 27 Nov 2026 18:00:00 +0100"), true},  // another zone, same instant
		{str("Fri, 27 Nov 2026 16:59:50 +0000"), false}, // before this attempt began
		{str("Thu, 26 Nov 2026 17:00:00 +0000"), false},
		{nil, true},
		{str("yesterday"), true},
	}
	for _, tt := range tests {
		if got := CreatedSince(tt.created, since); got != tt.want {
			t.Errorf("CreatedSince(%v) = %v, want %v", tt.created, got, tt.want)
		}
	}
}
