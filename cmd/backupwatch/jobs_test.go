package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/statusview"
)

// TestJobsBadInput: a bad job name or schedule is exit 2 with one line,
// and nothing is written (the store is not even created) or run.
func TestJobsBadInput(t *testing.T) {
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "records")
	spoolDir := filepath.Join(dir, "spool")
	marker := filepath.Join(dir, "ran")
	base := []string{"--store.dir=" + storeDir, "--spool.dir=" + spoolDir}
	record := []string{"record", "--status=success", "--host=db"}
	run := []string{"run", "--host=db", "--log.file=", "--lock.file=" + filepath.Join(dir, "lock")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(record, "--job="), "--job: job name is empty"},
		{append(record, "--job=a b"), `--job: job name "a b": character ' ' is not allowed`},
		{append(record, "--job=../x"), `--job: job name "../x"`},
		{append(record, "--job=x@y"), `character '@' is not allowed`},
		{append(record, "--every=0"), "--every: interval 0s: must be positive"},
		{append(record, "--every=-1h"), "--every: interval -1h: must be positive"},
		{append(record, "--every=often"), "--every: not a duration"},
		{append(record, "--cron=0 3 * *"), `--cron: cron expression "0 3 * *": expected exactly 5 fields`},
		{append(record, "--cron=0 0 31 2 *"), "never fires"},
		{append(record, "--cron=@daily", "--cron.tz=Mars/Olympus"), `--cron: time zone "Mars/Olympus"`},
		{append(record, "--cron.tz=Europe/Berlin"), "--cron.tz: only with --cron"},
		{append(record, "--every=1h", "--cron=@daily"), "--every and --cron: give one schedule"},
		{append(record, "--every=1h", "--grace=366d"), "--every: grace 366d: longer than 32 days"},
		{append(record, "--every=1d", "--grace=33d"), "--every: grace 33d: longer than 32 days"},
		{append(record, "--cron=@daily", "--grace=2y"), "--cron: grace 2y: longer than 32 days"},
		{append(record, "--grace=-5m"), "--grace -5m: must not be negative"},
		{append(append(run, "--job=a/b", "--"), "touch", marker), "--job: job name"},
		{append(append(run, "--cron=61 * * * *", "--"), "touch", marker), "--cron: cron expression"},
		{[]string{"restore-test", "record", "--result=passed", "--host-tested=db", "--time-to-restore=5m", "--job=no good"}, "--job: job name"},
		{[]string{"forget", "--host=db", "--job=no good"}, "--job: job name"},
	} {
		args := append(append([]string{}, base...), tc.args...)
		code, out, errOut := cli(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, exitUsage, out, errOut)
			continue
		}
		if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: stderr %q, want one line with %q", tc.args, errOut, tc.want)
		}
	}
	for _, p := range []string{storeDir, spoolDir, marker} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists after refused input", p)
		}
	}
}

// TestJobsRecordStatusForget: jobs recorded with their schedules, judged by
// them in status (a weekly job three days after its success is not
// overdue; the runbook's 24 h host is), and forgotten one by one or with
// their host.
func TestJobsRecordStatusForget(t *testing.T) {
	dir := t.TempDir()
	store := "--store.dir=" + dir
	ago := func(d time.Duration) string { return "--at=" + time.Now().Add(-d).UTC().Format(time.RFC3339) }
	for _, args := range [][]string{
		{store, "record", "--status=success", "--host=db", ago(2 * time.Hour)},
		{store, "record", "--status=success", "--host=db", "--job=files", "--every=1h", "--grace=10m", ago(30 * time.Minute)},
		{store, "record", "--status=success", "--host=db", "--job=image", "--every=7d", "--grace=6h", ago(72 * time.Hour)},
		{store, "record", "--status=success", "--host=web", "--job=dump", "--cron=0 3 * * *", "--cron.tz=Europe/Berlin", ago(time.Hour)},
		{store, "--spool.dir=" + filepath.Join(dir, "spool"), "run", "--host=web", "--job=files", "--every=1h", "--log.file=", "--lock.file=" + filepath.Join(dir, "lock"), "--", "true"},
		{store, "restore-test", "record", "--job=weekly", "--result=passed", "--host-tested=db", "--time-to-restore=5m"},
		// The fleet's own restore test too: without it status exits 3, as
		// RestoreTestOverdue fires ("No restore test has been recorded yet").
		{store, "restore-test", "record", "--result=passed", "--host-tested=web", "--time-to-restore=5m"},
	} {
		if code, _, errOut := cli(t, args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	code, out, errOut := cli(t, store, "status", "-o", "json")
	if code != exitOK {
		t.Fatalf("status: exit %d, want 0 (every job within its schedule)\n%s%s", code, out, errOut)
	}
	var rep statusview.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range rep.Hosts {
		got = append(got, h.Host+"@"+h.Job+" "+h.Status+" "+h.Schedule)
		if h.Overdue || h.Deadline == "" {
			t.Errorf("%s@%s: overdue %v, deadline %q", h.Host, h.Job, h.Overdue, h.Deadline)
		}
	}
	want := "db@ success every 1d|db@files success every 1h, grace 10m|db@image success every 1w, grace 6h|web@dump success cron 0 3 * * * Europe/Berlin, grace 1h|web@files success every 1h"
	if strings.Join(got, "|") != want {
		t.Errorf("rows\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	if len(rep.RestoreTestJobs) != 1 || rep.RestoreTestJobs[0].Job != "weekly" {
		t.Errorf("restore test jobs %+v", rep.RestoreTestJobs)
	}
	_, out, _ = cli(t, store, "status")
	for _, w := range []string{"db@image   success  ", "every 1w, grace 6h", "restore test weekly: passed on db"} {
		if !strings.Contains(out, w) {
			t.Errorf("status table lacks %q:\n%s", w, out)
		}
	}
	// The old rule, asked for: the weekly job's 72 h are overdue.
	if code, out, _ := cli(t, store, "status", "--max-age=24h"); code != exitUnhealthy || !strings.Contains(out, "db@image   success (overdue)") {
		t.Errorf("status --max-age=24h: exit %d, want 3 with db@image overdue:\n%s", code, out)
	}
	// The host alone, and its jobs.
	if code, out, _ := cli(t, store, "status", "--host=web"); code != exitOK || strings.Contains(out, "db") || !strings.Contains(out, "web@dump") {
		t.Errorf("status --host=web: exit %d:\n%s", code, out)
	}

	if code, _, errOut := cli(t, store, "forget", "--host=db", "--job=nope"); code != exitError || !strings.Contains(errOut, "no record of job nope of host db") {
		t.Errorf("forget of an unknown job: exit %d: %s", code, errOut)
	}
	if code, _, errOut := cli(t, store, "forget", "--host=db", "--job=files"); code != exitOK {
		t.Fatalf("forget a job: exit %d: %s", code, errOut)
	}
	if _, out, _ := cli(t, store, "status"); strings.Contains(out, "db@files") || !strings.Contains(out, "db@image") {
		t.Errorf("after forgetting db@files:\n%s", out)
	}
	if code, _, errOut := cli(t, store, "forget", "--host=db"); code != exitOK {
		t.Fatalf("forget a host: exit %d: %s", code, errOut)
	}
	if _, out, _ := cli(t, store, "status"); strings.Contains(out, "\ndb") || !strings.Contains(out, "web@files") {
		t.Errorf("after forgetting db, its jobs are gone too and web's stay:\n%s", out)
	}
}
