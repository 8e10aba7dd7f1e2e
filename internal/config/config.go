// Package config reads backupwatch's optional configuration file: the hosts
// (and jobs) the fleet is expected to have, beside those found in the
// store, and the schedules that override recorded ones. Unknown keys are an
// error, so a typo never silently drops a host.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Config is the file's content. The zero value is the default.
type Config struct {
	// Hosts are expected to report: a host listed here with no record is
	// exported as unknown, as in the runbook's fixed list. Filled from
	// Entries.
	Hosts []string `yaml:"-"`
	// Entries are the file's hosts: a name, or a name with a schedule for
	// the host's own record and the jobs expected of it.
	Entries []HostEntry `yaml:"hosts"`
	// Schedules override recorded schedules for hosts and jobs matched by
	// name pattern; the first that matches applies.
	Schedules []ScheduleRule `yaml:"schedules"`
	// RetentionRules are the retention policies of the repositories'
	// snapshots, in restic's own terms (retention.go).
	RetentionRules []RetentionRule `yaml:"retention"`
	// Title heads the status page; "Backup status" when empty.
	Title string `yaml:"title"`
	// MaxJobsPerHost is the limit of jobs per host serve counts against
	// (backupwatch_jobs_over_limit); DefaultMaxJobsPerHost when not set,
	// 0 for none. record and run refuse a host's new jobs beyond their
	// own --jobs.max-per-host: set both alike.
	MaxJobsPerHost *int `yaml:"max_jobs_per_host"`
	// Pings, when set, are the checkers the fleet's runs ping (pings.go).
	Pings *Pings `yaml:"pings"`
	// PageAfter is the fleet's escalation, for hosts and jobs that set
	// none (escalation.go); nil: a failure pages at once.
	PageAfter *PageAfter `yaml:"page_after"`

	// Jobs are the jobs the entries name, in file order (filled by Parse).
	Jobs []status.JobID `yaml:"-"`

	entrySchedules map[status.JobID]schedule.Schedule
	ruleSchedules  []*schedule.Schedule // nil for a rule with labels only
}

// Spec is a schedule as the file writes it: every (an interval: 1h, 24h,
// 7d) or cron (five fields or @daily...) with tz, and grace.
type Spec struct {
	Every string `yaml:"every"`
	Cron  string `yaml:"cron"`
	TZ    string `yaml:"tz"`
	Grace string `yaml:"grace"`
}

func (s Spec) given() bool { return s != Spec{} }

// Schedule reads the spec.
func (s Spec) Schedule() (schedule.Schedule, error) {
	grace := time.Duration(-1)
	if s.Grace != "" {
		g, err := schedule.ParseDuration(s.Grace)
		if err != nil {
			return schedule.Schedule{}, fmt.Errorf("grace: %w", err)
		}
		if g < 0 {
			return schedule.Schedule{}, fmt.Errorf("grace %s: must not be negative", s.Grace)
		}
		grace = g
	}
	switch {
	case s.Every != "" && s.Cron != "":
		return schedule.Schedule{}, errors.New("every and cron: give one of them")
	case s.Every != "":
		if s.TZ != "" {
			return schedule.Schedule{}, errors.New("tz: a time zone is for a cron schedule, not every")
		}
		d, err := schedule.ParseDuration(s.Every)
		if err != nil {
			return schedule.Schedule{}, fmt.Errorf("every: %w", err)
		}
		return schedule.Interval(d, max(grace, 0))
	case s.Cron != "":
		return schedule.Cron(s.Cron, s.TZ, grace)
	}
	return schedule.Schedule{}, errors.New("a schedule needs every or cron")
}

// HostEntry is one of the file's hosts: `- db` as before, or
// `- {name: db, every: 24h, jobs: [{name: dump, cron: "0 3 * * *"}]}`.
type HostEntry struct {
	Name string     `yaml:"name"`
	Jobs []JobEntry `yaml:"jobs"`
	// Labels are the host's (team, owner, env...): see labels.go.
	Labels map[string]string `yaml:"labels"`
	// PageAfter is the host's escalation, its jobs' too (escalation.go).
	PageAfter *PageAfter `yaml:"page_after"`
	Spec      `yaml:",inline"`
}

// JobEntry is a job expected of a host, with its schedule if given.
type JobEntry struct {
	Name      string     `yaml:"name"`
	PageAfter *PageAfter `yaml:"page_after"`
	Spec      `yaml:",inline"`
}

// UnmarshalYAML takes a plain host name (the file's older form) or a map.
func (h *HostEntry) UnmarshalYAML(unmarshal func(any) error) error {
	var name string
	if err := unmarshal(&name); err == nil {
		*h = HostEntry{Name: name}
		return nil
	}
	type plain HostEntry
	return unmarshal((*plain)(h))
}

// ScheduleRule sets the schedule of the records whose host and job match
// its patterns (path.Match: *, ?, [a-z]); an omitted pattern matches all,
// the host's own record (job "") included. With labels, the hosts it
// matches carry them (labels.go); with page_after, the records it matches
// escalate so (escalation.go); a rule with either needs no schedule.
type ScheduleRule struct {
	Host      string            `yaml:"host"`
	Job       string            `yaml:"job"`
	Labels    map[string]string `yaml:"labels"`
	PageAfter *PageAfter        `yaml:"page_after"`
	Spec      `yaml:",inline"`
}

func (r ScheduleRule) matches(host, job string) bool {
	return match(r.Host, host) && match(r.Job, job)
}

func match(pattern, name string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	ok, _ := path.Match(pattern, name) // checked by Validate
	return ok
}

// maxSize bounds the file: a host list, not a data set.
const maxSize = 4 << 20

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse reads and validates a configuration.
func Parse(b []byte) (*Config, error) {
	if len(b) > maxSize {
		return nil, fmt.Errorf("file is %d bytes, more than %d", len(b), maxSize)
	}
	c := &Config{}
	if len(bytes.TrimSpace(b)) == 0 {
		return c, nil
	}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

// DefaultMaxJobsPerHost is max_jobs_per_host when not set, and record's
// --jobs.max-per-host: each job has its own series (about a dozen), tile
// and reads, so a script that makes a job per run (--job=$(date +%s))
// would grow /metrics, the status page and every nudge without end; a
// fleet's hosts run a few jobs each.
const DefaultMaxJobsPerHost = 100

// JobsLimit is the limit of jobs per host, 0 for none.
func (c *Config) JobsLimit() int {
	if c.MaxJobsPerHost == nil {
		return DefaultMaxJobsPerHost
	}
	return *c.MaxJobsPerHost
}

// Validate checks every host and job name, every schedule and pattern, and
// refuses duplicates. It fills Hosts and Jobs.
func (c *Config) Validate() error {
	var errs []error
	if c.MaxJobsPerHost != nil && *c.MaxJobsPerHost < 0 {
		errs = append(errs, fmt.Errorf("max_jobs_per_host: %d: must be 0 (no limit) or more", *c.MaxJobsPerHost))
	}
	seen := map[string]bool{}
	c.Hosts, c.Jobs = nil, nil
	c.entrySchedules = map[status.JobID]schedule.Schedule{}
	for i, h := range c.Entries {
		at := fmt.Sprintf("hosts[%d]", i)
		if err := status.ValidateHost(h.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
			continue
		}
		if seen[h.Name] {
			errs = append(errs, fmt.Errorf("%s: %q is listed twice", at, h.Name))
			continue
		}
		seen[h.Name] = true
		c.Hosts = append(c.Hosts, h.Name)
		errs = append(errs, validateLabels(at, h.Labels)...)
		if h.Spec.given() {
			s, err := h.Spec.Schedule()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): %w", at, h.Name, err))
			} else {
				c.entrySchedules[status.JobID{Host: h.Name}] = s
			}
		}
		jobs := map[string]bool{}
		for j, job := range h.Jobs {
			jat := fmt.Sprintf("%s.jobs[%d]", at, j)
			if err := status.ValidateJob(job.Name); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", jat, err))
				continue
			}
			if jobs[job.Name] {
				errs = append(errs, fmt.Errorf("%s: job %q of %s is listed twice", jat, job.Name, h.Name))
				continue
			}
			jobs[job.Name] = true
			id := status.JobID{Host: h.Name, Job: job.Name}
			c.Jobs = append(c.Jobs, id)
			if job.Spec.given() {
				s, err := job.Spec.Schedule()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s (%s): %w", jat, job.Name, err))
				} else {
					c.entrySchedules[id] = s
				}
			}
		}
	}
	c.ruleSchedules = nil
	for i, r := range c.Schedules {
		at := fmt.Sprintf("schedules[%d]", i)
		for _, p := range []struct{ key, pattern string }{{"host", r.Host}, {"job", r.Job}} {
			if _, err := path.Match(p.pattern, ""); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s pattern %q: %w", at, p.key, p.pattern, err))
			}
		}
		errs = append(errs, validateLabels(at, r.Labels)...)
		if len(r.Labels) > 0 && r.Job != "" && r.Job != "*" {
			errs = append(errs, fmt.Errorf("%s: labels are a host's: a pattern with labels matches hosts, not jobs (leave job out)", at))
		}
		var s *schedule.Schedule
		if r.Spec.given() || (len(r.Labels) == 0 && r.PageAfter == nil) {
			rs, err := r.Spec.Schedule()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", at, err))
			}
			s = &rs
		}
		c.ruleSchedules = append(c.ruleSchedules, s) // nil: labels only
	}
	errs = append(errs, c.Pings.validate()...)
	errs = append(errs, c.validatePageAfter()...)
	if err := validateRetention(c.RetentionRules); err != nil {
		errs = append(errs, err)
	}
	if len(c.Title) > 200 {
		errs = append(errs, errors.New("title: longer than 200 characters"))
	}
	return errors.Join(errs...)
}

// Schedule is the schedule the file sets for host's job (job "" for the
// host's own record): the host entry's, else the first matching rule's.
func (c *Config) Schedule(host, job string) (schedule.Schedule, bool) {
	if c == nil {
		return schedule.Schedule{}, false
	}
	if s, ok := c.entrySchedules[status.JobID{Host: host, Job: job}]; ok {
		return s, true
	}
	for i, r := range c.Schedules {
		if i < len(c.ruleSchedules) && c.ruleSchedules[i] != nil && r.matches(host, job) {
			return *c.ruleSchedules[i], true
		}
	}
	return schedule.Schedule{}, false
}
