package status

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/schedule"
)

// Record is a host's backup status as read from the store. Zero times mean
// "never" (or "could not be established", with a Problem saying why).
type Record struct {
	Host        string
	Job         string // "" for the host's own (the runbook's) record
	Status      string // Success, Failed or Unknown
	RawStatus   string // as written, when it was not one of ours
	LastSuccess time.Time
	LastFailure time.Time
	LastAttempt time.Time
	// FirstRecorded is when backupwatch created the record (zero for a
	// record written otherwise, such as by the runbook's `vault kv put`).
	FirstRecorded time.Time
	// StatusAt is the dated time of the result that holds the status
	// (FieldStatusAt); zero in records written before it existed.
	StatusAt time.Time
	// ClockOffset is the writer's clock minus the store's at the record's
	// last write (FieldWrittenAt against StoredAtKey); nil when either is
	// not known (a record written otherwise, a store without the time).
	ClockOffset *time.Duration
	// WrittenAt is the writer's clock at the record's last write by
	// backupwatch (FieldWrittenAt); zero when not known.
	WrittenAt time.Time

	ExitCode            *int64
	DurationSeconds     *float64
	Message             string
	ConsecutiveFailures *int64
	SnapshotID          string
	BytesAdded          *int64
	FilesNew            *int64
	FilesChanged        *int64
	FilesUnmodified     *int64
	FilesProcessed      *int64
	BytesProcessed      *int64
	PingFailures        *int64 // the latest run's failed pings; nil when it pinged none
	Maintenance         bool   // the latest run kept the repository (kind: maintenance), not backed up

	// RecordedSchedule is the schedule written with the results; nil when
	// none was (or it could not be read).
	RecordedSchedule *schedule.Schedule
	// Schedule is the one the record is judged by: the config file's,
	// else the recorded one, else the runbook's 24 hours (the zero value
	// counts as that). ScheduleFrom says which: "config", "record" or "".
	Schedule     schedule.Schedule
	ScheduleFrom string

	// Unread is set when nothing has been read for this host yet because
	// the store could not be reached: there is no status to report, and
	// reporting "never succeeded" would page for the whole fleet.
	Unread bool

	// NoRecord is set when the store holds no record for the host at all:
	// an expected host that has never reported.
	NoRecord bool

	// Claimed holds, by field name, the times as written that lay more
	// than ClockSkew ahead when first read (see ClampFuture); the record's
	// own fields then hold when that was.
	Claimed map[string]time.Time

	// Problems are per-field diagnostics: what was wrong with the record
	// as written. A record with problems is still used as far as it goes.
	Problems []string
}

// Where a record's schedule comes from.
const (
	ScheduleFromRecord = "record"
	ScheduleFromConfig = "config"
)

// statusSynonyms maps what other tools write to our three values.
var statusSynonyms = map[string]string{
	"success": Success, "succeeded": Success, "successful": Success, "ok": Success, "passed": Success, "completed": Success,
	"failed": Failed, "failure": Failed, "fail": Failed, "error": Failed, "errored": Failed,
	"unknown": Unknown,
}

// maxMessage bounds free text kept from a record.
const maxMessage = 1024

// Parse reads a host's record as any tool may have written it. It never
// fails: every problem becomes an entry in Problems.
func Parse(host string, data map[string]any) Record {
	r := Record{Host: host, Status: Unknown}
	if data == nil {
		r.NoRecord = true
		r.Problems = append(r.Problems, "no record")
		return r
	}
	p := fieldReader{data: data, problems: &r.Problems}

	if s, ok := p.str(FieldStatus); ok {
		norm := strings.ToLower(strings.TrimSpace(s))
		if v, known := statusSynonyms[norm]; known {
			r.Status = v
		} else {
			r.RawStatus = Truncate(s, 64)
			r.Problems = append(r.Problems, fmt.Sprintf("status: unrecognised value %q, taken as unknown", r.RawStatus))
		}
	} else {
		r.Problems = append(r.Problems, "status: missing")
	}
	r.LastSuccess = p.time(FieldLastSuccess)
	r.LastFailure = p.time(FieldLastFailure)
	r.LastAttempt = p.time(FieldLastAttempt)
	r.FirstRecorded = p.time(FieldFirstRecorded)
	r.StatusAt = p.time(FieldStatusAt)
	r.WrittenAt = p.time(FieldWrittenAt)
	if written := r.WrittenAt; !written.IsZero() {
		if stored, ok := data[StoredAtKey].(time.Time); ok {
			// written_at holds whole seconds: so does the offset.
			d := written.Sub(stored.Truncate(time.Second))
			r.ClockOffset = &d
		}
	}
	r.ExitCode = p.int(FieldExitCode)
	r.DurationSeconds = p.float(FieldDuration)
	if m, ok := p.str(FieldMessage); ok {
		r.Message = Truncate(m, maxMessage)
	}
	r.ConsecutiveFailures = p.int(FieldConsecutiveFailures)
	if id, ok := p.str(FieldSnapshotID); ok {
		r.SnapshotID = Truncate(id, 64)
	}
	r.BytesAdded = p.int(FieldBytesAdded)
	r.FilesNew = p.int(FieldFilesNew)
	r.FilesChanged = p.int(FieldFilesChanged)
	r.FilesUnmodified = p.int(FieldFilesUnmodified)
	if rs := parseSchedule(p); rs != nil {
		r.RecordedSchedule, r.Schedule, r.ScheduleFrom = rs, *rs, ScheduleFromRecord
	}
	r.FilesProcessed = p.int(FieldFilesProcessed)
	r.BytesProcessed = p.int(FieldBytesProcessed)
	r.PingFailures = p.int(FieldPingFailures)
	if k, ok := p.str(FieldKind); ok && k == KindMaintenance {
		r.Maintenance = true
	}

	if r.Status == Success && r.LastSuccess.IsZero() {
		r.Problems = append(r.Problems, "status is success but last_success is not established")
	}
	return r
}

// LastResult is the time of the latest recorded outcome, success or failure.
func (r Record) LastResult() time.Time {
	if r.LastFailure.After(r.LastSuccess) {
		return r.LastFailure
	}
	return r.LastSuccess
}

// fieldReader reads typed fields from a loosely typed map, noting problems.
type fieldReader struct {
	data     map[string]any
	problems *[]string
}

func (p fieldReader) bad(field, format string, args ...any) {
	*p.problems = append(*p.problems, field+": "+fmt.Sprintf(format, args...))
}

// str returns the field as a string; absent and empty count as missing.
func (p fieldReader) str(field string) (string, bool) {
	v, ok := p.data[field]
	if !ok || v == nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		if strings.TrimSpace(x) == "" {
			return "", false
		}
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	default:
		p.bad(field, "unexpected %T value", v)
		return "", false
	}
}

func (p fieldReader) time(field string) time.Time {
	s, ok := p.str(field)
	if !ok {
		return time.Time{}
	}
	t, err := ParseTime(s)
	if err != nil {
		p.bad(field, "%v", err)
		return time.Time{}
	}
	return t
}

func (p fieldReader) float(field string) *float64 {
	s, ok := p.str(field)
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.bad(field, "not a number: %q", Truncate(s, 32))
		return nil
	}
	return &f
}

func (p fieldReader) int(field string) *int64 {
	f := p.float(field)
	if f == nil {
		return nil
	}
	if *f > math.MaxInt64 || *f < math.MinInt64 || *f != math.Trunc(*f) {
		p.bad(field, "not a whole number in range: %v", *f)
		return nil
	}
	n := int64(*f)
	return &n
}
