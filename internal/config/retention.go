package config

import (
	"errors"
	"fmt"
	"path"
)

// Policy is a retention policy in restic's own terms (restic forget's
// options, without their dashes' prefix): how many of the most recent
// snapshots, and of the most recent hours, days, weeks, months and years
// that have one, are kept. What it keeps is the restore points the
// repository promises.
type Policy struct {
	KeepLast    int `yaml:"keep-last"`
	KeepHourly  int `yaml:"keep-hourly"`
	KeepDaily   int `yaml:"keep-daily"`
	KeepWeekly  int `yaml:"keep-weekly"`
	KeepMonthly int `yaml:"keep-monthly"`
	KeepYearly  int `yaml:"keep-yearly"`
}

// Kept is an upper bound of the snapshots the policy keeps: restic keeps
// the union of what each option keeps, never more than their sum.
func (p Policy) Kept() int {
	return p.KeepLast + p.KeepHourly + p.KeepDaily + p.KeepWeekly + p.KeepMonthly + p.KeepYearly
}

// maxKeep bounds each option: a century of days.
const maxKeep = 36500

func (p Policy) validate() error {
	var errs []error
	for _, o := range []struct {
		name string
		n    int
	}{{"keep-last", p.KeepLast}, {"keep-hourly", p.KeepHourly}, {"keep-daily", p.KeepDaily}, {"keep-weekly", p.KeepWeekly}, {"keep-monthly", p.KeepMonthly}, {"keep-yearly", p.KeepYearly}} {
		switch {
		case o.n < 0:
			// restic 0.16+ reads -1 as "unlimited": no promise that can be
			// checked, and older restic refuses it.
			errs = append(errs, fmt.Errorf("%s: %d: must be 0 or more (unlimited is not a promise that can be checked)", o.name, o.n))
		case o.n > maxKeep:
			errs = append(errs, fmt.Errorf("%s: %d: more than %d", o.name, o.n, maxKeep))
		}
	}
	if len(errs) == 0 && p.Kept() == 0 {
		errs = append(errs, errors.New("keeps nothing: give at least one keep-* option above 0 (restic forget refuses an empty policy)"))
	}
	return errors.Join(errs...)
}

// RetentionRule sets the policy of the snapshots whose repository, host and
// job (a snapshot's backupwatch job tag) match its patterns (path.Match; an
// omitted pattern matches all). The first rule that matches applies.
type RetentionRule struct {
	Repository string `yaml:"repository"`
	Host       string `yaml:"host"`
	Job        string `yaml:"job"`
	Policy     `yaml:",inline"`
}

// validateRetention checks each rule, and refuses a rule that a rule before
// it shadows entirely (the same patterns, or broader ones: "*" or
// omitted): two policies for the same snapshots contradict each other, and
// the second would never apply.
func validateRetention(rules []RetentionRule) error {
	var errs []error
	seen := map[[3]string]int{}
	for i, r := range rules {
		at := fmt.Sprintf("retention[%d]", i)
		for _, p := range []struct{ key, pattern string }{{"repository", r.Repository}, {"host", r.Host}, {"job", r.Job}} {
			if _, err := path.Match(p.pattern, ""); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s pattern %q: %w", at, p.key, p.pattern, err))
			}
		}
		if err := r.Policy.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
		}
		key := [3]string{norm(r.Repository), norm(r.Host), norm(r.Job)}
		if j, ok := seen[key]; ok {
			errs = append(errs, fmt.Errorf("%s: the same repository, host and job as retention[%d]: two policies for the same snapshots contradict each other", at, j))
			continue
		}
		for j := range i {
			if shadows(rules[j], r) {
				errs = append(errs, fmt.Errorf("%s: never applies: retention[%d] before it matches every snapshot it matches (put the narrower rule first, e.g. a job's before its host's)", at, j))
				break
			}
		}
		seen[key] = i
	}
	return errors.Join(errs...)
}

// shadows reports whether rule a matches every snapshot b matches, as far
// as can be told without comparing globs: each of a's patterns is "*" or
// the same as b's. Then b, after a, would never apply: its policy
// contradicts a's for those snapshots.
func shadows(a, b RetentionRule) bool {
	for _, p := range [][2]string{{a.Repository, b.Repository}, {a.Host, b.Host}, {a.Job, b.Job}} {
		if pa := norm(p[0]); pa != "*" && pa != norm(p[1]) {
			return false
		}
	}
	return true
}

func norm(pattern string) string {
	if pattern == "" {
		return "*"
	}
	return pattern
}

// Retention is the policy the file sets for the snapshots of host's job
// (job "" for the host's own) in repository: the first matching rule's.
func (c *Config) Retention(repository, host, job string) (Policy, bool) {
	if c == nil {
		return Policy{}, false
	}
	for _, r := range c.RetentionRules {
		if match(r.Repository, repository) && match(r.Host, host) && match(r.Job, job) {
			return r.Policy, true
		}
	}
	return Policy{}, false
}
