package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScheduleBoundsRefused is issue 16's items 2 and 9 at the command
// line: a schedule the record cannot hold (sub-millisecond, written as
// "0s" and rejected by every reader; --every 999us made `run` lose its
// result during an outage), one longer than the longest schedule watched,
// and a cron expression that fires less often are usage errors of record,
// run and check, and nothing is written or run.
func TestScheduleBoundsRefused(t *testing.T) {
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "records")
	spoolDir := filepath.Join(dir, "spool")
	marker := filepath.Join(dir, "ran")
	base := []string{"--store.dir=" + storeDir, "--spool.dir=" + spoolDir}
	record := []string{"record", "--status=success", "--host=db"}
	run := []string{"run", "--host=db", "--log.file=", "--lock.file=" + filepath.Join(dir, "lock")}
	config := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(record, "--every=1ns"), "--every: interval 1ns: shorter than 1m"},
		{append(record, "--every=999us"), "--every: interval 999µs: shorter than 1m"},
		{append(record, "--every=731d"), "--every: interval 731d: longer than 32 days"},
		{append(record, "--cron=0 0 29 2 *"), `--cron: cron expression "0 0 29 2 *": goes`},
		{append(record, "--cron=@yearly"), `--cron: cron expression "@yearly": goes`},
		{append(append(run, "--every=999us", "--"), "touch", marker), "--every: interval 999µs: shorter than 1m"},
		{append(append(run, "--cron=0 0 29 2 *", "--"), "touch", marker), `cron expression "0 0 29 2 *": goes`},
		{[]string{"check", "--config.file=" + config("ns.yml", "schedules:\n  - every: 1ns\n")}, "schedules[0]: interval 1ns: shorter than 1m"},
		{[]string{"check", "--config.file=" + config("years.yml", "hosts:\n  - name: db\n    every: 731d\n")}, "interval 731d: longer than 32 days"},
		{[]string{"check", "--config.file=" + config("leap.yml", "hosts:\n  - name: db\n    jobs: [{name: x, cron: '0 0 29 2 *'}]\n")}, `cron expression "0 0 29 2 *": goes`},
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
