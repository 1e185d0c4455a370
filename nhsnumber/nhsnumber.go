// Package nhsnumber validates NHS numbers: ten digits whose last digit is a
// Modulus 11 check digit over the first nine.
package nhsnumber

import (
	"errors"
	"fmt"
)

// Errors returned by Parse. They are plain sentences so an import report can
// show them to the person who made the extract.
var (
	ErrEmpty      = errors.New("NHS number is empty")
	ErrLength     = errors.New("NHS number must have 10 digits")
	ErrCharacter  = errors.New("NHS number may contain only digits and spaces")
	ErrCheckDigit = errors.New("NHS number fails the Modulus 11 check")
)

// Parse returns the ten digits of an NHS number written with optional spaces
// or hyphens (as printed on letters: "943 476 5919" or "943-476-5919"), or an
// error that says what is wrong with it.
func Parse(s string) (string, error) {
	var digits [10]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == 10 {
				return "", ErrLength
			}
			digits[n] = c
			n++
		case c == ' ' || c == '-' || c == '\t':
		default:
			return "", ErrCharacter
		}
	}
	if n == 0 {
		return "", ErrEmpty
	}
	if n != 10 {
		return "", fmt.Errorf("%w (found %d)", ErrLength, n)
	}
	if !checkDigitOK(digits) {
		return "", ErrCheckDigit
	}
	return string(digits[:]), nil
}

// Valid reports whether s is a well-formed NHS number.
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// checkDigitOK applies the Modulus 11 algorithm: weights 10 down to 2 over
// the first nine digits; 11 minus the remainder is the check digit, where 11
// means 0 and 10 means the number can never be valid.
func checkDigitOK(d [10]byte) bool {
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(d[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	if check == 10 {
		return false
	}
	return int(d[9]-'0') == check
}

// CheckDigit returns the check digit for nine leading digits, or -1 when no
// check digit makes them valid. Test data generators use it.
func CheckDigit(nine string) int {
	if len(nine) != 9 {
		return -1
	}
	sum := 0
	for i := 0; i < 9; i++ {
		c := nine[i]
		if c < '0' || c > '9' {
			return -1
		}
		sum += int(c-'0') * (10 - i)
	}
	check := 11 - sum%11
	switch check {
	case 11:
		return 0
	case 10:
		return -1
	}
	return check
}
