package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/golemtrust/backupwatch/internal/schedule"
)

// Escalation: a failing backup is first a warning (chat) and pages
// (severity critical, the email/pager route) once it has failed
// page_after.failures times in a row, or has gone page_after.or without a
// success. serve exports the thresholds per host and job
// (backup_page_after_failures, backup_page_after_seconds) and the shipped
// rules compare backup_consecutive_failures and the age of the last
// success against them; without page_after anywhere, nothing is exported
// and a failure pages at once, as the runbook promises.

// Bounds of page_after: a count of runs and a time a person would wait.
const (
	maxPageAfterFailures = 1000
	maxPageAfter         = 90 * 24 * time.Hour
)

// PageAfter is page_after as the file writes it: `{failures: 3, or: 12h}`.
// Either may be left out, not both.
type PageAfter struct {
	Failures *int   `yaml:"failures"`
	Or       string `yaml:"or"`
}

// Escalation is a resolved page_after: Failures 0 for no count, After 0
// for no time.
type Escalation struct {
	Failures int
	After    time.Duration
}

// escalation reads p; at says where, for errors.
func (p *PageAfter) escalation(at string) (Escalation, error) {
	var e Escalation
	if p.Failures == nil && p.Or == "" {
		return e, fmt.Errorf("%s.page_after: give failures (a count), or (a duration), or both", at)
	}
	var errs []error
	if p.Failures != nil {
		if n := *p.Failures; n < 1 || n > maxPageAfterFailures {
			errs = append(errs, fmt.Errorf("%s.page_after.failures: %d: must be 1 (page at the first failure) to %d", at, n, maxPageAfterFailures))
		} else {
			e.Failures = n
		}
	}
	if p.Or != "" {
		d, err := schedule.ParseDuration(p.Or)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s.page_after.or: %w", at, err))
		case d <= 0 || d > maxPageAfter:
			errs = append(errs, fmt.Errorf("%s.page_after.or: %s: must be more than 0 and at most 90d", at, p.Or))
		default:
			e.After = d
		}
	}
	return e, errors.Join(errs...)
}

// validatePageAfter checks every page_after of the file.
func (c *Config) validatePageAfter() []error {
	var errs []error
	check := func(at string, p *PageAfter) {
		if p != nil {
			if _, err := p.escalation(at); err != nil {
				errs = append(errs, err)
			}
		}
	}
	check("config", c.PageAfter)
	for i, h := range c.Entries {
		check(fmt.Sprintf("hosts[%d]", i), h.PageAfter)
		for j, job := range h.Jobs {
			check(fmt.Sprintf("hosts[%d].jobs[%d]", i, j), job.PageAfter)
		}
	}
	for i, r := range c.Schedules {
		check(fmt.Sprintf("schedules[%d]", i), r.PageAfter)
	}
	return errs
}

// Escalation is when host's job (job "" for the host's own record) pages:
// the job entry's page_after, else its host entry's, else the first
// matching schedules pattern's, else the file's own; false when none is
// set (a failure pages at once). Call it on a validated Config.
func (c *Config) Escalation(host, job string) (Escalation, bool) {
	if c == nil {
		return Escalation{}, false
	}
	resolve := func(p *PageAfter) (Escalation, bool) {
		e, err := p.escalation("")
		return e, err == nil
	}
	for _, h := range c.Entries {
		if h.Name != host {
			continue
		}
		for _, j := range h.Jobs {
			if job != "" && j.Name == job && j.PageAfter != nil {
				return resolve(j.PageAfter)
			}
		}
		if h.PageAfter != nil {
			return resolve(h.PageAfter)
		}
	}
	for _, r := range c.Schedules {
		if r.PageAfter != nil && r.matches(host, job) {
			return resolve(r.PageAfter)
		}
	}
	if c.PageAfter != nil {
		return resolve(c.PageAfter)
	}
	return Escalation{}, false
}
