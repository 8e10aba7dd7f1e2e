package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreTestPerHost: record and run --host-tested write the runbook's
// fleet record as before and one record per tested host under the checks
// folder; run --pick oldest tests the repository's host never tested,
// then the one tested longest ago.
func TestRestoreTestPerHost(t *testing.T) {
	repo, env, src := backedUp(t)
	cmd := exec.Command("restic", "backup", "--host", "web", src)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restic backup: %v: %s", err, out)
	}
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok && strings.HasPrefix(k, "RESTIC_") {
			t.Setenv(k, v)
		}
	}
	t.Setenv("TMPDIR", t.TempDir())
	dir := t.TempDir()
	store := "--store.dir=" + filepath.Join(dir, "records")
	hostRecord := func(h string) map[string]any {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "records", "checks", "restore-test", h+".json"))
		if err != nil {
			t.Fatalf("no restore test record of %s: %v", h, err)
		}
		var doc map[string]any
		json.Unmarshal(b, &doc)
		return doc
	}

	yesterday := "--at=2026-11-30T09:00:00+00:00"
	if code, _, errOut := cli(t, store, "restore-test", "record", "--result=passed", "--host-tested=web", "--time-to-restore=3m", yesterday); code != exitOK {
		t.Fatalf("record: exit %d: %s", code, errOut)
	}
	if got := hostRecord("web"); got["result"] != "passed" || got["last_test"] != "2026-11-30T09:00:00+00:00" {
		t.Errorf("web's record: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "records", "restore-test.json")); err != nil {
		t.Errorf("the runbook's restore-test record: %v", err)
	}

	for i, want := range []string{"db.golemtrust.am", "web"} {
		code, _, errOut := cli(t, store, "restore-test", "run", "--repo="+repo, "--pick=oldest")
		if code != exitOK {
			t.Fatalf("run %d: exit %d: %s", i+1, code, errOut)
		}
		if !strings.Contains(errOut, `host=`+want) {
			t.Errorf("run %d picked another host than %s:\n%s", i+1, want, errOut)
		}
		if got := hostRecord(want); got["result"] != "passed" || got["host_tested"] != want {
			t.Errorf("run %d: %s's record: %v", i+1, want, got)
		}
	}
	if code, _, errOut := cli(t, store, "restore-test", "run", "--repo="+repo, "--pick=oldest", "--snapshot.host=web"); code != exitUsage {
		t.Errorf("--pick with --snapshot.host: exit %d, want 2: %s", code, errOut)
	}
}
