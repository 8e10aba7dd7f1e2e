package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatusRestoreTestOverdue is issue 16's smaller item: `status` and the
// alerts agree on what is a problem. RestoreTestOverdue fires for a restore
// test more than 90 days old or none recorded at all (and for a job's
// restore test more than 90 days old), so status exits 3 for them too,
// unless it is narrowed to named hosts (as for a failed restore test).
func TestStatusRestoreTestOverdue(t *testing.T) {
	dir := t.TempDir()
	store := func(name string, rts ...[]string) string {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		s := "--store.dir=" + d
		if code, _, errOut := cli(t, s, "record", "--status=success", "--host=db"); code != exitOK {
			t.Fatalf("record: exit %d: %s", code, errOut)
		}
		for _, rt := range rts {
			args := append([]string{s, "restore-test", "record", "--result=passed", "--host-tested=db", "--time-to-restore=4m"}, rt...)
			if code, _, errOut := cli(t, args...); code != exitOK {
				t.Fatalf("%v: exit %d: %s", args, code, errOut)
			}
		}
		return s
	}
	at := func(d time.Duration) string { return "--at=" + time.Now().Add(-d).UTC().Format(time.RFC3339) }
	day := 24 * time.Hour
	recent := store("recent", []string{at(89 * day)})
	none := store("none")
	old := store("old", []string{at(91 * day)})
	oldJob := store("old-job", []string{at(day)}, []string{"--job=weekly", at(91 * day)})
	for _, tc := range []struct {
		name string
		args []string
		want int
		out  string
	}{
		{"89 days old", []string{recent, "status"}, exitOK, "restore test: passed"},
		{"none recorded", []string{none, "status"}, exitUnhealthy, "restore test: none recorded"},
		{"91 days old", []string{old, "status"}, exitUnhealthy, "restore test: passed"},
		{"a job's 91 days old", []string{oldJob, "status"}, exitUnhealthy, "weekly"},
		{"none recorded, one host asked for", []string{none, "status", "--host=db"}, exitOK, "db    success"},
		{"91 days old, json", []string{old, "status", "-o", "json"}, exitUnhealthy, `"overdue": true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, tc.args...)
			if code != tc.want || !strings.Contains(out, tc.out) {
				t.Errorf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tc.want, tc.out, out, errOut)
			}
		})
	}
}
