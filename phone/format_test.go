package phone

import "testing"

func TestNational(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+447911123456", "07911 123 456"},
		{"+441603123456", "01603 123 456"},
		{"+442079460000", "020 7946 0000"},
		{"+447700900004", "07700 900 004"},
		{"+33123456789", "+33 1 23 45 67 89"},
		{"not a number", "not a number"},
	}
	for _, tc := range tests {
		if got := National(tc.in); got != tc.want {
			t.Errorf("National(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
