package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// testJobsLimit: with --jobs.max-per-host=3, a host's fourth job is
// refused at once (exit 2, nothing written, a message saying what to do),
// its existing jobs and other hosts' still record, and a forgotten job
// makes room.
func testJobsLimit(t *testing.T, global []string) {
	t.Helper()
	limited := append(global, "--jobs.max-per-host=3")
	rec := func(host, job string) (int, string) {
		t.Helper()
		code, _, errOut := cli(t, append(limited, "record", "--status=success", "--host="+host, "--job="+job)...)
		return code, errOut
	}
	for _, j := range []string{"a", "b", "c"} {
		if code, errOut := rec("db", j); code != exitOK {
			t.Fatalf("job %s: exit %d: %s", j, code, errOut)
		}
	}
	code, errOut := rec("db", "d")
	if code != exitUsage || !strings.Contains(errOut, "host db has 3 jobs already") || !strings.Contains(errOut, "forget") {
		t.Errorf("a fourth job: exit %d, %q; want %d saying why and what to do", code, errOut, exitUsage)
	}
	if _, out, _ := cli(t, append(global, "status")...); strings.Contains(out, "db@d") || !strings.Contains(out, "db@c") {
		t.Errorf("the refused job was written, or the others not:\n%s", out)
	}
	// run still runs the backup (it protects the data), and says it was
	// not recorded, as record does.
	marker := filepath.Join(t.TempDir(), "ran")
	code, _, errOut = cli(t, append(limited, "run", "--host=db", "--job=d", "--log.file=", "--lock.file="+filepath.Join(t.TempDir(), "d.lock"), "--", "touch", marker)...)
	if _, err := os.Stat(marker); err != nil || code != exitUsage || !strings.Contains(errOut, "host db has 3 jobs already") {
		t.Errorf("run of a fourth job: exit %d (ran: %v), %q; want the backup run and exit %d", code, err == nil, errOut, exitUsage)
	}
	for _, tc := range [][2]string{{"db", "a"}, {"web", "a"}, {"db", ""}} {
		args := append(limited, "record", "--status=failed", "--host="+tc[0])
		if tc[1] != "" {
			args = append(args, "--job="+tc[1])
		}
		if code, _, errOut := cli(t, args...); code != exitOK {
			t.Errorf("%v at the limit: exit %d: %s", tc, code, errOut)
		}
	}
	if code, _, errOut := cli(t, append(global, "forget", "--host=db", "--job=c")...); code != exitOK {
		t.Fatalf("forget: exit %d: %s", code, errOut)
	}
	if code, errOut := rec("db", "d"); code != exitOK {
		t.Errorf("a new job once one is forgotten: exit %d: %s", code, errOut)
	}
	if code, errOut := rec("db", "e"); code != exitUsage {
		t.Errorf("a fifth job: exit %d, want %d: %s", code, exitUsage, errOut)
	}

	// Jobs beyond the limit written otherwise (here: no limit) are
	// exported, and counted by serve against its config's limit.
	for _, j := range []string{"f", "g"} {
		if code, _, errOut := cli(t, append(global, "--jobs.max-per-host=0", "record", "--status=failed", "--host=db", "--job="+j)...); code != exitOK {
			t.Fatalf("job %s without a limit: exit %d: %s", j, code, errOut)
		}
	}
	cfg := filepath.Join(t.TempDir(), "backupwatch.yml")
	if err := os.WriteFile(cfg, []byte("max_jobs_per_host: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, global, "--config.file="+cfg)
	s := e.waitFor(t, "the first refresh", storeUp(1))
	if v, _ := s.value("backupwatch_jobs_over_limit", "host", "db"); v != 2 {
		t.Errorf("backupwatch_jobs_over_limit{host=db} = %v, want 2 (a, b, d, f, g against 3)", v)
	}
	if _, ok := s.value("backupwatch_jobs_over_limit", "host", "web"); ok {
		t.Errorf("web, within the limit, has a backupwatch_jobs_over_limit series")
	}
	if v, ok := s.value("backup_status", "host", "db", "backup_job", "g", "status", "failed"); !ok || v != 1 {
		t.Errorf("a job beyond the limit is not exported: never hide a result")
	}
}

func TestJobsLimitLocal(t *testing.T) {
	testJobsLimit(t, []string{"--store.dir=" + t.TempDir()})
}

// TestJobsLimitVault: Vault lists every host's jobs at once, too costly
// per record; the jobs this machine recorded are counted, and one
// recorded before (or elsewhere) is still known as existing.
func TestJobsLimitVault(t *testing.T) {
	v := vaulttest.Start(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	t.Setenv("BACKUPWATCH_SPOOL_DIR", t.TempDir())
	testJobsLimit(t, []string{"--vault.address=" + v.Addr})
}
