package sandbox

import "unicode/utf16"

// gsmBasic is the GSM 03.38 default alphabet; gsmExtended characters take
// two septets.
const (
	gsmBasic    = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtended = "^{}\\[~]|€\f"
)

var gsmCost = func() map[rune]int {
	m := map[rune]int{}
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtended {
		m[r] = 2
	}
	return m
}()

// segments counts the SMS parts for body: GSM-7 160 or 153 per part,
// otherwise UCS-2 70 or 67 UTF-16 units per part.
func segments(body string) int {
	septets, gsm := 0, true
	for _, r := range body {
		c, ok := gsmCost[r]
		if !ok {
			gsm = false
			break
		}
		septets += c
	}
	if gsm {
		return parts(septets, 160, 153)
	}
	return parts(len(utf16.Encode([]rune(body))), 70, 67)
}

func parts(n, single, multi int) int {
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}
