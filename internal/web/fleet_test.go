package web

import (
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
)

// realisticFleet is what a newcomer's fleet looks like after a week: ok,
// failed, overdue (amber and red), an expected host that never reported,
// a host judged by a 12-hourly schedule, jobs on hourly, daily and weekly
// schedules (one failed, one running its first backup), a malformed
// record, a failed restore test, a failed host paused for maintenance, a
// paused job and a host that flaps (flapHistory is its stored history).
func realisticFleet(t *testing.T) *fleet.Snapshot {
	t.Helper()
	every := func(d, grace time.Duration) schedule.Schedule {
		s, err := schedule.Interval(d, grace)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hourly, twiceDaily := every(time.Hour, 0), every(12*time.Hour, time.Hour)
	daily, weekly := every(24*time.Hour, 2*time.Hour), every(7*24*time.Hour, 6*time.Hour)
	scheduled := func(r status.Record, s schedule.Schedule, from string) status.Record {
		r.Schedule, r.ScheduleFrom = s, from
		return r
	}
	mins := 47.0
	return &fleet.Snapshot{
		Listed:      true,
		LastSuccess: ago(20 * time.Second),
		Hosts: fleet.RecordsOf([]status.Record{
			{Host: "auth", Status: status.Success, LastSuccess: ago(2 * time.Hour)},
			scheduled(status.Record{Host: "ci", Status: status.Failed, LastSuccess: ago(70 * time.Minute), LastFailure: ago(10 * time.Minute), ExitCode: i64(1),
				ConsecutiveFailures: i64(1), Message: "unable to create lock in backend: repository is already locked by PID 991 on nas"}, hourly, status.ScheduleFromRecord),
			{Host: "db", Status: status.Failed, LastSuccess: ago(26 * time.Hour), LastFailure: ago(time.Hour), ExitCode: i64(3),
				ConsecutiveFailures: i64(2), Message: "Fatal: unable to open config file: Stat: 403 Forbidden"},
			{Host: "graylog-1", Status: status.Success, LastSuccess: ago(30 * time.Hour)},
			{Host: "graylog-2", Status: status.Success, LastSuccess: ago(4 * 24 * time.Hour)},
			scheduled(status.Record{Host: "mail", Status: status.Success, LastSuccess: ago(15 * time.Hour)}, twiceDaily, status.ScheduleFromConfig),
			{Host: "legacy", Status: status.Unknown, Problems: []string{"read legacy: malformed record: not a JSON object: invalid character 'x' looking for beginning of value"}},
			{Host: "nas", Status: status.Failed, LastSuccess: ago(30 * time.Hour), LastFailure: ago(2 * time.Hour), ExitCode: i64(1),
				ConsecutiveFailures: i64(2), Message: "Fatal: unable to open repository: dial tcp 10.0.0.5:8000: connect: no route to host"},
			{Host: "new-host", Status: status.Unknown, NoRecord: true, Problems: []string{"no record"}},
			{Host: "web-1", Status: status.Success, LastSuccess: ago(20 * time.Minute)},
			{Host: "web-2", Status: status.Success, LastSuccess: ago(3 * time.Hour), LastFailure: ago(27 * time.Hour)},
		}...),
		Jobs: fleet.RecordsOf([]status.Record{
			scheduled(status.Record{Host: "db", Job: "files", Status: status.Success, LastSuccess: ago(40 * time.Minute)}, hourly, status.ScheduleFromRecord),
			scheduled(status.Record{Host: "db", Job: "image", Status: status.Success, LastSuccess: ago(3 * 24 * time.Hour)}, weekly, status.ScheduleFromRecord),
			scheduled(status.Record{Host: "web-1", Job: "uploads", Status: status.Failed, LastSuccess: ago(2 * time.Hour), LastFailure: ago(5 * time.Minute), ExitCode: i64(1), Message: "unable to lock repository"}, hourly, status.ScheduleFromRecord),
			scheduled(status.Record{Host: "web-2", Job: "nightly", Status: status.Unknown, LastAttempt: ago(5 * time.Minute)}, daily, status.ScheduleFromRecord),
		}...),
		Pauses: []status.Pause{
			{Host: "nas", Until: testNow.Add(5 * time.Hour), Reason: "disk replacement in the NAS, ticket OPS-1234"},
			{Host: "db", Job: "image", Until: testNow.Add(3 * 24 * time.Hour), Reason: "image job moved to the new hypervisor"},
		},
		RestoreTest: &status.RestoreTest{LastTest: ago(3 * 24 * time.Hour), Result: status.Failed, HostTested: "db", TimeToRestoreMinutes: &mins,
			Notes: "missing after restore: /var/lib/postgresql/16/main/pg_wal"},
	}
}
