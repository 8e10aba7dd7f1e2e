package status

import (
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/schedule"
)

func TestJobKeys(t *testing.T) {
	for _, tc := range []struct {
		host, job, key string
	}{
		{"db", "", "db"},
		{"db", "files", "jobs/db@files"},
		{"db.golemtrust.am", "pg_dump-1", "jobs/db.golemtrust.am@pg_dump-1"},
		{RestoreTestKey, "weekly", "jobs/restore-test@weekly"},
	} {
		if got := Key(tc.host, tc.job); got != tc.key {
			t.Errorf("Key(%q, %q) = %q, want %q", tc.host, tc.job, got, tc.key)
		}
		if tc.job == "" {
			continue
		}
		h, j, err := SplitJobName(strings.TrimPrefix(tc.key, JobsFolder+"/"))
		if err != nil || h != tc.host || j != tc.job {
			t.Errorf("SplitJobName(%q) = %q, %q, %v", tc.key, h, j, err)
		}
	}
	for _, bad := range []string{"db", "db@", "@files", "db@files/", "d b@files", "db@fi/les", "db@fi@les", "-db@x", "db@" + strings.Repeat("a", 64)} {
		if h, j, err := SplitJobName(bad); err == nil {
			t.Errorf("SplitJobName(%q) = %q, %q, want an error", bad, h, j)
		}
	}
}

func TestValidateJob(t *testing.T) {
	for _, tc := range []struct {
		job, err string
	}{
		{"files", ""},
		{"pg_dump", ""},
		{"weekly.image", ""},
		{"restore-test", ""}, // reserved for hosts only
		{"", "job name is empty"},
		{"a b", `job name "a b": character ' ' is not allowed`},
		{"x@y", `job name "x@y": character '@' is not allowed`},
		{"a/b", `job name "a/b": character '/' is not allowed`},
		{"-x", `job name "-x": a label starts or ends with '-'`},
		{strings.Repeat("a", 254), "job name is 254 characters long, more than 253"},
	} {
		err := ValidateJob(tc.job)
		if got := errString(err); !strings.HasPrefix(got, tc.err) || (tc.err == "") != (err == nil) {
			t.Errorf("ValidateJob(%q) = %q, want %q", tc.job, got, tc.err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestApplySchedule(t *testing.T) {
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	hourly, _ := schedule.Interval(time.Hour, 10*time.Minute)
	nightly, _ := schedule.Cron("0 3 * * *", "Europe/Berlin", -1)

	doc, _ := Apply(nil, Result{Host: "db", Job: "files", Outcome: Success, At: at, Schedule: &hourly})
	want := map[string]string{FieldSchedule: "1h", FieldGraceSeconds: "600", FieldStatus: Success}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("after an hourly result: %s = %v, want %q", k, doc[k], v)
		}
	}
	if _, ok := doc[FieldScheduleTZ]; ok {
		t.Errorf("an interval has no time zone: %v", doc)
	}
	// A newer result with another schedule replaces it.
	doc, _ = Apply(doc, Result{Host: "db", Outcome: Success, At: at.Add(time.Minute), Schedule: &nightly})
	if doc[FieldSchedule] != "0 3 * * *" || doc[FieldScheduleTZ] != "Europe/Berlin" || doc[FieldGraceSeconds] != "3600" {
		t.Errorf("after a cron result: %v", doc)
	}
	// An older result replayed late does not bring its schedule back.
	doc, _ = Apply(doc, Result{Host: "db", Outcome: Failed, At: at.Add(-time.Hour), Schedule: &hourly})
	if doc[FieldSchedule] != "0 3 * * *" {
		t.Errorf("an older result replaced the schedule: %v", doc)
	}
	// A result without a schedule keeps the recorded one.
	doc, _ = Apply(doc, Result{Host: "db", Outcome: Success, At: at.Add(2 * time.Minute)})
	if doc[FieldSchedule] != "0 3 * * *" {
		t.Errorf("a result without a schedule removed it: %v", doc)
	}
	// The start of a run records the schedule too.
	doc, _ = Apply(doc, Result{Host: "db", At: at.Add(3 * time.Minute), Schedule: &hourly})
	if doc[FieldSchedule] != "1h" {
		t.Errorf("an attempt did not record its schedule: %v", doc)
	}
	r := Parse("db", doc)
	if r.RecordedSchedule == nil || r.Schedule.String() != "every 1h, grace 10m" || r.ScheduleFrom != ScheduleFromRecord {
		t.Errorf("read back: %+v", r)
	}
}

func TestParseSchedule(t *testing.T) {
	base := map[string]any{FieldStatus: "success", FieldLastSuccess: "2026-11-25T03:00:00+00:00"}
	for _, tc := range []struct {
		name    string
		fields  map[string]any
		want    string // Schedule.String()
		problem string
	}{
		{"none: the runbook's", nil, "every 1d", ""},
		{"interval", map[string]any{FieldSchedule: "7d", FieldGraceSeconds: "21600"}, "every 1w, grace 6h", ""},
		{"cron without grace_seconds gets the default", map[string]any{FieldSchedule: "30 2 * * 0", FieldScheduleTZ: "Europe/Berlin"}, "cron 30 2 * * 0 Europe/Berlin, grace 1h", ""},
		{"grace as a number", map[string]any{FieldSchedule: "1h", FieldGraceSeconds: 60.0}, "every 1h, grace 1m", ""},
		{"bad cron", map[string]any{FieldSchedule: "0 3 * *"}, "every 1d", "schedule: cron expression"},
		{"zero interval", map[string]any{FieldSchedule: "0s"}, "every 1d", "schedule: interval 0s: must be positive"},
		{"grace over a year", map[string]any{FieldSchedule: "1h", FieldGraceSeconds: "99999999"}, "every 1d", "grace_seconds: 9.9999999e+07 is not between 0 and 2764800 (32 days)"},
		{"unknown zone", map[string]any{FieldSchedule: "@daily", FieldScheduleTZ: "Nowhere/City"}, "every 1d", `schedule: time zone "Nowhere/City"`},
		{"huge", map[string]any{FieldSchedule: strings.Repeat("* ", 100000)}, "every 1d", "schedule: cron expression is longer"},
		{"wrong type", map[string]any{FieldSchedule: []any{"1h"}}, "every 1d", "schedule: unexpected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := map[string]any{}
			for k, v := range base {
				data[k] = v
			}
			for k, v := range tc.fields {
				data[k] = v
			}
			r := Parse("db", data)
			if got := r.Schedule.String(); got != tc.want {
				t.Errorf("schedule %q, want %q", got, tc.want)
			}
			got := strings.Join(r.Problems, "; ")
			if (tc.problem == "") != (got == "") || !strings.Contains(got, tc.problem) {
				t.Errorf("problems %q, want %q", got, tc.problem)
			}
		})
	}
}

func TestDeadlineAndRunning(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	weekly, _ := schedule.Interval(7*24*time.Hour, 0)
	for _, tc := range []struct {
		name             string
		r                Record
		deadline, runEnd time.Time
	}{
		{"runbook host", Record{LastSuccess: now.Add(-time.Hour)}, now.Add(23 * time.Hour), time.Time{}},
		{"weekly job", Record{LastSuccess: now.Add(-time.Hour), Schedule: weekly}, now.Add(167 * time.Hour), time.Time{}},
		{"never succeeded", Record{LastFailure: now.Add(-time.Hour)}, time.Time{}, time.Time{}},
		{"first run in progress", Record{LastAttempt: now.Add(-time.Hour)}, now.Add(23 * time.Hour), now.Add(23 * time.Hour)},
		{"running after a success", Record{LastSuccess: now.Add(-25 * time.Hour), LastAttempt: now.Add(-time.Hour), Schedule: weekly}, now.Add(143 * time.Hour), now.Add(167 * time.Hour)},
		{"success in the far future counts as never", Record{LastSuccess: now.Add(48 * time.Hour)}, time.Time{}, time.Time{}},
	} {
		if got := tc.r.Deadline(now); !got.Equal(tc.deadline) {
			t.Errorf("%s: deadline %s, want %s", tc.name, got, tc.deadline)
		}
		if got := tc.r.RunDeadline(); !got.Equal(tc.runEnd) {
			t.Errorf("%s: run deadline %s, want %s", tc.name, got, tc.runEnd)
		}
	}
}
