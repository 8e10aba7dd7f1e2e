package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/restic"
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

// TestRestoreTestSkipsIncomplete: restic marks no snapshot incomplete in
// the repository (0.14 and 0.19 alike), so run's record of an exit 3 beside
// the snapshot id is what restore-test run goes by: it tests the snapshot
// before, unless --allow-incomplete.
func TestRestoreTestSkipsIncomplete(t *testing.T) {
	repo, env, src := backedUp(t)
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok && strings.HasPrefix(k, "RESTIC_") {
			t.Setenv(k, v)
		}
	}
	t.Setenv("TMPDIR", t.TempDir())
	current := parts.CurrentPath(t, "restic") // exits 3 for a missing source path; 0.14 exits 0
	store := "--store.dir=" + filepath.Join(t.TempDir(), "records")
	code, _, errOut := cli(t, store, "run", "--host=db.golemtrust.am", "--", current, "backup", "--json", "--host", "db.golemtrust.am", src, filepath.Join(src, "no-such-path"))
	if code != 3 {
		t.Fatalf("run: exit %d, want 3: %s", code, errOut)
	}
	snaps, err := restic.Repo{Binary: current, Repository: repo}.Snapshots(t.Context(), "")
	if err != nil || len(snaps) != 2 {
		t.Fatalf("snapshots: %v, %v", snaps, err)
	}
	older, newest := snaps[0].ShortID, snaps[1].ShortID
	notes := func(args ...string) string {
		t.Helper()
		code, _, errOut := cli(t, append([]string{store, "restore-test", "run", "--repo=" + repo, "--snapshot.host=db.golemtrust.am"}, args...)...)
		if code != exitOK {
			t.Fatalf("restore-test run %v: exit %d: %s", args, code, errOut)
		}
		return hostNotes(t, store)
	}
	if got := notes(); !strings.Contains(got, "snapshot "+older) {
		t.Errorf("without --allow-incomplete: %q, want snapshot %s (not the incomplete %s)", got, older, newest)
	}
	if got := notes("--allow-incomplete"); !strings.Contains(got, "snapshot "+newest) {
		t.Errorf("with --allow-incomplete: %q, want snapshot %s", got, newest)
	}
}

func hostNotes(t *testing.T, store string) string {
	t.Helper()
	dir := strings.TrimPrefix(store, "--store.dir=")
	b, err := os.ReadFile(filepath.Join(dir, "checks", "restore-test", "db.golemtrust.am.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(b, &doc)
	s, _ := doc["notes"].(string)
	return s
}
