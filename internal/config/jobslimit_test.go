package config

import (
	"strings"
	"testing"
)

func TestMaxJobsPerHost(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want int
		err  string
	}{
		{"", DefaultMaxJobsPerHost, ""},
		{"hosts: [db]\n", DefaultMaxJobsPerHost, ""},
		{"max_jobs_per_host: 5\n", 5, ""},
		{"max_jobs_per_host: 0\n", 0, ""},
		{"max_jobs_per_host: -1\n", 0, "max_jobs_per_host: -1"},
		{"max_jobs_per_host: many\n", 0, "cannot unmarshal"},
	} {
		c, err := Parse([]byte(tc.yaml))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err %v, want %q", tc.yaml, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.err == "" && c.JobsLimit() != tc.want:
			t.Errorf("%q: limit %d, want %d", tc.yaml, c.JobsLimit(), tc.want)
		}
	}
}
