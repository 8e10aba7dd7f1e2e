// Package schedule is when a backup is expected: an interval or a cron
// expression in a time zone, a grace period, and the deadline they give
// the next successful backup.
package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zones do not depend on the machine's tzdata: a record is read wherever the exporter runs

	"github.com/prometheus/common/model"
	"github.com/robfig/cron/v3"
)

// Bounds of what is accepted.
const (
	// MaxGrace bounds a grace period as MaxEvery bounds an interval, so
	// that no record can claim a deadline more than 64 days after its
	// last success: `--every 1d --grace 365d` would silence a host for a
	// year.
	MaxGrace = MaxEvery
	// MaxEvery is the longest schedule watched: an interval may not be
	// longer, and a cron expression must fire at least this often (a
	// monthly one does, with a day to spare for 31-day months and the
	// clock changes). A record claiming a rarer schedule would turn off
	// BackupNotRunIn24Hours for its host for as long (docs/jobs.md).
	MaxEvery = 32 * 24 * time.Hour
	// MinEvery is the shortest interval: record times are whole seconds
	// and the exporter reads them minutes apart, so a shorter one cannot
	// be watched (and a sub-millisecond one would be written as "0s").
	MinEvery = time.Minute
	// DefaultEvery is the runbook's rule: a success every 24 hours.
	DefaultEvery = 24 * time.Hour
	// DefaultCronGrace is the grace of a cron schedule given without one:
	// its deadline is the next start time itself, so a zero grace would be
	// overdue at the start of every run (healthchecks' default is an hour too).
	DefaultCronGrace = time.Hour
	maxExprLen       = 200
)

// Schedule is when the next successful backup is due. The zero value is
// not valid; Default is the runbook's 24 hours without grace.
type Schedule struct {
	Every time.Duration // > 0 for an interval schedule
	Cron  string        // the cron expression, when Every is 0
	TZ    string        // the cron expression's time zone (IANA name); "UTC" when not given
	Grace time.Duration

	spec cron.Schedule // parsed Cron, read in UTC as wall-clock time of loc
	loc  *time.Location
}

// Default is the runbook's schedule: a success every 24 hours, no grace.
func Default() Schedule { return Schedule{Every: DefaultEvery} }

// IsDefault reports whether s is the runbook's rule (24 h, no grace); the
// zero value is taken as Default.
func (s Schedule) IsDefault() bool {
	s = s.orDefault()
	return s.Every == DefaultEvery && s.Grace == 0
}

// IsZero reports whether s is the zero value (no schedule at all).
func (s Schedule) IsZero() bool { return s.Every == 0 && s.spec == nil }

func (s Schedule) orDefault() Schedule {
	if s.IsZero() {
		return Default()
	}
	return s
}

// Interval returns an interval schedule.
func Interval(every, grace time.Duration) (Schedule, error) {
	switch {
	case every <= 0:
		return Schedule{}, fmt.Errorf("interval %s: must be positive", exactDuration(every))
	case every < MinEvery:
		return Schedule{}, fmt.Errorf("interval %s: shorter than %s, the shortest schedule watched", exactDuration(every), FormatDuration(MinEvery))
	case every%time.Second != 0:
		return Schedule{}, fmt.Errorf("interval %s: not a whole number of seconds", exactDuration(every))
	case every > MaxEvery:
		return Schedule{}, fmt.Errorf("interval %s: longer than %d days, the longest schedule watched", FormatDuration(every), MaxEvery/(24*time.Hour))
	}
	if err := checkGrace(grace); err != nil {
		return Schedule{}, err
	}
	return Schedule{Every: every, Grace: grace}, nil
}

// Cron returns a cron schedule: five fields (minute hour day-of-month month
// day-of-week) or a descriptor (@hourly, @daily, @weekly, @monthly,
// @yearly), read as wall-clock time in tz (an IANA zone name such as
// Europe/Berlin; "" is UTC). grace < 0 means DefaultCronGrace.
func Cron(expr, tz string, grace time.Duration) (Schedule, error) {
	expr = strings.Join(strings.Fields(expr), " ")
	switch {
	case expr == "":
		return Schedule{}, errors.New("cron expression is empty")
	case len(expr) > maxExprLen:
		return Schedule{}, fmt.Errorf("cron expression is longer than %d characters", maxExprLen)
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return Schedule{}, fmt.Errorf("cron expression %q: give the time zone separately (--cron.tz, tz:)", expr)
	case strings.HasPrefix(expr, "@every"):
		return Schedule{}, fmt.Errorf("cron expression %q: give an interval as an interval (--every, every:)", expr)
	}
	spec, err := cron.ParseStandard(expr)
	if err != nil {
		return Schedule{}, fmt.Errorf("cron expression %q: %w", expr, err)
	}
	ss, ok := spec.(*cron.SpecSchedule)
	if !ok {
		return Schedule{}, fmt.Errorf("cron expression %q: not a calendar schedule", expr)
	}
	ss.Location = time.UTC
	loc, tzName, err := location(tz)
	if err != nil {
		return Schedule{}, err
	}
	if grace < 0 {
		grace = DefaultCronGrace
	}
	if err := checkGrace(grace); err != nil {
		return Schedule{}, err
	}
	s := Schedule{Cron: expr, TZ: tzName, Grace: grace, spec: ss, loc: loc}
	// An expression that never fires (30 February) is a mistake, not a
	// schedule: robfig/cron gives up after five years.
	if s.next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return Schedule{}, fmt.Errorf("cron expression %q never fires", expr)
	}
	if err := checkGaps(s); err != nil {
		return Schedule{}, fmt.Errorf("cron expression %q: %w", expr, err)
	}
	return s, nil
}

func location(tz string) (*time.Location, string, error) {
	tz = strings.TrimSpace(tz)
	if tz == "" || tz == "UTC" {
		return time.UTC, "UTC", nil
	}
	if strings.EqualFold(tz, "local") {
		return nil, "", errors.New("time zone Local: name the zone (e.g. Europe/Berlin): the exporter may run elsewhere")
	}
	if len(tz) > 64 {
		return nil, "", errors.New("time zone: longer than 64 characters")
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, "", fmt.Errorf("time zone %q: not a known IANA zone name", tz)
	}
	return loc, tz, nil
}

func checkGrace(g time.Duration) error {
	switch {
	case g < 0:
		return fmt.Errorf("grace %s: must not be negative", g)
	case g%time.Second != 0:
		return fmt.Errorf("grace %s: not a whole number of seconds", exactDuration(g))
	case g > MaxGrace:
		return fmt.Errorf("grace %s: longer than %d days, the longest grace watched", FormatDuration(g), MaxGrace/(24*time.Hour))
	}
	return nil
}

// next is the first time the cron schedule fires after t. The expression
// is read as wall-clock time in its zone: a time the clock skips when it
// goes forward (02:30 on the night summer time starts in Europe/Berlin)
// is taken at the same offset as before, i.e. an hour later (03:30), and a
// time the clock goes through twice when it goes back counts once (the
// second time), as cron runs a job once on those nights.
func (s Schedule) next(t time.Time) time.Time {
	lt := t.In(s.loc)
	w := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), 0, time.UTC)
	for i := 0; i < 10000; i++ {
		w = s.spec.Next(w)
		if w.IsZero() {
			return time.Time{}
		}
		r := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, s.loc)
		if r.After(t) {
			return r
		}
	}
	return time.Time{}
}

// Next is when the backup is next expected to start after t: t + Every for
// an interval, the cron expression's next time after t otherwise.
func (s Schedule) Next(t time.Time) time.Time {
	s = s.orDefault()
	if s.Every > 0 {
		return t.Add(s.Every)
	}
	return s.next(t)
}

// Deadline is when a successful backup is due after one at last: Next(last)
// plus the grace. An interval schedule is measured from success to success,
// so its run time is included; a cron schedule's next time is a start, so
// its grace must cover a run.
func (s Schedule) Deadline(last time.Time) time.Time {
	n := s.Next(last)
	if n.IsZero() {
		return n
	}
	return n.Add(s.Grace)
}

// MaxRun is how long a run started at start may take before it counts as
// running too long: the grace when there is one, else the time until the
// next run (a run longer than that overlaps the next one).
func (s Schedule) MaxRun(start time.Time) time.Duration {
	s = s.orDefault()
	if s.Grace > 0 {
		return s.Grace
	}
	if s.Every > 0 {
		return s.Every
	}
	n := s.Next(start)
	if n.IsZero() {
		return DefaultEvery
	}
	return s.Next(n).Sub(n)
}

// String describes s: "every 1d", "cron 0 3 * * * Europe/Berlin, grace 1h".
func (s Schedule) String() string {
	s = s.orDefault()
	var b strings.Builder
	if s.Every > 0 {
		b.WriteString("every " + FormatDuration(s.Every))
	} else {
		b.WriteString("cron " + s.Cron + " " + s.TZ)
	}
	if s.Grace > 0 {
		b.WriteString(", grace " + FormatDuration(s.Grace))
	}
	return b.String()
}

// Field returns s as the record's schedule field: the interval ("1d",
// "1h30m") or the cron expression; a cron expression always has a space or
// starts with "@", an interval never does.
func (s Schedule) Field() string {
	s = s.orDefault()
	if s.Every > 0 {
		return FormatDuration(s.Every)
	}
	return s.Cron
}

// Parse reads a schedule as the record and the config file hold it: the
// schedule field (an interval or a cron expression), its time zone and the
// grace. grace < 0 means "not given" (DefaultCronGrace for cron, 0 for an
// interval).
func Parse(field, tz string, grace time.Duration) (Schedule, error) {
	field = strings.TrimSpace(field)
	if strings.ContainsAny(field, " \t") || strings.HasPrefix(field, "@") {
		return Cron(field, tz, grace)
	}
	if strings.TrimSpace(tz) != "" {
		return Schedule{}, fmt.Errorf("time zone %q given for the interval %q: a time zone is for a cron expression", tz, field)
	}
	every, err := ParseDuration(field)
	if err != nil {
		return Schedule{}, fmt.Errorf("interval: %w", err)
	}
	return Interval(every, max(grace, 0))
}

// ParseDuration reads a duration as Prometheus writes them (1h, 7d, 2w,
// 1h30m) or as Go does (1.5h, 90s).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if len(s) > 32 {
		return 0, fmt.Errorf("not a duration: %q", s[:32]+"…")
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration (e.g. 1h, 24h, 7d): %q", s)
	}
	return d, nil
}

// ParseGraceSeconds reads the record's grace_seconds field.
func ParseGraceSeconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != f {
		return 0, fmt.Errorf("grace_seconds: not a number: %q", s)
	}
	if f < 0 || f > MaxGrace.Seconds() {
		return 0, fmt.Errorf("grace_seconds: %v is not between 0 and %.0f (32 days)", f, MaxGrace.Seconds())
	}
	return time.Duration(f * float64(time.Second)), nil
}

// exactDuration writes d as FormatDuration does when that is exact (it
// keeps milliseconds), else as Go does ("999µs", not "0s").
func exactDuration(d time.Duration) string {
	if d%time.Millisecond != 0 {
		return d.String()
	}
	return FormatDuration(d)
}

// FormatDuration writes d as Prometheus does (1d, 1w, 1h30m).
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + model.Duration(-d).String()
	}
	return model.Duration(d).String()
}
