package status

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CleanText is free text (restic's last error line, a restore test's
// notes) as a record keeps it: terminal escape sequences (colours, cursor
// moves, window titles) removed, other control characters (NUL, BEL,
// carriage returns) and invisible format characters (a right-to-left
// override) dropped, invalid UTF-8 replaced, and surrounding space
// trimmed; newlines and tabs stay. It is applied once, when a record is
// written, so that every reader gets text; readers still bound and check
// what they read, since other tools write records too.
func CleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c == 0x1b {
			i = skipEscape(s, i)
			continue
		}
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			// dropped
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// skipEscape returns the index after the escape sequence at s[i] (ESC):
// CSI ("ESC [ ... final byte"), OSC and other strings ("ESC ] ... BEL or
// ESC \"), or a two-byte escape.
func skipEscape(s string, i int) int {
	i++ // ESC
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		for i++; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
		}
		return i
	case ']', 'P', '_', '^', 'X':
		for i++; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return i
	}
	return i + 1
}
