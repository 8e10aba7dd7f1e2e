// Package restic reads restic's --json output and drives restic for the
// restore test: restore a snapshot, verify it, check the repository.
package restic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
	"unicode"

	"github.com/golemtrust/backupwatch/internal/status"
)

// ExitIncomplete is restic backup's exit code when the snapshot was made
// but some source files could not be read.
const ExitIncomplete = 3

// Summary is the final line restic backup --json prints.
type Summary struct {
	SnapshotID          string  `json:"snapshot_id"`
	FilesNew            *int64  `json:"files_new"`
	FilesChanged        *int64  `json:"files_changed"`
	FilesUnmodified     *int64  `json:"files_unmodified"`
	DataAdded           *int64  `json:"data_added"`
	TotalFilesProcessed *int64  `json:"total_files_processed"`
	TotalBytesProcessed *int64  `json:"total_bytes_processed"`
	TotalDuration       float64 `json:"total_duration"` // seconds
}

type envelope struct {
	MessageType string `json:"message_type"`
}

// maxJSONLine bounds what is parsed as a JSON message: restic's messages
// are small, a longer line is something else.
const maxJSONLine = 64 << 10

// ParseSummary reads one line of restic backup --json output and reports
// whether it is a summary. Anything else (status lines, plain text, broken
// JSON) is not a summary.
func ParseSummary(line []byte) (Summary, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' || len(line) > maxJSONLine || !bytes.Contains(line, []byte(`"summary"`)) {
		return Summary{}, false
	}
	var env envelope
	if json.Unmarshal(line, &env) != nil || env.MessageType != "summary" {
		return Summary{}, false
	}
	var s Summary
	if json.Unmarshal(line, &s) != nil {
		return Summary{}, false
	}
	if math.IsNaN(s.TotalDuration) || math.IsInf(s.TotalDuration, 0) || s.TotalDuration < 0 {
		s.TotalDuration = 0
	}
	if len(s.SnapshotID) > 64 || !isHex(s.SnapshotID) {
		s.SnapshotID = ""
	}
	return s, true
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ParseSnapshotSaved reads the last line of restic backup without --json,
// "snapshot 1a2b3c4d saved", and returns the snapshot id.
func ParseSnapshotSaved(line string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "snapshot ")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, " saved")
	if !ok || len(id) < 8 || len(id) > 64 || !isHex(id) {
		return "", false
	}
	return id, true
}

// Fields are the summary as record fields (status.Result.Extra).
func (s Summary) Fields() map[string]string {
	f := map[string]string{}
	if s.SnapshotID != "" {
		f[status.FieldSnapshotID] = s.SnapshotID
	}
	put := func(k string, v *int64) {
		if v != nil && *v >= 0 {
			f[k] = strconv.FormatInt(*v, 10)
		}
	}
	put(status.FieldBytesAdded, s.DataAdded)
	put(status.FieldFilesNew, s.FilesNew)
	put(status.FieldFilesChanged, s.FilesChanged)
	put(status.FieldFilesUnmodified, s.FilesUnmodified)
	put(status.FieldFilesProcessed, s.TotalFilesProcessed)
	put(status.FieldBytesProcessed, s.TotalBytesProcessed)
	return f
}

// errorMessage is restic's --json error line, 0.14's
// {"message_type":"error","error":{"Op":"open","Path":"x","Err":13},"during":"archival","item":"/x"}
// and 0.17's {"message_type":"error","error":{"message":"open x: permission denied"},...};
// check's {"message_type":"error","message":"..."}; and, since 0.17, the
// one restic prints as it exits with an error:
// {"message_type":"exit_error","code":12,"message":"Fatal: wrong password or no key found"}.
type errorMessage struct {
	MessageType string          `json:"message_type"`
	Error       json.RawMessage `json:"error"`
	Message     string          `json:"message"`
	Code        *int            `json:"code"`
	During      string          `json:"during"`
	Item        string          `json:"item"`
}

// HumanError turns a --json error line into a line an operator reads:
// "archival of /srv/x: open /srv/x: permission denied", or restic's exit
// message: "Fatal: wrong password or no key found". Other lines are
// returned as they are.
func HumanError(line string) string {
	if len(line) == 0 || line[0] != '{' || len(line) > maxJSONLine {
		return line
	}
	var m errorMessage
	if json.Unmarshal([]byte(line), &m) != nil {
		return line
	}
	switch m.MessageType {
	case "exit_error":
		if msg := oneLine(m.Message); msg != "" {
			return msg
		}
		if m.Code != nil {
			return fmt.Sprintf("restic exited with code %d", *m.Code)
		}
		return line
	case "error":
	default:
		return line
	}
	what := describeError(m.Error)
	if len(m.Error) == 0 && m.Message != "" {
		what = oneLine(m.Message)
	}
	// A file name may hold a line break or an escape sequence: the
	// message stays one line, and shows them as '?' as ls does.
	what = printable(what)
	switch {
	case m.During != "" && m.Item != "":
		return fmt.Sprintf("error during %s of %s: %s", printable(m.During), printable(m.Item), what)
	case m.Item != "":
		return fmt.Sprintf("error on %s: %s", printable(m.Item), what)
	default:
		return "error: " + what
	}
}

func describeError(raw json.RawMessage) string {
	var pe struct {
		Op   string
		Path string
		Err  json.RawMessage
	}
	if json.Unmarshal(raw, &pe) == nil && pe.Op != "" {
		var errno int
		if json.Unmarshal(pe.Err, &errno) == nil && errno > 0 {
			return fmt.Sprintf("%s %s: %v", pe.Op, pe.Path, syscall.Errno(errno))
		}
		return fmt.Sprintf("%s %s: %s", pe.Op, pe.Path, compact(pe.Err))
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return oneLine(s)
	}
	var m struct{ Message string }
	if json.Unmarshal(raw, &m) == nil && m.Message != "" {
		return oneLine(m.Message)
	}
	return compact(raw)
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return status.Truncate(string(raw), 200)
	}
	return status.Truncate(b.String(), 200)
}

// oneLine makes restic's message, which may span lines (a hint after the
// error; a Go stack trace for an unexpected error), one line: its lines
// joined by "; ", up to the first line of a stack trace.
func oneLine(msg string) string {
	var keep []string
	for _, l := range strings.Split(msg, "\n") {
		if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "github.com/") || strings.HasPrefix(l, "runtime.") {
			break // a stack frame: the message is above it
		}
		if l = strings.TrimSpace(l); l != "" {
			keep = append(keep, l)
		}
	}
	return status.Truncate(strings.Join(keep, "; "), 500)
}

// printable replaces control characters (line breaks, escapes) by '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}
