package web

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// oneLine makes free text from a record safe to show on one line: valid
// UTF-8, no control or direction-changing characters (a message cannot
// break or reorder the page's text), spaces collapsed, at most n runes,
// with "…" when cut. Only the first 4n bytes or so are looked at, so a
// megabyte costs no more than a line.
func oneLine(s string, n int) string { return clean(s, n, false) }

// lines is oneLine keeping line breaks (at most maxLines lines), for the
// longer text shown on hover.
func lines(s string, n int) string { return clean(s, n, true) }

const maxLines = 20

func clean(s string, n int, keepLines bool) string {
	cut := false
	if limit := 4*n + 4; len(s) > limit {
		s, cut = s[:limit], true
		for len(s) > 0 && !utf8.RuneStart(s[len(s)-1]) {
			s = s[:len(s)-1]
		}
	}
	var b strings.Builder
	runes, breaks := 0, 0
	space := false // a space is owed before the next character
loop:
	for _, r := range s {
		switch {
		case keepLines && r == '\n':
			if breaks++; breaks >= maxLines {
				cut = true
				break loop
			}
			b.WriteByte('\n')
			runes++
			space = false
			continue
		case unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) ||
			r == '\u2028' || r == '\u2029' || r == '\uFEFF':
			space = b.Len() > 0
			continue
		}
		if runes >= n {
			cut = true
			break
		}
		if space {
			b.WriteByte(' ')
			runes++
			space = false
		}
		b.WriteRune(r) // an invalid byte arrives here as U+FFFD
		runes++
	}
	out := strings.TrimRight(b.String(), " \n")
	if cut {
		out += "…"
	}
	return out
}
