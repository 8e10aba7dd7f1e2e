package main

import (
	"context"
	"os/exec"
	"testing"

	"github.com/golemtrust/backupwatch/internal/status"
)

// TestRunMaintenanceJobs: restic forget --prune and restic check run as
// jobs (run --job prune -- restic forget --prune ...) are recorded as
// maintenance (kind: maintenance), with no snapshot; so is a wrapped
// command given --maintenance; the host's own backup is not. The
// restore-test rotation still picks the backed-up host: maintenance makes
// no snapshot to pick.
func TestRunMaintenanceJobs(t *testing.T) {
	repo, env, _ := backedUp(t)
	restic, err := exec.LookPath("restic")
	if err != nil {
		t.Fatal(err)
	}
	e := newRunEnv(t, nil)
	const host = "db.golemtrust.am"
	for _, tt := range []struct {
		job         string
		maintenance bool // --maintenance
		args        []string
		kind        string
	}{
		{"prune", false, []string{restic, "forget", "--keep-last", "1", "--prune"}, status.KindMaintenance},
		{"check", false, []string{restic, "check", "--read-data-subset", "1/2"}, status.KindMaintenance},
		{"wrapped", true, []string{"sh", "-c", restic + " forget --keep-last 1"}, status.KindMaintenance},
		{"", false, []string{restic, "backup", "--json", "--host", host, "/etc/hostname"}, ""},
	} {
		o := &runOptions{host: host, hostSet: true, logFile: "", exit3: status.Failed, args: tt.args, env: env, lockBase: t.TempDir(), maintenance: tt.maintenance}
		o.jobs.job, o.jobs.jobSet = tt.job, tt.job != ""
		if err := runRun(context.Background(), e.g, o); err != nil {
			t.Fatalf("run --job %q: %v\n%s", tt.job, err, e.err)
		}
		rec := e.record(t, status.Key(host, tt.job))
		if rec["status"] != status.Success || rec[status.FieldKind] != tt.kind && !(tt.kind == "" && rec[status.FieldKind] == "") {
			t.Errorf("job %q: status %q, kind %q; want success, kind %q", tt.job, rec["status"], rec[status.FieldKind], tt.kind)
		}
		if tt.kind == status.KindMaintenance && rec[status.FieldSnapshotID] != "" {
			t.Errorf("job %q: a maintenance run recorded snapshot %q", tt.job, rec[status.FieldSnapshotID])
		}
		parsed := status.Parse(host, mustDoc(t, e, status.Key(host, tt.job)))
		if parsed.Maintenance != (tt.kind == status.KindMaintenance) {
			t.Errorf("job %q: parsed Maintenance %v", tt.job, parsed.Maintenance)
		}
	}
	if _, ok := e.record(t, host)[status.FieldKind]; ok {
		t.Errorf("the host's own backup is recorded with a kind")
	}
	// The rotation picks among the repository's hosts: only db, backed up.
	o := &restoreTestRunOptions{repo: repo, snapshot: "latest", pick: "oldest", binary: "restic", env: env}
	t.Setenv("TMPDIR", t.TempDir())
	if err := runRestoreTestRun(context.Background(), e.g, o); err != nil {
		t.Fatalf("restore-test run --pick oldest: %v\n%s", err, e.err)
	}
	if rt := e.record(t, status.RestoreTestKey); rt["host_tested"] != host {
		t.Errorf("restore test of %q, want %s", rt["host_tested"], host)
	}
}

func mustDoc(t *testing.T, e *runEnv, key string) map[string]any {
	t.Helper()
	st, err := e.g.store.open(e.g, 1)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
