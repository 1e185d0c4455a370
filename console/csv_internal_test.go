package console

import "testing"

func TestCSVSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Ada", "Ada"},
		{"=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"},
		{"+447700900101", "'+447700900101"},
		{"-1", "'-1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"  =1+1", "'  =1+1"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"O'Neil-Smith", "O'Neil-Smith"},
		{"a=b", "a=b"},
	}
	for _, tt := range tests {
		if got := csvSafe(tt.in); got != tt.want {
			t.Errorf("csvSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
