package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/golemtrust/backupwatch/internal/ping"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Pings says where each run of the fleet pings an outside checker (`run
// --ping.url` per job, this for all): a URL per host or job, else the
// pattern. Ping URLs are capabilities: a file holding them is a secret.
type Pings struct {
	// Kind is ping.Healthchecks (the default) or ping.UptimeKuma.
	Kind string `yaml:"kind"`
	// URL is a pattern: {host} and {job} are replaced by the run's host
	// and job, {job} by "backup" for a host's own run (no --job).
	URL string `yaml:"url"`
	// URLs are per host ("db") or per job ("db@pg_dump"), before URL.
	URLs map[string]string `yaml:"urls"`
}

// NoJob is what {job} stands for in a run of a host's own record.
const NoJob = "backup"

var placeholderRE = regexp.MustCompile(`\{[^}]*\}`)

// validate checks the kind, the pattern and every URL; its errors never
// quote a URL.
func (p *Pings) validate() []error {
	if p == nil {
		return nil
	}
	var errs []error
	if p.URL == "" && len(p.URLs) == 0 {
		errs = append(errs, errPingsEmpty)
	}
	if p.Kind != "" {
		if err := ping.CheckKind(p.Kind); err != nil {
			errs = append(errs, fmt.Errorf("pings.kind: %w", err))
		}
	}
	if p.URL != "" {
		for _, ph := range placeholderRE.FindAllString(p.URL, -1) {
			if ph != "{host}" && ph != "{job}" {
				errs = append(errs, fmt.Errorf("pings.url: unknown placeholder %s: only {host} and {job}", ph))
			}
		}
		if err := ping.CheckURL(expand(p.URL, "host", "job")); err != nil {
			errs = append(errs, fmt.Errorf("pings.url: %w", err))
		}
	}
	keys := make([]string, 0, len(p.URLs))
	for k := range p.URLs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		host, job, hasJob := strings.Cut(k, "@")
		err := status.ValidateHost(host)
		if err == nil && hasJob {
			err = status.ValidateJob(job)
		}
		if host == status.RestoreTestKey && hasJob {
			err = status.ValidateJob(job) // the restore test's jobs
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("pings.urls[%s]: not a host or host@job: %w", status.Truncate(k, 80), err))
			continue
		}
		if err := ping.CheckURL(p.URLs[k]); err != nil {
			errs = append(errs, fmt.Errorf("pings.urls[%s]: %w", k, err))
		}
	}
	return errs
}

// PingURL is the checker a run of host's job (job "" for the host's own
// record) pings, from the file: its kind and URL; ok is false when the
// file names none.
func (c *Config) PingURL(host, job string) (kind, u string, ok bool) {
	if c == nil || c.Pings == nil {
		return "", "", false
	}
	kind = c.Pings.Kind
	if kind == "" {
		kind = ping.Healthchecks
	}
	key := host
	if job != "" {
		key = host + "@" + job
	}
	if u, ok := c.Pings.URLs[key]; ok {
		return kind, strings.TrimSpace(u), true
	}
	if c.Pings.URL == "" {
		return "", "", false
	}
	if job == "" {
		job = NoJob
	}
	return kind, expand(c.Pings.URL, host, job), true
}

// expand fills the pattern's placeholders, path-escaped.
func expand(pattern, host, job string) string {
	return strings.NewReplacer("{host}", url.PathEscape(host), "{job}", url.PathEscape(job)).Replace(strings.TrimSpace(pattern))
}

// errPingsEmpty is a pings key with neither url nor urls.
var errPingsEmpty = errors.New("pings: give url (a pattern with {host} and {job}) or urls (per host or host@job)")
