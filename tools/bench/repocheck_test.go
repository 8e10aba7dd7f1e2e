package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBuildRepo: the snapshots the bench writes itself are restic's own to
// restic (hash, MAC, JSON), and repo-check is timed against them.
func TestBuildRepo(t *testing.T) {
	restic := defaultRestic()
	if _, err := exec.LookPath(restic); err != nil {
		t.Fatalf("restic not found (%s): set BACKUPWATCH_TOOLS_BIN (`make deps`) or install restic: %v", restic, err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(dir, "backupwatch")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/backupwatch").CombinedOutput(); err != nil {
		t.Fatalf("building backupwatch: %v\n%s", err, out)
	}
	o := options{restic: restic, backupwatch: bin, repoDir: filepath.Join(dir, "repos"), repoHosts: 7, repoSnapshots: 50, repoRuns: 1}
	res, err := benchRepoCheck(ctx, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.built <= 0 || len(res.bare) != 1 || len(res.bw) != 1 {
		t.Errorf("built in %v, %d bare runs, %d repo-check runs; want a build and one of each", res.built, len(res.bare), len(res.bw))
	}
	if _, err := os.Stat(filepath.Join(o.repoDir, "7x50", "bench-complete")); err != nil {
		t.Errorf("the repository is not marked complete for reuse: %v", err)
	}
	// Reused: not built again.
	if res, err = benchRepoCheck(ctx, o, dir); err != nil {
		t.Fatal(err)
	}
	if res.built != 0 {
		t.Errorf("second run: built in %v; want the repository reused", res.built)
	}
}
