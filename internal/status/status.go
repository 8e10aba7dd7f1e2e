// Package status is backupwatch's model of a backup status record: the fields
// the runbook writes to Vault, how to read them tolerantly and how to merge a
// new outcome into them without losing or rewinding anything.
package status

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// RestoreTestKey is the key, beside the hosts, that holds the restore test.
const RestoreTestKey = "restore-test"

// ErrNotFound is returned by stores when a key has no record.
var ErrNotFound = errors.New("no record")

// ErrMalformed is returned by stores when a record exists but cannot be
// decoded at all: a problem of that record, not of the store.
var ErrMalformed = errors.New("malformed record")

// Field names. The first three are the runbook's and keep its meaning.
const (
	FieldStatus      = "status"
	FieldLastSuccess = "last_success"
	FieldLastFailure = "last_failure"
	FieldLastAttempt = "last_attempt"
	// FieldFirstRecorded is when the record was created (its first result
	// or start): a record with no success gets its first day from it.
	FieldFirstRecorded = "first_recorded"
	// FieldStatusAt is the dated time of the result that holds the status:
	// with results ordered by arrival within the clock skew allowance, it
	// may be earlier than last_success or last_failure, and a second
	// delivery of that result is told by it.
	FieldStatusAt = "status_at"
	// FieldWrittenAt is the writer's clock when it last wrote the record;
	// beside the store's own time of that write (StoredAtKey) it shows
	// the writer's clock offset, behind as well as ahead.
	FieldWrittenAt           = "written_at"
	FieldExitCode            = "exit_code"
	FieldDuration            = "duration_seconds"
	FieldMessage             = "message"
	FieldConsecutiveFailures = "consecutive_failures"
	FieldSnapshotID          = "snapshot_id"
	FieldBytesAdded          = "bytes_added"
	FieldFilesNew            = "files_new"
	FieldFilesChanged        = "files_changed"
	FieldFilesUnmodified     = "files_unmodified"
	// restic's total_files_processed and total_bytes_processed: what the
	// snapshot holds, new or not; the anomaly alerts compare them with the
	// host's own history.
	FieldFilesProcessed = "total_files_processed"
	FieldBytesProcessed = "total_bytes_processed"
	FieldWriter         = "written_by"
	// FieldPingFailures is how many of the run's pings to an outside
	// checker (--ping.url) failed; absent when the run pinged none.
	FieldPingFailures = "ping_failures"
	// FieldKind is KindMaintenance for a run that keeps the repository
	// (restic forget, prune, check) rather than backs up: its record is
	// never compared with backups (anomalies, the repository's witness);
	// absent for a backup.
	FieldKind = "kind"
)

// KindMaintenance is FieldKind's value for a maintenance run.
const KindMaintenance = "maintenance"

// StoredAtKey is the key under which a store that keeps its own time of
// each write (Vault KV v2's created_time) adds it to a record it reads.
// It is never written: no field of a record can start with a NUL byte.
const StoredAtKey = "\x00stored_at"

// Status values as exported in backup_status{status=...}.
const (
	Success = "success"
	Failed  = "failed"
	Unknown = "unknown"
)

// Statuses lists every status value the exporter emits, in a stable order.
var Statuses = []string{Success, Failed, Unknown}

// MaxFutureSkew is how far in the future a recorded time may lie and still
// be believed: the same bound as record's (ClockSkew). The exporter takes a
// time beyond it as the moment it first read it (Record.ClampFuture).
const MaxFutureSkew = ClockSkew

// maxHostLen bounds a host name as DNS bounds a name.
const maxHostLen = 253

// ValidateHost refuses names that are not DNS-style host names, and the
// reserved restore-test key.
func ValidateHost(h string) error {
	if h == RestoreTestKey {
		return fmt.Errorf("host name %q is reserved for the restore test record", h)
	}
	return validateName("host", h)
}

// validateName checks a host or job name (kind says which).
func validateName(kind, h string) error {
	if h == "" {
		return fmt.Errorf("%s name is empty", kind)
	}
	if len(h) > maxHostLen {
		return fmt.Errorf("%s name is %d characters long, more than %d", kind, len(h), maxHostLen)
	}
	for _, label := range strings.Split(h, ".") {
		if err := validateLabel(label); err != nil {
			return fmt.Errorf("%s name %q: %w", kind, Truncate(h, 80), err)
		}
	}
	return nil
}

func validateLabel(l string) error {
	if l == "" {
		return errors.New("empty label")
	}
	if len(l) > 63 {
		return errors.New("a label is longer than 63 characters")
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return errors.New("a label starts or ends with '-'")
	}
	for _, c := range l {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return fmt.Errorf("character %q is not allowed (letters, digits, '-', '_' and '.')", c)
		}
	}
	return nil
}

// timeLayout is what `date -Iseconds` prints: UTC as +00:00, never Z.
const timeLayout = "2006-01-02T15:04:05-07:00"

// FormatTime formats t as `date -Iseconds` does, so the runbook's readers
// (`date -d "$LAST_SUCCESS"`) keep working.
func FormatTime(t time.Time) string {
	return t.Truncate(time.Second).Format(timeLayout)
}

// parseLayouts are tried in order; the ones with no zone are taken as UTC.
var parseLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999-0700", // date +%Y-%m-%dT%H:%M:%S%z
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05.999999999 -0700 MST", // Go's time.String
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	time.RFC1123Z,
	time.RFC1123,
	time.UnixDate,
	"2006-01-02",
}

// earliest and latest bound what is taken as a real backup time: anything
// outside is a typo or garbage, not a date.
var (
	earliest = time.Date(1970, 1, 1, 0, 0, 1, 0, time.UTC)
	latest   = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ParseTime reads a time written by the runbook, by other tools or by hand.
// It accepts RFC 3339 with or without fractional seconds, Z or an offset,
// zone-less forms (as UTC) and Unix seconds.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	if len(s) > 64 {
		return time.Time{}, fmt.Errorf("not a time: %q", Truncate(s, 64))
	}
	if secs, ok := unixSeconds(s); ok {
		return checkRange(time.Unix(secs, 0).UTC(), s)
	}
	for _, l := range parseLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return checkRange(t, s)
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

func unixSeconds(s string) (int64, bool) {
	if len(s) < 9 || len(s) > 12 { // 1973 to 33658: plausibly seconds, not a year or a date
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func checkRange(t time.Time, s string) (time.Time, error) {
	if t.Before(earliest) || t.After(latest) {
		return time.Time{}, fmt.Errorf("time %q is out of range", s)
	}
	return t, nil
}

// Truncate shortens s to at most n bytes on a rune boundary, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
