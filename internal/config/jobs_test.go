package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/status"
)

func TestLoadJobs(t *testing.T) {
	c, err := Load("testdata/jobs.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(c.Hosts, " "), "auth db fileserver"; got != want {
		t.Errorf("hosts = %q, want %q", got, want)
	}
	if got, want := fmt.Sprint(c.Jobs), "[db job files db job pg_dump fileserver job image]"; got != want {
		t.Errorf("jobs = %s, want %s", got, want)
	}
	for _, tc := range []struct {
		host, job, want string
	}{
		{"auth", "", ""}, // nothing set: the record's own, or the runbook's
		{"db", "files", "every 1h, grace 15m"},
		{"db", "pg_dump", "cron 0 3 * * * Europe/Berlin, grace 1h"},
		{"db", "", ""},
		{"fileserver", "", "every 1w, grace 6h"},
		{"fileserver", "image", "cron 0 4 1 * * UTC, grace 1h"}, // the entry names no schedule: the rule's
		{"graylog-2", "", "every 12h"},
		{"graylog-2", "syslog", "every 12h"}, // an omitted job pattern matches every job
		{"web", "monthly-image", "cron @monthly UTC, grace 1d"},
		{"web", "weekly", ""},
		{"db", "monthly-x", "cron @monthly UTC, grace 1d"},
	} {
		s, ok := c.Schedule(tc.host, tc.job)
		got := ""
		if ok {
			got = s.String()
		}
		if got != tc.want {
			t.Errorf("Schedule(%s) = %q, want %q", status.Name(tc.host, tc.job), got, tc.want)
		}
	}
	var none *Config
	if _, ok := none.Schedule("db", ""); ok {
		t.Error("a nil config sets a schedule")
	}
}

func TestParseJobs(t *testing.T) {
	for _, tc := range []struct {
		name, in, wantErr string
	}{
		{"old and new forms together", "hosts:\n  - a\n  - name: b\n    jobs: [{name: x, every: 1h}]\n", ""},
		{"typo in an entry", "hosts:\n  - name: b\n    evrey: 1h\n", "field evrey not found"},
		{"typo in a job", "hosts:\n  - name: b\n    jobs: [{name: x, cronn: '@daily'}]\n", "field cronn not found"},
		{"typo in a rule", "schedules:\n  - hots: a\n    every: 1h\n", "field hots not found"},
		{"entry without a name", "hosts:\n  - every: 1h\n", "hosts[0]: host name is empty"},
		{"host twice, two forms", "hosts:\n  - a\n  - name: a\n", `"a" is listed twice`},
		{"job twice", "hosts:\n  - name: a\n    jobs: [{name: x}, {name: x}]\n", `job "x" of a is listed twice`},
		{"bad job name", "hosts:\n  - name: a\n    jobs: [{name: 'x y'}]\n", `hosts[0].jobs[0]: job name "x y"`},
		{"zero interval", "hosts:\n  - name: a\n    every: 0s\n", "hosts[0] (a): interval 0s: must be positive"},
		{"negative interval", "schedules:\n  - every: -1h\n", "schedules[0]: interval -1h: must be positive"},
		{"bad cron", "schedules:\n  - cron: '0 3 * *'\n", `schedules[0]: cron expression "0 3 * *"`},
		{"bad zone", "schedules:\n  - cron: '@daily'\n    tz: Mars/Base\n", `time zone "Mars/Base"`},
		{"tz with every", "schedules:\n  - every: 1h\n    tz: UTC\n", "tz: a time zone is for a cron schedule"},
		{"both", "schedules:\n  - every: 1h\n    cron: '@daily'\n", "every and cron: give one of them"},
		{"neither", "schedules:\n  - host: a\n", "a schedule needs every or cron"},
		{"grace over a year", "schedules:\n  - every: 1h\n    grace: 400d\n", "grace 400d: longer than 32 days"},
		{"negative grace", "schedules:\n  - every: 1h\n    grace: -1m\n", "grace -1m: must not be negative"},
		{"bad pattern", "schedules:\n  - host: '[a'\n    every: 1h\n", `schedules[0]: host pattern "[a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Parse error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
