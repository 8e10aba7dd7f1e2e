package status

import (
	"strings"
	"time"
	"unicode/utf8"
)

// A failed run's log: the end of its output (scrubbed by the run), kept
// in the record's side document SideLog, never in the record (serve reads
// every record on each refresh) nor in a metric.
const (
	// MaxLog bounds the log kept: the last 64 KiB of the output.
	MaxLog = 64 << 10
	// FieldLog holds the log's text; FieldLogAt the failure's time and
	// FieldExitCode its exit code, as in the record.
	FieldLog   = "log"
	FieldLogAt = "at"
)

// Log is a failed run's log as read.
type Log struct {
	At       time.Time
	ExitCode *int64
	Text     string
}

// CleanLog is the end of a run's output as it is kept: at most MaxLog
// bytes, cut at a line when one starts near the cut, as text (CleanText:
// no terminal escapes, NUL or other control characters, valid UTF-8).
// Output of any size costs at most a few times MaxLog to clean.
func CleanLog(s string) string {
	// Escapes and invalid bytes near the cut are cleaned with some
	// context: only the last 2*MaxLog bytes can matter.
	if len(s) > 2*MaxLog {
		s = s[len(s)-2*MaxLog:]
	}
	s = CleanText(s)
	if len(s) <= MaxLog {
		return s
	}
	s = s[len(s)-MaxLog:]
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < 1024 {
		s = s[i+1:]
	}
	return s
}

// LogDoc is the side document of a failed result with its log.
func LogDoc(res Result, text string) map[string]any {
	doc := map[string]any{FieldLog: CleanLog(text), FieldLogAt: FormatTime(res.At)}
	if res.ExitCode != nil {
		doc[FieldExitCode] = res.ExitCode
	}
	return doc
}

// ParseLog reads a log side document as any tool may have written it,
// bounded and cleaned again: a page shows it.
func ParseLog(data map[string]any) Log {
	var problems []string
	p := fieldReader{data: data, problems: &problems}
	l := Log{At: p.time(FieldLogAt), ExitCode: p.int(FieldExitCode)}
	if s, ok := data[FieldLog].(string); ok {
		l.Text = CleanLog(s)
	}
	return l
}
