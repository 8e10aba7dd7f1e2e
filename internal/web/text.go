package web

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golemtrust/backupwatch/internal/collector"
)

// Bounds on what a record may put on the page.
const (
	maxLine     = 300  // one line of free text on a tile
	maxHover    = 1000 // the same text in full, on hover
	maxProblems = 5    // diagnostics shown per host or for the store
	maxHostText = 253  // a host name shown (DNS's bound)
)

var sectionTitle = map[string]string{
	Failed:  "Failed",
	Overdue: "Overdue",
	Unknown: "Unknown",
	OK:      "OK",
}

// sectionHelp says what puts an item in a section, in terms of each
// item's own schedule: a host or job with one is judged by it
// (BackupOverdue), the others by the runbook's 24 hours.
var sectionHelp = map[string]string{
	Failed:  "the last backup recorded failed (BackupFailed), whatever the age of the last success",
	Overdue: "no successful backup within its schedule, or within 24 h where none is set (BackupOverdue, BackupNotRunIn24Hours); red after 48 h without one",
	Unknown: "no usable status: never reported, a record that cannot be read, a first backup still running, or the store not reached yet (BackupStatusUnknown)",
	OK:      "a successful backup within its schedule, or within 24 h where none is set",
}

// legend is the page's closing line.
const legend = "States as the alerts see them: failed (red); overdue (no success within its schedule, or within 24 h where none is set: amber, red after 48 h without one, as the runbook's panel); unknown (grey, dashed); ok (green). Each host or job counts in one state only, the first that holds in that order."

// plural is n and noun, with an s unless n is one.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// shellQuote is s as one shell word: as it is when it is plain, in single
// quotes otherwise.
func shellQuote(s string) string {
	plain := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("/._-+=:,@%", r)))
	}) < 0
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func when(t, now time.Time) When {
	if t.IsZero() {
		return When{}
	}
	w := When{Abs: absolute(t), ISO: t.UTC().Format(time.RFC3339)}
	switch d := now.Sub(t); {
	case t.After(now.Add(collector.MaxFutureSkew)):
		w.Rel = span(-d) + " in the future (a wrong clock or record)"
	case d < 0:
		w.Rel = span(-d) + " in the future"
	default:
		w.Rel = span(d) + " ago"
	}
	return w
}

func absolute(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02 15:04:05 MST")
}

// span renders a duration as a person reads an age, as precisely as the
// thresholds need: "40 s", "12 min", "3 h 20 min", "30 h", "5 d 2 h", "40 d".
func span(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	d = d.Truncate(time.Second)
	h := int64(d / time.Hour)
	m := int64(d%time.Hour) / int64(time.Minute)
	days, dh := h/24, h%24
	switch {
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + " s"
	case d < time.Hour:
		return strconv.FormatInt(m, 10) + " min"
	case h < 48 && m > 0:
		return strconv.FormatInt(h, 10) + " h " + strconv.FormatInt(m, 10) + " min"
	case h < 72:
		return strconv.FormatInt(h, 10) + " h"
	case days < 14 && dh > 0:
		return strconv.FormatInt(days, 10) + " d " + strconv.FormatInt(dh, 10) + " h"
	case days < 3*365:
		return strconv.FormatInt(days, 10) + " d"
	default:
		return strconv.FormatInt(days/365, 10) + " years"
	}
}

// bounded is at most maxProblems diagnostics, each one bounded line, and a
// last one saying how many more there were.
func bounded(ps []string) []string {
	var out []string
	for i, p := range ps {
		if i == maxProblems {
			out = append(out, "and "+strconv.Itoa(len(ps)-maxProblems)+" more")
			break
		}
		out = append(out, oneLine(p, maxLine))
	}
	return out
}

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
