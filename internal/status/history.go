package status

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Run history: a record's last HistoryLen results, as the merge sees
// them, in one field, FieldHistory. The stores keep it out of the record
// that serve reads on every refresh (the local store in a file beside it,
// Vault KV v2 in the record's own versions, RecordEntry, KV v1 in a side
// key; docs/architecture.md, "Run history"). The field is one string of
// text lines, not a JSON array: a reader decodes one string far faster
// than 30 small objects, and it reads with `vault kv get`. Pages read it
// with History.
const (
	// FieldHistory holds the history, oldest first, one result a line:
	//	<time> <outcome> <exit code> <duration s> <files> <bytes> <reason>
	// with "-" for a number not known and the reason to the end of the line.
	FieldHistory = "history"
	// HistoryLen is how many results a record keeps.
	HistoryLen = 30
	// maxHistoryField bounds the field as read: a longer one (written by
	// another tool) is read from its end, its cut first line dropped.
	maxHistoryField = 32 << 10
	// maxReason bounds an entry's reason: the first line of the message.
	maxReason = 160
)

// Entry is one result of a record's history.
type Entry struct {
	At             time.Time
	Outcome        string // Success or Failed
	ExitCode       *int64
	Duration       *float64 // seconds
	FilesProcessed *int64
	BytesProcessed *int64
	Reason         string // the first line of the message, bounded
}

// History reads a record's history, oldest first: at most HistoryLen
// entries, ordered by time, one per time and outcome. It never fails: a
// line it cannot read is skipped and named in problems, so a truncated or
// hostile history costs its bad lines and never the record.
func History(data map[string]any) (entries []Entry, problems []string) {
	v, ok := data[FieldHistory]
	if !ok || v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, []string{FieldHistory + ": not text, ignored"}
	}
	if len(s) > maxHistoryField {
		s = s[len(s)-maxHistoryField:]
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		} else {
			s = ""
		}
		problems = append(problems, FieldHistory+": longer than 32 KiB, only its end read")
	}
	bad := 0
	for line := range strings.SplitSeq(s, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		e, ok := parseEntry(line)
		if !ok {
			bad++
			continue
		}
		entries = append(entries, e)
	}
	if bad > 0 {
		problems = append(problems, FieldHistory+": "+strconv.Itoa(bad)+" unreadable lines skipped")
	}
	return normalize(entries), problems
}

// normalize orders entries by time, keeps one per time and outcome (the
// first seen) and the last HistoryLen of them.
func normalize(entries []Entry) []Entry {
	slices.SortStableFunc(entries, func(a, b Entry) int { return a.At.Compare(b.At) })
	out := entries[:0]
	for _, e := range entries {
		if slices.ContainsFunc(out, func(o Entry) bool { return o.At.Equal(e.At) && o.Outcome == e.Outcome }) {
			continue
		}
		out = append(out, e)
	}
	if len(out) > HistoryLen {
		out = out[len(out)-HistoryLen:]
	}
	return out
}

func parseEntry(line string) (Entry, bool) {
	f := strings.SplitN(line, " ", 7)
	if len(f) < 6 {
		return Entry{}, false
	}
	t, err := ParseTime(f[0])
	if err != nil {
		return Entry{}, false
	}
	e := Entry{At: t.UTC().Truncate(time.Second)}
	switch f[1] {
	case Success, Failed:
		e.Outcome = f[1]
	default:
		return Entry{}, false
	}
	var ok bool
	if e.ExitCode, ok = entryInt(f[2]); !ok {
		return Entry{}, false
	}
	if f[3] != "-" {
		d, err := strconv.ParseFloat(f[3], 64)
		if err != nil || d < 0 || d > 1e9 || d != d {
			return Entry{}, false
		}
		e.Duration = &d
	}
	if e.FilesProcessed, ok = entryInt(f[4]); !ok {
		return Entry{}, false
	}
	if e.BytesProcessed, ok = entryInt(f[5]); !ok {
		return Entry{}, false
	}
	if len(f) == 7 {
		e.Reason = reason(f[6])
	}
	return e, true
}

func entryInt(s string) (*int64, bool) {
	if s == "-" {
		return nil, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, false
	}
	return &n, true
}

// reason is the first line of a message, cleaned and bounded.
func reason(m string) string {
	m, _, _ = strings.Cut(CleanText(m), "\n")
	return Truncate(strings.TrimSpace(m), maxReason)
}

func formatEntry(e Entry) string {
	num := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatInt(*p, 10)
	}
	d := "-"
	if e.Duration != nil {
		d = strconv.FormatFloat(*e.Duration, 'f', 3, 64)
	}
	line := FormatTime(e.At) + " " + e.Outcome + " " + num(e.ExitCode) + " " + d + " " + num(e.FilesProcessed) + " " + num(e.BytesProcessed)
	if e.Reason != "" {
		line += " " + e.Reason
	}
	return line
}

// FormatHistory is the field's value for entries (normalized first).
func FormatHistory(entries []Entry) string {
	entries = normalize(slices.Clone(entries))
	lines := make([]string, len(entries))
	for i, e := range entries {
		lines[i] = formatEntry(e)
	}
	return strings.Join(lines, "\n")
}

// entryOf is res as a history entry, dated at (res.At in whole seconds).
func entryOf(res Result, at time.Time) Entry {
	e := Entry{At: at.UTC(), Outcome: res.Outcome, ExitCode: res.ExitCode, Reason: reason(res.Message)}
	if res.Duration != nil && *res.Duration >= 0 && *res.Duration <= 1e9 {
		d := *res.Duration
		e.Duration = &d
	}
	if n, err := strconv.ParseInt(res.Extra[FieldFilesProcessed], 10, 64); err == nil {
		e.FilesProcessed = &n
	}
	if n, err := strconv.ParseInt(res.Extra[FieldBytesProcessed], 10, 64); err == nil {
		e.BytesProcessed = &n
	}
	return e
}

// addHistory adds res (an outcome, dated at) to doc's history and reports
// whether the field changed. A result already there (the same second and
// outcome: a redelivery, as status_at tells one for the status) is not
// added again; a late one takes its place by time, and drops out at once
// when it is older than the HistoryLen kept. Entries dated beyond the
// clock skew allowance are dropped, as Merge drops such times.
func addHistory(doc map[string]any, res Result, at, now time.Time) bool {
	entries, _ := History(doc)
	limit := now.Add(ClockSkew)
	entries = slices.DeleteFunc(entries, func(e Entry) bool { return e.At.After(limit) })
	if !at.After(limit) {
		entries = append(entries, entryOf(res, at))
	}
	v := FormatHistory(entries)
	if old, ok := doc[FieldHistory].(string); ok && old == v {
		return false
	}
	doc[FieldHistory] = v
	return true
}

// RecordEntry is the history entry a record's fields describe: the result
// that holds its status, as addHistory would have entered it. A store
// that keeps a record's versions (Vault KV v2) has the history in them,
// one entry a version, with no field of its own; what a version does not
// carry (a late result, which leaves the status as it was) the store
// keeps beside it. ok is false for a record backupwatch did not create
// (no first_recorded: the runbook's `vault kv put`), or one without an
// outcome: it describes no entry.
func RecordEntry(data map[string]any) (e Entry, ok bool) {
	if _, made := data[FieldFirstRecorded]; !made {
		return Entry{}, false
	}
	r := Parse("", data)
	at := r.statusAt()
	if (r.Status != Success && r.Status != Failed) || at.IsZero() {
		return Entry{}, false
	}
	e = Entry{At: at.UTC().Truncate(time.Second), Outcome: r.Status, ExitCode: r.ExitCode, FilesProcessed: r.FilesProcessed, BytesProcessed: r.BytesProcessed, Reason: reason(r.Message)}
	if d := r.DurationSeconds; d != nil && *d >= 0 && *d <= 1e9 {
		e.Duration = d
	}
	return e, true
}

// String is the entry as a line of FieldHistory.
func (e Entry) String() string { return formatEntry(e) }
