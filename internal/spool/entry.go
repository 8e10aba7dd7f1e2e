package spool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Entry is one result waiting for delivery: a backup result or a restore test.
type Entry struct {
	Result      *status.Result
	RestoreTest *status.RestoreTest
}

// String describes the entry for messages, never with its free text.
func (e Entry) String() string {
	switch {
	case e.Result != nil && e.Result.Outcome == "":
		return fmt.Sprintf("attempt of %s at %s", status.Name(e.Result.Host, e.Result.Job), status.FormatTime(e.Result.At))
	case e.Result != nil:
		return fmt.Sprintf("%s result of %s at %s", e.Result.Outcome, status.Name(e.Result.Host, e.Result.Job), status.FormatTime(e.Result.At))
	case e.RestoreTest != nil && e.RestoreTest.Job != "":
		return fmt.Sprintf("%s restore test (job %s) at %s", e.RestoreTest.Result, e.RestoreTest.Job, status.FormatTime(e.RestoreTest.LastTest))
	case e.RestoreTest != nil:
		return fmt.Sprintf("%s restore test at %s", e.RestoreTest.Result, status.FormatTime(e.RestoreTest.LastTest))
	}
	return "empty entry"
}

// Key is the store key the entry is written to: its host's (or job's), or
// the restore test's key.
func (e Entry) Key() string {
	switch {
	case e.Result != nil:
		return e.Result.Key()
	case e.RestoreTest != nil:
		return e.RestoreTest.Key()
	}
	return status.RestoreTestKey
}

// At is when the result or restore test happened.
func (e Entry) At() time.Time {
	switch {
	case e.Result != nil:
		return e.Result.At
	case e.RestoreTest != nil:
		return e.RestoreTest.LastTest
	}
	return time.Time{}
}

// Kind names the entry's kind as its file does: result, attempt or
// restore_test.
func (e Entry) Kind() string {
	switch {
	case e.Result != nil && e.Result.Outcome == "":
		return "attempt"
	case e.Result != nil:
		return "result"
	}
	return "restore_test"
}

// record is an entry as stored on disk. Its form is versioned and
// independent of the Go types, so that an upgrade can read what an older
// binary spooled.
type record struct {
	Version   int    `json:"version"`
	Kind      string `json:"kind"` // "result" or "restore_test"
	SpooledAt string `json:"spooled_at"`

	Host     string            `json:"host,omitempty"`
	Job      string            `json:"job,omitempty"`     // results and restore tests; "" for the runbook's record
	Outcome  string            `json:"outcome,omitempty"` // "" is an attempt
	At       string            `json:"at,omitempty"`
	ExitCode *int64            `json:"exit_code,omitempty"`
	Duration *float64          `json:"duration_seconds,omitempty"`
	Message  string            `json:"message,omitempty"`
	Extra    map[string]string `json:"extra,omitempty"`

	Schedule     string   `json:"schedule,omitempty"` // as the record holds it (status.FieldSchedule)
	ScheduleTZ   string   `json:"schedule_tz,omitempty"`
	GraceSeconds *float64 `json:"grace_seconds,omitempty"`

	LastTest             string   `json:"last_test,omitempty"`
	Result               string   `json:"result,omitempty"`
	HostTested           string   `json:"host_tested,omitempty"`
	TimeToRestoreMinutes *float64 `json:"time_to_restore_minutes,omitempty"`
	Notes                string   `json:"notes,omitempty"`
}

func encode(e Entry, now time.Time) ([]byte, error) {
	r := record{Version: version, SpooledAt: now.UTC().Format(time.RFC3339Nano)}
	// Free text is bounded here as the store bounds it, so that an entry
	// is always small enough to be read back.
	switch {
	case e.Result != nil && e.RestoreTest == nil:
		res := e.Result
		r.Kind, r.Host, r.Outcome, r.At = "result", res.Host, res.Outcome, res.At.UTC().Format(time.RFC3339Nano)
		r.ExitCode, r.Duration, r.Message, r.Extra = res.ExitCode, res.Duration, status.Truncate(res.Message, maxText), res.Extra
		r.Job = res.Job
		if s := res.Schedule; s != nil {
			g := s.Grace.Seconds()
			r.Schedule, r.ScheduleTZ, r.GraceSeconds = s.Field(), s.TZ, &g
		}
	case e.RestoreTest != nil && e.Result == nil:
		rt := e.RestoreTest
		r.Kind, r.LastTest, r.Result, r.HostTested = "restore_test", rt.LastTest.UTC().Format(time.RFC3339Nano), rt.Result, rt.HostTested
		r.Job = rt.Job
		r.TimeToRestoreMinutes, r.Notes = rt.TimeToRestoreMinutes, status.Truncate(rt.Notes, maxText)
	default:
		return nil, errors.New("an entry holds exactly one result or restore test")
	}
	if err := validate(r); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	return append(b, '\n'), err
}

// decode reads an entry and when it was spooled (zero if not said).
func decode(b []byte) (Entry, time.Time, error) {
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Entry{}, time.Time{}, fmt.Errorf("not a spool entry: %w", err)
	}
	if dec.More() {
		return Entry{}, time.Time{}, errors.New("not a spool entry: trailing data")
	}
	if err := validate(r); err != nil {
		return Entry{}, time.Time{}, err
	}
	spooledAt, _ := time.Parse(time.RFC3339Nano, r.SpooledAt)
	switch r.Kind {
	case "result":
		at, _ := time.Parse(time.RFC3339Nano, r.At)
		sched, _ := recordSchedule(r) // validated above
		return Entry{Result: &status.Result{
			Host: r.Host, Job: r.Job, Outcome: r.Outcome, At: at, ExitCode: r.ExitCode,
			Duration: r.Duration, Message: r.Message, Extra: r.Extra, Schedule: sched,
		}}, spooledAt, nil
	default:
		at, _ := time.Parse(time.RFC3339Nano, r.LastTest)
		return Entry{RestoreTest: &status.RestoreTest{
			Job: r.Job, LastTest: at, Result: r.Result, HostTested: r.HostTested,
			TimeToRestoreMinutes: r.TimeToRestoreMinutes, Notes: r.Notes,
		}}, spooledAt, nil
	}
}

// recordSchedule is the schedule a spooled result carries; nil when none.
func recordSchedule(r record) (*schedule.Schedule, error) {
	if r.Schedule == "" {
		if r.ScheduleTZ != "" || r.GraceSeconds != nil {
			return nil, errors.New("schedule_tz or grace_seconds without a schedule")
		}
		return nil, nil
	}
	grace := time.Duration(-1)
	if r.GraceSeconds != nil {
		g, err := schedule.ParseGraceSeconds(fmt.Sprint(*r.GraceSeconds))
		if err != nil {
			return nil, err
		}
		grace = g
	}
	s, err := schedule.Parse(r.Schedule, r.ScheduleTZ, grace)
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	return &s, nil
}

func validate(r record) error {
	if r.Version != version {
		return fmt.Errorf("spool entry version %d, want %d", r.Version, version)
	}
	switch r.Kind {
	case "result":
		if err := status.ValidateHost(r.Host); err != nil {
			return err
		}
		if r.Job != "" {
			if err := status.ValidateJob(r.Job); err != nil {
				return err
			}
		}
		if _, err := recordSchedule(r); err != nil {
			return err
		}
		switch r.Outcome {
		case "", status.Success, status.Failed:
		default:
			return fmt.Errorf("outcome %q is not success, failed or empty", status.Truncate(r.Outcome, 32))
		}
		if len(r.Extra) > maxExtra {
			return fmt.Errorf("%d extra fields, more than %d", len(r.Extra), maxExtra)
		}
		for k, v := range r.Extra {
			if k == "" || len(k) > 64 || len(v) > 256 {
				return fmt.Errorf("extra field %q: name or value too long", status.Truncate(k, 32))
			}
		}
		return validTime("at", r.At)
	case "restore_test":
		if r.Job != "" {
			if err := status.ValidateJob(r.Job); err != nil {
				return err
			}
		}
		if r.Result != status.Passed && r.Result != status.Failed {
			return fmt.Errorf("restore test result %q is not passed or failed", status.Truncate(r.Result, 32))
		}
		return validTime("last_test", r.LastTest)
	default:
		return fmt.Errorf("unknown kind %q", status.Truncate(r.Kind, 32))
	}
}

func validTime(field, s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1971 {
		return fmt.Errorf("%s: not a time: %q", field, status.Truncate(s, 40))
	}
	return nil
}
