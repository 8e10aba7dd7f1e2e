// Package nagios judges the status view as a monitoring plugin for Nagios,
// Icinga, Checkmk or Zabbix: one state (OK, WARNING, CRITICAL, UNKNOWN)
// with thresholds on a last success's age and on consecutive failures, a
// summary line and performance data in the plugin guidelines' format.
package nagios

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/statusview"
)

// State is a plugin's state; its value is the plugin's exit code.
type State int

// The plugin states, valued as their exit codes.
const (
	OK       State = 0
	Warning  State = 1
	Critical State = 2
	Unknown  State = 3
)

func (s State) String() string {
	switch s {
	case OK:
		return "OK"
	case Warning:
		return "WARNING"
	case Critical:
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// rank orders states for "the worst wins": CRITICAL, WARNING, UNKNOWN,
// OK, as the monitoring plugins' max_state_alt: a host that cannot be
// judged does not hide one that is known to be failing.
func (s State) rank() int {
	return [...]int{OK: 0, Unknown: 1, Warning: 2, Critical: 3}[s]
}

// Worse reports whether s is worse than t.
func (s State) Worse(t State) bool { return s.rank() > t.rank() }

// Defaults of the thresholds: the runbook's 24 and 48 hours for a record
// without a schedule; a failed latest run warns, two in a row are critical.
const (
	DefaultWarningAge       = 24 * time.Hour
	DefaultCriticalAge      = 48 * time.Hour
	DefaultWarningFailures  = 0
	DefaultCriticalFailures = 1
)

// Thresholds are, as a plugin's -w and -c, the largest values still OK:
// a last success older than WarningAge is a WARNING, more than
// CriticalFailures failures in a row are CRITICAL.
type Thresholds struct {
	// WarningAge and CriticalAge apply to every record when not zero.
	// Zero: the record's own schedule decides: WARNING once its next
	// success is overdue (its deadline, as the BackupOverdue alert),
	// CRITICAL once the one after is too; for a record without a
	// schedule, the runbook's 24 hours, that is 24h and 48h.
	WarningAge, CriticalAge time.Duration
	// WarningFailures and CriticalFailures bound consecutive failures.
	WarningFailures, CriticalFailures int64
}

// DefaultThresholds are the thresholds without flags.
func DefaultThresholds() Thresholds {
	return Thresholds{WarningFailures: DefaultWarningFailures, CriticalFailures: DefaultCriticalFailures}
}

// Validate refuses thresholds that contradict each other.
func (t Thresholds) Validate() error {
	switch {
	case t.WarningAge < 0 || t.CriticalAge < 0:
		return errors.New("--warning.age and --critical.age must be positive")
	case t.WarningAge > 0 && t.CriticalAge > 0 && t.WarningAge > t.CriticalAge:
		return fmt.Errorf("--warning.age %s is more than --critical.age %s", t.WarningAge, t.CriticalAge)
	case t.WarningFailures < 0 || t.CriticalFailures < 0:
		return errors.New("--warning.failures and --critical.failures must be 0 or more")
	case t.WarningFailures > t.CriticalFailures:
		return fmt.Errorf("--warning.failures %d is more than --critical.failures %d", t.WarningFailures, t.CriticalFailures)
	}
	return nil
}

// ageLimits are a record's age thresholds in seconds.
func (t Thresholds) ageLimits(sched schedule.Schedule, last time.Time) (warn, crit float64) {
	w, c := t.WarningAge, t.CriticalAge
	if w == 0 || c == 0 {
		sw, sc := DefaultWarningAge, DefaultCriticalAge
		if !last.IsZero() {
			if d := sched.Deadline(last); !d.IsZero() {
				sw = d.Sub(last)
				if d2 := sched.Deadline(sched.Next(last)); !d2.IsZero() {
					sc = d2.Sub(last)
				}
			}
		}
		if w == 0 {
			w = sw
		}
		if c == 0 {
			c = sc
		}
	}
	return w.Seconds(), c.Seconds()
}

// Verdict is one record judged.
type Verdict struct {
	Name  string // host, or host@job
	State State
	Why   string // one line: what was judged, and why it is not OK
	// Age is the last success's age in seconds; nil when there is none.
	Age                *float64
	WarnAge, CritAge   float64
	Failures           int64 // in a row; 0 when the latest result succeeded
	WarnFail, CritFail int64
}

// Judge judges one row of the status view at now.
func Judge(row statusview.Row, t Thresholds, now time.Time) Verdict {
	r := row.Record
	v := Verdict{Name: row.Host, WarnFail: t.WarningFailures, CritFail: t.CriticalFailures}
	if row.Job != "" {
		v.Name += "@" + row.Job // as the table names it
	}
	v.WarnAge, v.CritAge = t.ageLimits(r.Schedule, r.LastSuccess)
	if row.AgeSeconds != nil {
		// Whole seconds; a success a little ahead of this clock is just now.
		age := max(math.Floor(*row.AgeSeconds), 0)
		v.Age = &age
	}
	problems := ""
	if len(r.Problems) > 0 {
		problems = " (" + strings.Join(r.Problems, "; ") + ")"
	}
	switch {
	case r.Unread:
		v.State, v.Why = Unknown, "not read: the store was not reached"+problems
		return v
	case r.NoRecord:
		v.State, v.Why = Unknown, "no record: never reported, or not a host of this store"
		return v
	case r.Status == status.Unknown:
		v.State, v.Why = Unknown, "no result to judge"+problems
		if row.Running {
			v.Why = "no result yet, its first run is in progress" + problems
		}
		return v
	case r.Status == status.Success && v.Age == nil:
		v.State, v.Why = Unknown, "succeeded, but when is not known"+problems
		return v
	}
	if r.Status == status.Failed {
		v.Failures = 1
		if cf := r.ConsecutiveFailures; cf != nil && *cf > 1 {
			v.Failures = *cf
		}
	}

	var whys []string
	worse := func(s State, why string) {
		if s.Worse(v.State) {
			v.State = s
		}
		whys = append(whys, why)
	}
	switch age := v.Age; {
	case age == nil:
		worse(Critical, "never succeeded")
	case *age > v.CritAge:
		worse(Critical, fmt.Sprintf("last success %s ago, more than %s", Duration(*age), Duration(v.CritAge)))
	case *age > v.WarnAge:
		worse(Warning, fmt.Sprintf("last success %s ago, more than %s", Duration(*age), Duration(v.WarnAge)))
	default:
		whys = append(whys, fmt.Sprintf("last success %s ago", Duration(*age)))
	}
	if v.Failures > 0 {
		why := fmt.Sprintf("%d failure%s in a row", v.Failures, plural(v.Failures))
		if m := strings.TrimSpace(r.Message); m != "" {
			why += ": " + status.Truncate(m, 120)
		}
		switch {
		case v.Failures > t.CriticalFailures:
			worse(Critical, why)
		case v.Failures > t.WarningFailures:
			worse(Warning, why)
		default:
			whys = append(whys, why)
		}
	}
	if row.RunTooLong {
		worse(Warning, "running for longer than its schedule allows")
	}
	v.Why = strings.Join(whys, ", ") + problems
	return v
}

// Check is the whole check: every record of the view judged, the worst
// state first, and the restore tests when the view is the fleet's.
type Check struct {
	State    State
	Verdicts []Verdict // worst first, then by name
	// Restore is what the restore tests add ("" when they are fine or
	// not judged), and its state.
	Restore      string
	RestoreState State
	RestoreAge   *float64
	// Narrowed: the view is of named hosts or a job: every record is
	// listed with its own performance data.
	Narrowed bool
}

// JudgeAll judges the view, UNKNOWN when it holds no record: narrowed to named hosts or a job, the restore
// tests are shown by status but not judged, as status's exit code has it.
func JudgeAll(rep statusview.Report, t Thresholds, narrowed bool, now time.Time) Check {
	c := Check{Narrowed: narrowed}
	if len(rep.Hosts) == 0 {
		// A check that sees nothing must not say that all is well.
		c.State = Unknown
	}
	for _, row := range rep.Hosts {
		v := Judge(row, t, now)
		if v.State.Worse(c.State) {
			c.State = v.State
		}
		c.Verdicts = append(c.Verdicts, v)
	}
	slices.SortStableFunc(c.Verdicts, func(a, b Verdict) int { return b.State.rank() - a.State.rank() })
	if !narrowed {
		c.judgeRestoreTests(rep)
		if c.RestoreState.Worse(c.State) {
			c.State = c.RestoreState
		}
	}
	return c
}

// judgeRestoreTests: as RestoreTestFailed (critical) and RestoreTestOverdue
// (a warning).
func (c *Check) judgeRestoreTests(rep statusview.Report) {
	rt := rep.RestoreTest
	if rt == nil {
		c.Restore, c.RestoreState = "no restore test recorded", Warning
		return
	}
	if rt.AgeSeconds != nil {
		age := max(math.Floor(*rt.AgeSeconds), 0)
		c.RestoreAge = &age
	}
	var whys []string
	for _, t := range append([]statusview.RestoreTest{*rt}, rep.RestoreTestJobs...) {
		name := "the restore test"
		if t.Job != "" {
			name = "restore test " + t.Job
		}
		switch {
		case t.Result != status.Passed:
			whys = append(whys, name+" "+t.Result)
			c.RestoreState = Critical
		case t.Overdue:
			whys = append(whys, fmt.Sprintf("%s more than %s old", name, Duration(status.RestoreTestInterval.Seconds())))
			if c.RestoreState != Critical {
				c.RestoreState = Warning
			}
		}
	}
	c.Restore = strings.Join(whys, ", ")
}

// Duration writes seconds as a person reads an age: 2d3h, 5h12m, 40s.
func Duration(secs float64) string {
	d := time.Duration(secs * float64(time.Second))
	switch {
	case d >= 48*time.Hour:
		days := d / (24 * time.Hour)
		if h := (d - days*24*time.Hour) / time.Hour; h != 0 {
			return fmt.Sprintf("%dd%dh", days, h)
		}
		return fmt.Sprintf("%dd", days)
	case d >= time.Hour:
		if m := (d % time.Hour) / time.Minute; m != 0 {
			return fmt.Sprintf("%dh%dm", d/time.Hour, m)
		}
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.Truncate(time.Second).String()
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}
