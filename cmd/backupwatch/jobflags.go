package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
)

// jobFlags are --job and the schedule flags of record and run (restore-test
// takes --job alone).
type jobFlags struct {
	job    string
	jobSet bool

	schedules       bool // the schedule flags were added
	every, cronExpr string
	cronTZ, grace   string
	graceSet        bool
}

func (f *jobFlags) add(c *kingpin.CmdClause, schedules bool) {
	c.Flag("job", "The backup job, when the host runs several (files, pg_dump...): its own record, alerts and schedule. Same name rules as hosts. Default: the host's own record.").IsSetByUser(&f.jobSet).StringVar(&f.job)
	if !schedules {
		return
	}
	f.schedules = true
	c.Flag("every", "The job's schedule as an interval (1h, 24h, 7d): a success is due that long after the last one. Recorded with the result; the exporter's config file may override it. Default: 24h.").PlaceHolder("DURATION").StringVar(&f.every)
	c.Flag("cron", `The job's schedule as a cron expression ("0 3 * * *", @weekly): a success is due by its next time plus --grace. Default: none, --every's interval applies.`).PlaceHolder("EXPR").StringVar(&f.cronExpr)
	c.Flag("cron.tz", "Time zone of --cron (IANA name, e.g. Europe/Berlin); default UTC.").PlaceHolder("ZONE").StringVar(&f.cronTZ)
	c.Flag("grace", "How late a success may be beyond the schedule, at most 32 days; default 0 with --every, 1h with --cron.").PlaceHolder("DURATION").IsSetByUser(&f.graceSet).StringVar(&f.grace)
}

// resolve checks the flags: the job ("" for none) and the schedule to
// record (nil when no schedule flag was given). Bad values are usage
// errors: exit 2, nothing written.
func (f *jobFlags) resolve() (string, *schedule.Schedule, error) {
	if f.jobSet {
		if err := status.ValidateJob(f.job); err != nil {
			return "", nil, usageError{fmt.Errorf("--job: %w", err)}
		}
	}
	if !f.schedules {
		return f.job, nil, nil
	}
	grace := time.Duration(-1)
	if f.graceSet {
		g, err := schedule.ParseDuration(f.grace)
		if err != nil {
			return "", nil, usageError{fmt.Errorf("--grace: %w", err)}
		}
		if g < 0 {
			return "", nil, usageError{fmt.Errorf("--grace %s: must not be negative", f.grace)}
		}
		grace = g
	}
	var (
		s   schedule.Schedule
		err error
	)
	switch {
	case f.every != "" && f.cronExpr != "":
		return "", nil, usageError{errors.New("--every and --cron: give one schedule")}
	case f.cronTZ != "" && f.cronExpr == "":
		return "", nil, usageError{errors.New("--cron.tz: only with --cron")}
	case f.every != "":
		var d time.Duration
		if d, err = schedule.ParseDuration(f.every); err != nil {
			return "", nil, usageError{fmt.Errorf("--every: %w", err)}
		}
		if s, err = schedule.Interval(d, max(grace, 0)); err != nil {
			return "", nil, usageError{fmt.Errorf("--every: %w", err)}
		}
	case f.cronExpr != "":
		if s, err = schedule.Cron(f.cronExpr, f.cronTZ, grace); err != nil {
			return "", nil, usageError{fmt.Errorf("--cron: %w", err)}
		}
	case f.graceSet:
		// A grace alone: the runbook's 24 hours, that much later.
		if s, err = schedule.Interval(schedule.DefaultEvery, max(grace, 0)); err != nil {
			return "", nil, usageError{fmt.Errorf("--grace: %w", err)}
		}
	default:
		return f.job, nil, nil
	}
	return f.job, &s, nil
}
