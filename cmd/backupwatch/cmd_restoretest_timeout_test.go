package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// hangingRestic writes a stand-in for restic that runs the real one,
// except for the subcommands in hang, where it never answers (as a restic
// waiting on a dead mount or an unreachable backend does).
func hangingRestic(t *testing.T, hang ...string) string {
	t.Helper()
	real, err := exec.LookPath("restic")
	if err != nil {
		t.Fatalf("restic is not installed: run `make deps` (installs Debian's restic): %v", err)
	}
	script := "#!/bin/sh\nfor a in \"$@\"; do\n\tcase \"$a\" in\n"
	for _, h := range hang {
		script += "\t" + h + ") exec sleep 3600 ;;\n"
	}
	script += "\tesac\ndone\nexec " + real + " \"$@\"\n"
	bin := filepath.Join(t.TempDir(), "restic")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestRestoreTestRunResticHangs: every restic call of restore-test run is
// bounded by --restic.timeout; a restic that hangs (in the listing, the
// check or the restore) is a failed restore test recorded in Vault, naming
// the timeout, within a deadline of it: never a test that never ends, nor
// "nothing recorded".
func TestRestoreTestRunResticHangs(t *testing.T) {
	repo, env, _ := backedUp(t)
	v := vaulttest.Start(t)
	// The bound must let the calls that do not hang finish: one real
	// restic call costs a key derivation (a second of CPU by design), more
	// on a loaded machine (2s failed beside stress-ng). So the bound is
	// four times what one real call takes here, now, and at least 3s.
	timeout := 4 * realResticCall(t, repo, env)
	timeout = max(timeout, 3*time.Second)
	for _, tt := range []struct {
		name string
		hang []string
		pick string
		want string
	}{
		{"the restore hangs", []string{"restore"}, "", "restore snapshot"},
		{"the check hangs", []string{"check"}, "", "restic check"},
		{"the listing hangs", []string{"snapshots"}, "", "find snapshot latest"},
		{"the listing of --pick oldest hangs", []string{"snapshots"}, "oldest", "list the repository's hosts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newRunEnv(t, v)
			t.Setenv("TMPDIR", t.TempDir())
			o := &restoreTestRunOptions{repo: repo, snapshot: "latest", binary: hangingRestic(t, tt.hang...), pick: tt.pick,
				timeout: timeout, env: env}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+10*timeout)
			defer cancel()
			err := runRestoreTestRun(ctx, e.g, o)
			if ctx.Err() != nil {
				t.Fatalf("restore-test run outlived %s with --restic.timeout %s", 2*time.Minute+10*timeout, timeout)
			}
			if got := exitStatus(err, io.Discard); got != exitError {
				t.Errorf("exit %d (%v), want %d\n%s", got, err, exitError, e.err)
			}
			rec := e.record(t, status.RestoreTestKey)
			if rec["result"] != status.Failed || !strings.Contains(rec["notes"], "--restic.timeout") || !strings.Contains(rec["notes"], tt.want) {
				t.Errorf("recorded %q %q, want failed saying %q and --restic.timeout", rec["result"], rec["notes"], tt.want)
			}
			if strings.Contains(rec["notes"], testResticPassword) || strings.Contains(e.err.String(), testResticPassword) {
				t.Error("the repository password leaked")
			}
		})
	}
}

// realResticCall is how long one real `restic snapshots` on repo takes.
func realResticCall(t *testing.T, repo string, env []string) time.Duration {
	t.Helper()
	cmd := exec.Command("restic", "-r", repo, "snapshots", "--json")
	cmd.Env = env
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restic snapshots: %v: %s", err, out)
	}
	return time.Since(start)
}

// TestRestoreTestRunTimeoutFlag: a --restic.timeout that is not positive
// is refused (exit 2, one line), nothing run nor recorded.
func TestRestoreTestRunTimeoutFlag(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"0s", "-1s"} {
		code, _, errOut := cli(t, "--store.dir="+dir, "restore-test", "run", "--repo=/nonexistent", "--restic.timeout="+d)
		if code != exitUsage || !strings.Contains(errOut, "--restic.timeout") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("--restic.timeout=%s: exit %d, stderr %q; want %d and one line naming the flag", d, code, errOut, exitUsage)
		}
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("a refused test left %v", des)
	}
}
