package twilioapi

// Redact returns a phone number safe to log: every character but the last
// three digits is dropped, so "+447700900123" becomes "***123". Strings with
// fewer than three digits become "***".
func Redact(number string) string {
	digits := make([]byte, 0, 3)
	for i := len(number) - 1; i >= 0 && len(digits) < 3; i-- {
		if c := number[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) < 3 {
		return "***"
	}
	return "***" + string([]byte{digits[2], digits[1], digits[0]})
}
