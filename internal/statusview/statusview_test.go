package statusview

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func passedTest(age time.Duration) *status.RestoreTest {
	return &status.RestoreTest{LastTest: now.Add(-age), Result: status.Passed, HostTested: "db"}
}

func ok(host string) status.Record {
	return status.Record{Host: host, Status: status.Success, LastSuccess: now.Add(-time.Hour)}
}

// TestUnhealthy: the view is a problem exactly when the alerts would say
// so: a host failed, overdue or unknown, a restore test failed, overdue
// or never recorded (not when narrowed to named hosts), no hosts at all.
func TestUnhealthy(t *testing.T) {
	failed := ok("web")
	failed.Status, failed.LastFailure = status.Failed, now.Add(-time.Minute)
	old := ok("auth")
	old.LastSuccess = now.Add(-25 * time.Hour)
	for _, tc := range []struct {
		name     string
		snap     fleet.Snapshot
		narrowed bool
		want     string // a part of the reason; "" for healthy
	}{
		{"all well", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("db")}...), RestoreTest: passedTest(24 * time.Hour)}, false, ""},
		{"no hosts", fleet.Snapshot{RestoreTest: passedTest(time.Hour)}, false, "no hosts"},
		{"a host failed", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("db"), failed}...), RestoreTest: passedTest(time.Hour)}, false, "web is failed"},
		{"a host overdue", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{old}...), RestoreTest: passedTest(time.Hour)}, false, "auth is success, overdue"},
		{"no restore test", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("db")}...)}, false, "no restore test"},
		{"restore test 91 days old", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("db")}...), RestoreTest: passedTest(91 * 24 * time.Hour)}, false, "passed, overdue"},
		{"restore test failed", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("db")}...), RestoreTest: &status.RestoreTest{LastTest: now, Result: status.Failed}}, false, "is failed"},
		{"narrowed: the restore test does not count", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("db")}...)}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Unhealthy(Build(&tc.snap, 0, now), tc.narrowed)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("Unhealthy = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBuildOrderAndTable: rows sorted by host then job, jobs after their
// host's record; never-succeeded hosts are overdue and shown "never".
func TestBuildOrderAndTable(t *testing.T) {
	never := status.Record{Host: "auth", Status: status.Unknown, NoRecord: true}
	job := ok("auth")
	job.Job = "pg"
	snap := &fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("db"), never}...), Jobs: fleet.RecordsOf([]status.Record{job}...), RestoreTest: passedTest(time.Hour)}
	rep := Build(snap, 0, now)
	var names []string
	for _, r := range rep.Hosts {
		names = append(names, r.Host+"@"+r.Job)
	}
	if got, want := strings.Join(names, " "), "auth@ auth@pg db@"; got != want {
		t.Errorf("rows %s, want %s", got, want)
	}
	if !rep.Hosts[0].Overdue || rep.Hosts[0].AgeSeconds != nil {
		t.Errorf("a host never recorded: %+v, want overdue with no age", rep.Hosts[0])
	}
	var b bytes.Buffer
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"HOST", "auth@pg", "unknown (overdue)", "never", "restore test: passed on db"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
