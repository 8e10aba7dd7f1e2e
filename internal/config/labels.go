package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Labels: a host entry (and a schedules pattern) may carry labels, such as
// team, owner or env, which serve exports once per host as
// backup_host_info{host,<labels>} 1 and the shipped rules join into the
// host's alerts, so that Alertmanager can route each team its own.

// Bounds of a host's labels.
const (
	maxLabels     = 16
	maxLabelValue = 200
)

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// reservedLabels are the names a host's label may not take: Prometheus
// sets job and instance on every series (a host label of that name would
// be renamed exported_job), and backupwatch's series and alerts have the
// others.
var reservedLabels = map[string]string{
	"job":        "Prometheus'",
	"instance":   "Prometheus'",
	"host":       "backupwatch's",
	"backup_job": "backupwatch's",
	"alertname":  "Alertmanager's",
	"severity":   "the alerts'",
}

// validateLabels checks one entry's or pattern's labels; at says where.
func validateLabels(at string, labels map[string]string) []error {
	var errs []error
	if len(labels) > maxLabels {
		errs = append(errs, fmt.Errorf("%s.labels: %d labels, more than %d", at, len(labels), maxLabels))
	}
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		v := labels[name]
		if err := validateLabel(name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s.labels: %w", at, err))
		}
	}
	return errs
}

func validateLabel(name, v string) error {
	quoted := fmt.Sprintf("%q", truncate(name, 60))
	switch {
	case reservedLabels[name] != "":
		return fmt.Errorf("%s is %s own label: choose another name (team, owner, env...)", quoted, reservedLabels[name])
	case strings.HasPrefix(name, "__"):
		return fmt.Errorf("%s starts with __, which Prometheus reserves", quoted)
	case !labelNameRE.MatchString(name):
		return fmt.Errorf("%s is not a label name (a letter or _, then letters, digits, _)", quoted)
	case v == "":
		return fmt.Errorf("%s: empty value (leave the label out instead)", name)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s: the value is not valid UTF-8", name)
	case utf8.RuneCountInString(v) > maxLabelValue:
		return fmt.Errorf("%s: the value is %d characters, more than %d", name, utf8.RuneCountInString(v), maxLabelValue)
	case strings.ContainsAny(v, `"\`):
		return fmt.Errorf("%s: the value has a quote or backslash: plain text only, it is matched in routes", name)
	case strings.ContainsFunc(v, unicode.IsControl):
		return fmt.Errorf("%s: the value has a control character (a line break?): one line only", name)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// HostLabels is the labels of host: those of its entry, and of every
// schedules pattern its name matches for labels its entry does not set
// (the first such pattern wins); nil when none. The map is the caller's.
func (c *Config) HostLabels(host string) map[string]string {
	if c == nil {
		return nil
	}
	var out map[string]string
	add := func(ls map[string]string) {
		for k, v := range ls {
			if _, set := out[k]; !set {
				if out == nil {
					out = map[string]string{}
				}
				out[k] = v
			}
		}
	}
	for _, e := range c.Entries {
		if e.Name == host {
			add(e.Labels)
		}
	}
	for _, r := range c.Schedules {
		if len(r.Labels) > 0 && match(r.Host, host) {
			add(r.Labels)
		}
	}
	return out
}
