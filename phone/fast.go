package phone

import (
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// The library classifies a number with a dozen regular expressions (about
// 40µs), which would dominate a million-row import. UK numbers are allocated
// by Ofcom in blocks of at least a thousand, so every number in a block has
// the same validity and kind: the library is asked once per block and the
// answer is remembered. TestBlockCacheAgreesWithLibrary checks the premise.

// blockCacheLimit bounds the memory the cache can take (about 10 MB).
const blockCacheLimit = 200_000

type blockResult struct {
	kind Kind
	err  error
}

var (
	blockMu    sync.RWMutex
	blockCache = make(map[string]blockResult, 1024)
)

// classifyUK classifies a national significant number (no leading 0).
func classifyUK(nsn string) (Kind, error) {
	key := nsn[:len(nsn)-3] + string(rune('0'+len(nsn)))
	blockMu.RLock()
	r, ok := blockCache[key]
	blockMu.RUnlock()
	if ok {
		return r.kind, r.err
	}
	n, err := phonenumbers.Parse("+44"+nsn, "GB")
	if err != nil {
		r = blockResult{err: ErrInvalid}
	} else {
		r.kind, r.err = classifyLibrary(n)
	}
	blockMu.Lock()
	if len(blockCache) < blockCacheLimit {
		blockCache[key] = r
	}
	blockMu.Unlock()
	return r.kind, r.err
}

// ukNational extracts the national significant number from the usual ways a
// UK number is written: 07911 123456, (01603) 123-456, +44 (0)7911 123456,
// 0044 7911 123456, 447911123456. It reports false for anything else, which
// then goes to the library's full parser.
func ukNational(s string) (string, bool) {
	var buf [20]byte
	n := 0
	plus := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(buf) {
				return "", false
			}
			buf[n] = c
			n++
		case c == '+' && n == 0 && !plus:
			plus = true
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '.':
		default:
			return "", false
		}
	}
	d := buf[:n]
	switch {
	case plus:
		if len(d) < 3 || d[0] != '4' || d[1] != '4' {
			return "", false
		}
		d = d[2:]
	case len(d) > 4 && d[0] == '0' && d[1] == '0' && d[2] == '4' && d[3] == '4':
		d = d[4:]
	case len(d) == 12 && d[0] == '4' && d[1] == '4':
		d = d[2:]
	case len(d) > 0 && d[0] == '0':
	default:
		return "", false
	}
	// "+44 (0)7911 123456": the trunk 0 after the country code is dropped.
	if len(d) > 0 && d[0] == '0' {
		d = d[1:]
	}
	// UK national significant numbers have 9 or 10 digits; anything else is
	// left to the library for a precise answer.
	if len(d) != 9 && len(d) != 10 {
		return "", false
	}
	if d[0] == '0' {
		return "", false
	}
	return string(d), true
}
