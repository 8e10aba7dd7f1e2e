package status

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/schedule"
)

// Jobs: a host may run several backups (files, a database dump, a weekly
// image), each with its own record. A result without a job is the
// runbook's record at <prefix>/<host>, unchanged; a job's record is
// <prefix>/jobs/<host>@<job>. That key never collides with a host (a host
// record has no "/") nor with the restore test, a listing of <prefix>
// returns one folder "jobs/" beside the hosts (older readers report it as a
// folder, never as a host), one listing of jobs/ finds every job, and the
// writer policy lets host db write jobs/db@* and nothing else: '@' is in no
// host or job name, so db's pattern never matches another host's jobs.
const (
	// JobsFolder is the folder under the prefix that holds job records.
	JobsFolder = "jobs"
	jobSep     = "@"
)

// Fields of a record's schedule, written with each result that has one.
const (
	FieldSchedule     = "schedule"      // an interval ("1h", "1d", "1w") or a cron expression
	FieldScheduleTZ   = "schedule_tz"   // the cron expression's zone
	FieldGraceSeconds = "grace_seconds" // how late a success may be
)

// ValidateJob refuses job names that are not valid names: the rules of
// host names (letters, digits, '-', '_', dots; labels up to 63, names up
// to 253 characters).
func ValidateJob(j string) error { return validateName("job", j) }

// Key is the store key of the record of host's job; host's own record when
// job is empty. The restore test's jobs are keyed as the jobs of the host
// RestoreTestKey, which no real host can be.
func Key(host, job string) string {
	if job == "" {
		return host
	}
	return JobsFolder + "/" + host + jobSep + job
}

// SplitJobName reads a name listed under JobsFolder ("db@files") as its
// host and job, both validated.
func SplitJobName(name string) (host, job string, err error) {
	host, job, ok := strings.Cut(name, jobSep)
	if !ok || strings.HasSuffix(name, "/") {
		return "", "", fmt.Errorf("%q under %s/ is not a job record (<host>@<job>)", Truncate(name, 80), JobsFolder)
	}
	if host != RestoreTestKey {
		if err := ValidateHost(host); err != nil {
			return "", "", fmt.Errorf("%s/%s: %w", JobsFolder, Truncate(name, 80), err)
		}
	}
	if err := ValidateJob(job); err != nil {
		return "", "", fmt.Errorf("%s/%s: %w", JobsFolder, Truncate(name, 80), err)
	}
	return host, job, nil
}

// Name is how a record is named in messages: "db", or "db job files".
func Name(host, job string) string {
	if job == "" {
		return host
	}
	return host + " job " + job
}

// Key is the store key the result is written to.
func (r Result) Key() string { return Key(r.Host, r.Job) }

// parseSchedule reads the record's schedule fields; nil when there are none
// (or they cannot be read: a problem says why, and the default applies).
func parseSchedule(p fieldReader) *schedule.Schedule {
	field, ok := p.str(FieldSchedule)
	if !ok {
		return nil
	}
	tz, _ := p.str(FieldScheduleTZ)
	grace := time.Duration(-1)
	if g, ok := p.str(FieldGraceSeconds); ok {
		d, err := schedule.ParseGraceSeconds(g)
		if err != nil {
			*p.problems = append(*p.problems, err.Error()+", schedule ignored")
			return nil
		}
		grace = d
	}
	s, err := schedule.Parse(Truncate(field, 256), Truncate(tz, 80), grace)
	if err != nil {
		*p.problems = append(*p.problems, "schedule: "+err.Error()+", the default (24 h) applies")
		return nil
	}
	return &s
}

// applySchedule writes s into doc as the record's schedule.
func applySchedule(doc map[string]any, s schedule.Schedule, set func(k, v string), changed *bool) {
	set(FieldSchedule, s.Field())
	if s.Every > 0 {
		if _, had := doc[FieldScheduleTZ]; had {
			delete(doc, FieldScheduleTZ)
			*changed = true
		}
	} else {
		set(FieldScheduleTZ, s.TZ)
	}
	set(FieldGraceSeconds, strconv.FormatInt(int64(s.Grace/time.Second), 10))
}

// Running reports whether a run has started after the latest result: the
// run in progress (or one that died without recording its end).
func (r Record) Running() bool {
	return !r.LastAttempt.IsZero() && r.LastAttempt.After(r.LastResult())
}

// Deadline is when the next successful backup is due under r.Schedule,
// with times beyond MaxFutureSkew of now taken as never. Without an
// established success it is one period from the record's first result or
// start (FirstRecorded; for a record without it, a start alone): a new
// host or job whose history starts with a failed or running run has its
// first day, as a host with no record does (BackupFailed pages its
// failure; the overdue alerts wait). It is zero, overdue as in the
// runbook, for a record with neither, or with no success after that day.
func (r Record) Deadline(now time.Time) time.Time {
	limit := now.Add(MaxFutureSkew)
	switch {
	case !r.LastSuccess.IsZero() && !r.LastSuccess.After(limit):
		return r.Schedule.Deadline(r.LastSuccess)
	case r.LastSuccess.IsZero() && !r.FirstRecorded.IsZero() && !r.FirstRecorded.After(limit):
		return r.Schedule.Deadline(r.FirstRecorded)
	case r.LastSuccess.IsZero() && r.LastFailure.IsZero() && !r.LastAttempt.IsZero() && !r.LastAttempt.After(limit):
		return r.Schedule.Deadline(r.LastAttempt)
	}
	return time.Time{}
}

// RunDeadline is when the run in progress counts as running too long (see
// schedule.MaxRun); zero when no run is in progress.
func (r Record) RunDeadline() time.Time {
	if !r.Running() {
		return time.Time{}
	}
	return r.LastAttempt.Add(r.Schedule.MaxRun(r.LastAttempt))
}

// JobID names a record: a host, and a job of it ("" for the host's own).
type JobID struct {
	Host, Job string
}

func (id JobID) String() string { return Name(id.Host, id.Job) }
