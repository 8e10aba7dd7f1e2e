package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/status"
)

// backedUp makes a repository holding one snapshot of a small tree and
// returns the repository, the environment and the tree's path.
func backedUp(t *testing.T) (repo string, env []string, src string) {
	t.Helper()
	dir := t.TempDir()
	repo, env = resticRepo(t, dir, false)
	src = filepath.Join(dir, "srv", "db")
	os.MkdirAll(filepath.Join(src, "data"), 0o755)
	os.MkdirAll(filepath.Join(src, "emptydir"), 0o755)
	os.WriteFile(filepath.Join(src, "data", "base.sql"), bytes.Repeat([]byte("INSERT INTO guild VALUES (1);\n"), 4000), 0o644)
	os.WriteFile(filepath.Join(src, "empty.log"), nil, 0o644)
	// Incompressible, so that its pack is the biggest one.
	noise := make([]byte, 256<<10)
	rand.Read(noise)
	os.WriteFile(filepath.Join(src, "data", "blob.bin"), noise, 0o644)
	cmd := exec.Command("restic", "backup", "--host", "db.golemtrust.am", src)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restic backup: %v: %s", err, out)
	}
	return repo, env, src
}

// copyDir copies a repository so that one test can damage it.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
}

// damagePacks flips bytes in the middle of every pack file, or only in
// the biggest one: the data of blob.bin, which restic check does not read
// unless told to.
func damagePacks(t *testing.T, repo string, biggestOnly bool) {
	t.Helper()
	biggest, size := "", int64(-1)
	filepath.WalkDir(filepath.Join(repo, "data"), func(p string, d fs.DirEntry, err error) error {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() > size {
			biggest, size = p, fi.Size()
		}
		return nil
	})
	n := 0
	filepath.WalkDir(filepath.Join(repo, "data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || biggestOnly && p != biggest {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i := len(b) / 3; i < len(b)/3+64 && i < len(b); i++ {
			b[i] ^= 0xff
		}
		os.Chmod(p, 0o600)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		n++
		return nil
	})
	if n == 0 {
		t.Fatalf("no pack files under %s/data", repo)
	}
}

func TestRestoreTestRun(t *testing.T) {
	needRestic(t)
	repo, env, src := backedUp(t)
	damaged := filepath.Join(t.TempDir(), "damaged")
	copyDir(t, repo, damaged)
	damagePacks(t, damaged, false)
	damagedData := filepath.Join(t.TempDir(), "damaged-data")
	copyDir(t, repo, damagedData)
	damagePacks(t, damagedData, true)
	tests := []struct {
		name   string
		repo   string
		expect []string
		result string
		notes  []string
	}{
		{"passes", repo, []string{filepath.Join(src, "data", "base.sql"), filepath.Join(src, "data")}, status.Passed,
			[]string{"restored snapshot", "of db.golemtrust.am", "restic check passed", "2 expected paths present"}},
		{"missing expected path", repo, []string{filepath.Join(src, "no-such-file")}, status.Failed, []string{"no-such-file is missing"}},
		{"empty expected file and directory", repo, []string{filepath.Join(src, "empty.log"), filepath.Join(src, "emptydir")}, status.Failed,
			[]string{"empty.log is an empty file", "emptydir is an empty directory"}},
		{"damaged repository", damaged, nil, status.Failed, []string{"failed: restic check"}},
		{"damaged data: the restore finds it", damagedData, nil, status.Failed, []string{"failed: restore snapshot"}},
		{"no such repository", filepath.Join(t.TempDir(), "nothing"), nil, status.Failed, []string{"find snapshot latest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRunEnv(t, nil)
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp) // the default scratch directory goes here
			o := &restoreTestRunOptions{repo: tt.repo, snapshot: "latest", expect: tt.expect, binary: "restic", env: env}
			err := runRestoreTestRun(context.Background(), e.g, o)
			wantCode := exitOK
			if tt.result != status.Passed {
				wantCode = exitError
			}
			if got := exitStatus(err, io.Discard); got != wantCode {
				t.Errorf("exit = %d (%v), want %d\n%s", got, err, wantCode, e.err)
			}
			rec := e.record(t, status.RestoreTestKey)
			if rec["result"] != tt.result {
				t.Errorf("result = %q, want %q (notes %q)", rec["result"], tt.result, rec["notes"])
			}
			for _, want := range tt.notes {
				if !strings.Contains(rec["notes"], want) {
					t.Errorf("notes %q do not say %q", rec["notes"], want)
				}
			}
			if tt.result == status.Passed {
				if rec["host_tested"] != "db.golemtrust.am" {
					t.Errorf("host_tested = %q, want the snapshot's host", rec["host_tested"])
				}
				if m, err := strconv.ParseFloat(rec["time_to_restore_minutes"], 64); err != nil || m < 0 {
					t.Errorf("time_to_restore_minutes = %q, want a duration", rec["time_to_restore_minutes"])
				}
			}
			if _, err := status.ParseTime(rec["last_test"]); err != nil {
				t.Errorf("last_test: %v", err)
			}
			if strings.Contains(rec["notes"], testResticPassword) || strings.Contains(e.err.String(), testResticPassword) {
				t.Error("the repository password leaked")
			}
			// The scratch directory is gone.
			if des, _ := os.ReadDir(tmp); len(des) != 0 {
				t.Errorf("left behind in the temporary directory: %v", des)
			}
		})
	}
}

func TestRestoreTestRunScratch(t *testing.T) {
	needRestic(t)
	repo, env, src := backedUp(t)
	expect := []string{filepath.Join(src, "data", "base.sql")}

	// A non-empty target is refused: nothing restored over it, nothing recorded.
	full := t.TempDir()
	precious := filepath.Join(full, "precious")
	os.WriteFile(precious, []byte("keep me"), 0o600)
	e := newRunEnv(t, nil)
	o := &restoreTestRunOptions{repo: repo, snapshot: "latest", expect: expect, scratch: full, binary: "restic", env: env}
	err := runRestoreTestRun(context.Background(), e.g, o)
	if got := exitStatus(err, io.Discard); got != exitUsage || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty scratch: exit %d (%v), want %d and a refusal", got, err, exitUsage)
	}
	if b, _ := os.ReadFile(precious); string(b) != "keep me" {
		t.Errorf("the file in the target changed: %q", b)
	}
	if des, _ := os.ReadDir(full); len(des) != 1 {
		t.Errorf("target holds %d entries, want only the file that was there", len(des))
	}
	if _, err := os.Stat(filepath.Join(e.storeDir, status.RestoreTestKey+".json")); err == nil {
		t.Error("a refused test was recorded")
	}

	// An empty given directory is used, and left empty.
	empty := t.TempDir()
	o.scratch = empty
	if err := runRestoreTestRun(context.Background(), e.g, o); err != nil {
		t.Fatalf("empty scratch: %v\n%s", err, e.err)
	}
	if des, _ := os.ReadDir(empty); len(des) != 0 {
		t.Errorf("scratch not emptied: %v", des)
	}
	// A new one is created and removed.
	o.scratch = filepath.Join(t.TempDir(), "new", "scratch")
	if err := runRestoreTestRun(context.Background(), e.g, o); err != nil {
		t.Fatalf("new scratch: %v", err)
	}
	if _, err := os.Stat(o.scratch); err == nil {
		t.Error("new scratch directory left behind")
	}
	// Paths that climb out of the restore are refused.
	o.expect = []string{"../../etc/passwd"}
	if got := exitStatus(runRestoreTestRun(context.Background(), e.g, o), io.Discard); got != exitUsage {
		t.Errorf("--expect with ..: exit %d, want %d", got, exitUsage)
	}
}

// A symlink in the snapshot never makes a path of this machine count as
// restored: expected paths are looked up inside the restore only.
func TestRestoreTestRunExpectStaysInTheRestore(t *testing.T) {
	dir := t.TempDir()
	repo, env := resticRepo(t, dir, false)
	src := filepath.Join(dir, "srv")
	os.MkdirAll(filepath.Join(src, "data"), 0o755)
	os.WriteFile(filepath.Join(src, "data", "real.txt"), []byte("restored\n"), 0o644)
	os.Symlink("/etc", filepath.Join(src, "outside"))
	os.Symlink("/etc/passwd", filepath.Join(src, "passwd"))
	os.Symlink("data", filepath.Join(src, "inside"))
	cmd := exec.Command("restic", "backup", "--host", "db", src)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restic backup: %v: %s", err, out)
	}
	for _, tt := range []struct {
		expect string
		result string
	}{
		{filepath.Join(src, "outside", "passwd"), status.Failed}, // /etc/passwd of this machine
		{filepath.Join(src, "passwd"), status.Failed},
		{filepath.Join(src, "inside", "real.txt"), status.Passed}, // a symlink within the restore
		{filepath.Join(src, "inside"), status.Passed},
	} {
		e := newRunEnv(t, nil)
		t.Setenv("TMPDIR", t.TempDir())
		o := &restoreTestRunOptions{repo: repo, snapshot: "latest", expect: []string{tt.expect}, binary: "restic", env: env}
		runRestoreTestRun(context.Background(), e.g, o)
		if rec := e.record(t, status.RestoreTestKey); rec["result"] != tt.result {
			t.Errorf("--expect %s: result %q, want %q (notes %q)", tt.expect, rec["result"], tt.result, rec["notes"])
		}
	}
}
