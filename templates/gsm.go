package templates

// The GSM 03.38 (3GPP TS 23.038) default alphabet, written as switches so
// the tables are constants rather than package-level maps.

// gsmSeptets returns how many septets r takes in the GSM 7-bit default
// alphabet: 1 for the basic character set, 2 for the extension table
// (escape 0x1B plus the character), or 0 if r cannot be sent as GSM-7.
//
// The basic set has 127 characters (128 codes, one of them the escape).
// Note the traps: 'É' (0x1F) and 'Ç' (0x09) are in the basic set, but
// 'ç', 'á', 'í', 'ó', 'ú', 'â', 'ê', 'ë', 'ï', 'ŵ', 'ŷ' and '`' are not; '$',
// '@' and '_' are, at codes other than ASCII's.
func gsmSeptets(r rune) int {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return 1
	}
	switch r {
	// 0x00-0x0F
	case '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å':
		return 1
	// 0x10-0x1F, without the escape at 0x1B
	case 'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 'Æ', 'æ', 'ß', 'É':
		return 1
	// 0x20-0x3F, apart from the digits
	case ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
		':', ';', '<', '=', '>', '?':
		return 1
	// 0x40-0x7F, apart from the letters
	case '¡', 'Ä', 'Ö', 'Ñ', 'Ü', '§', '¿', 'ä', 'ö', 'ñ', 'ü', 'à':
		return 1
	// The extension table: form feed, ^ { } \ [ ~ ] | €.
	case '\f', '^', '{', '}', '\\', '[', '~', ']', '|', '€':
		return 2
	}
	return 0
}

// gsmReplacement returns a GSM-7 replacement for a character outside the
// GSM-7 alphabet, and whether there is one. An empty replacement with ok
// true means the character should simply be removed.
//
// Only typographic characters are replaced: their replacement reads the
// same. Letters with accents (the Welsh ŵ and ŷ, or ë in a patient's name)
// get no suggestion, because changing them changes a word or a name.
func gsmReplacement(r rune) (string, bool) {
	switch r {
	case '‘', '’', '‚', '‛', '′', '‹', '›', '`', '´', 'ʼ', 'ˈ':
		return "'", true
	case '“', '”', '„', '‟', '″', '«', '»':
		return "\"", true
	case '‐', '‑', '‒', '–', '—', '―', '−', '⁃', '•', '·':
		return "-", true
	case '…':
		return "...", true
	case '\t', '\u00A0', '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005',
		'\u2006', '\u2007', '\u2008', '\u2009', '\u200A', '\u202F', '\u205F', '\u3000':
		return " ", true
	case '\u2028', '\u2029':
		return "\n", true
	case '\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF', '\u00AD':
		return "", true
	case '×':
		return "x", true
	case '⁄', '∕':
		return "/", true
	case '½':
		return "1/2", true
	case '¼':
		return "1/4", true
	case '¾':
		return "3/4", true
	}
	return "", false
}
