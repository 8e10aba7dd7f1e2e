package fleet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
)

type central map[status.JobID]schedule.Schedule

func (c central) Schedule(host, job string) (schedule.Schedule, bool) {
	s, ok := c[status.JobID{Host: host, Job: job}]
	return s, ok
}

func describe(rs []status.Record) string {
	var out []string
	for _, r := range rs {
		out = append(out, status.Name(r.Host, r.Job)+"="+r.Status+" ("+r.Schedule.String()+" "+r.ScheduleFrom+")")
	}
	return strings.Join(out, ", ")
}

func TestJobs(t *testing.T) {
	dir := t.TempDir()
	s, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := status.FormatTime(time.Now())
	write(t, s, "db", map[string]any{"status": "success", "last_success": now})
	write(t, s, status.Key("db", "files"), map[string]any{"status": "success", "last_success": now, "schedule": "1h", "grace_seconds": "600"})
	write(t, s, status.Key("db", "image"), map[string]any{"status": "failed", "schedule": "@weekly"})
	write(t, s, status.Key("web", "dump"), map[string]any{"status": "success", "last_success": now, "schedule": "0 3 * *"})
	write(t, s, status.Key(status.RestoreTestKey, "monthly"), map[string]any{"result": "passed", "last_test": now})
	// Names under jobs/ that are not <host>@<job>: store problems, never hosts.
	for _, name := range []string{"nojob.json", "bad host@x.json", "restore-test.json"} {
		if err := os.WriteFile(filepath.Join(dir, status.JobsFolder, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	daily, _ := schedule.Interval(24*time.Hour, time.Hour)
	opts := Options{
		Expected:  []string{"auth"},
		Jobs:      []status.JobID{{Host: "db", Job: "files"}, {Host: "auth", Job: "ldap"}},
		Schedules: central{{Host: "db", Job: "image"}: daily},
	}
	snap := Load(context.Background(), s, opts, nil)
	if snap.Err != nil {
		t.Fatal(snap.Err)
	}
	if got, want := hosts(snap), "db=success"; got != want {
		t.Errorf("hosts %s, want %s (jobs are not hosts; web has jobs only; auth, expected, reports through its job)", got, want)
	}
	want := "auth job ldap=unknown (every 1d ), " +
		"db job files=success (every 1h, grace 10m record), " +
		"db job image=failed (every 1d, grace 1h config), " +
		"web job dump=success (every 1d )"
	if got := describe(snap.Jobs.Slice()); got != want {
		t.Errorf("jobs\n got %s\nwant %s", got, want)
	}
	if !snap.Jobs.At(0).NoRecord {
		t.Errorf("an expected job without a record is not marked as such: %+v", snap.Jobs.At(0))
	}
	if p := strings.Join(snap.Jobs.At(3).Problems, "; "); !strings.Contains(p, "schedule: cron expression") {
		t.Errorf("web's unreadable schedule: problems %q", p)
	}
	if got := strings.Join(snap.Problems, "; "); strings.Count(got, "is not a job record") != 2 || !strings.Contains(got, "bad host") {
		t.Errorf("store problems %q, want the two odd names under jobs/", got)
	}
	if len(snap.RestoreTestJobs) != 1 || snap.RestoreTestJobs[0].Job != "monthly" {
		t.Errorf("restore test jobs %+v", snap.RestoreTestJobs)
	}

	// Without jobs/, nothing more is listed, and old snapshots still read.
	plain, _ := localstore.Open(t.TempDir())
	write(t, plain, "db", map[string]any{"status": "success", "last_success": now})
	if snap := Load(context.Background(), plain, Options{}, nil); snap.Jobs.Len() != 0 || len(snap.Problems) != 0 || hosts(snap) != "db=success" {
		t.Errorf("a store without jobs: %+v", snap)
	}
}
