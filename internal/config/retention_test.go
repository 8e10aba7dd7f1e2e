package config

import (
	"strings"
	"testing"
)

// TestRetention: policies in restic's terms, the first matching rule
// applies (per job too: a job's rule before its host's); a policy that keeps nothing, a negative count, an unknown
// option and two rules for the same snapshots are refused, each saying
// where.
func TestRetention(t *testing.T) {
	c, err := Parse([]byte(`
retention:
  - {host: db1, job: wal, keep-hourly: 48}
  - {host: "db*", keep-daily: 7, keep-weekly: 4, keep-monthly: 12}
  - {repository: offsite, keep-monthly: 24}
  - {keep-last: 10}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		repo, host, job string
		want            Policy
	}{
		{"fleet", "db1", "", Policy{KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12}},
		{"fleet", "db1", "wal", Policy{KeepHourly: 48}},
		{"fleet", "db1", "dump", Policy{KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12}},
		{"offsite", "web", "", Policy{KeepMonthly: 24}},
		{"fleet", "web", "", Policy{KeepLast: 10}},
	} {
		if got, ok := c.Retention(tt.repo, tt.host, tt.job); !ok || got != tt.want {
			t.Errorf("Retention(%s, %s, %s) = %+v, %v; want %+v", tt.repo, tt.host, tt.job, got, ok, tt.want)
		}
	}
	if got := (Policy{KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12}).Kept(); got != 23 {
		t.Errorf("Kept = %d, want 23", got)
	}
	var none *Config
	if _, ok := none.Retention("fleet", "db", ""); ok {
		t.Errorf("no config: a policy")
	}

	for _, tt := range []struct{ name, doc, want string }{
		{"keeps nothing", "retention:\n  - {host: db}\n", "retention[0]: keeps nothing"},
		{"negative", "retention:\n  - {keep-daily: -1}\n", "keep-daily: -1"},
		{"unknown option", "retention:\n  - {keep-within: 7d}\n", "keep-within"},
		{"contradiction", "retention:\n  - {host: db, keep-daily: 7}\n  - {host: db, keep-daily: 30}\n", "retention[1]: the same repository, host and job as retention[0]"},
		{"bad pattern", "retention:\n  - {host: \"[\", keep-daily: 7}\n", "host pattern"},
		{"shadowed by a broader rule", "retention:\n  - {host: db, keep-daily: 7}\n  - {host: db, job: dump, keep-daily: 30}\n", "retention[1]: never applies: retention[0] before it matches every snapshot it matches"},
		{"shadowed by a catch-all", "retention:\n  - {keep-last: 10}\n  - {repository: offsite, keep-monthly: 24}\n", "retention[1]: never applies: retention[0]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}
