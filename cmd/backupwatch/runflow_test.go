package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/backuprun"
	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// localRecord reads a record of the local store in dir.
func localRecord(t *testing.T, dir, key string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, key+".json"))
	if err != nil {
		t.Fatalf("record %s: %v", key, err)
	}
	var rec map[string]string
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// Issue 16 item 3: --pick oldest that cannot open the repository records a
// failed restore test, as the same failure without --pick does.
func TestRestoreTestPickOldestRecordsAnUnreadableRepository(t *testing.T) {
	repo, env, _ := backedUp(t)
	wrongPassword := append(append([]string{}, env...), "RESTIC_PASSWORD=not-the-password")
	tests := []struct {
		name string
		repo string
		env  []string
	}{
		{"wrong password", repo, wrongPassword},
		{"missing repository", filepath.Join(t.TempDir(), "nothing"), env},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRunEnv(t, nil)
			t.Setenv("TMPDIR", t.TempDir())
			o := &restoreTestRunOptions{repo: tt.repo, snapshot: "latest", pick: "oldest", binary: "restic", env: tt.env}
			err := runRestoreTestRun(context.Background(), e.g, o)
			if got := exitStatus(err, io.Discard); got != exitError {
				t.Errorf("exit = %d (%v), want %d", got, err, exitError)
			}
			rec := e.record(t, status.RestoreTestKey)
			if rec["result"] != status.Failed || !strings.Contains(rec["notes"], "list the repository's hosts") {
				t.Errorf("record = %v, want failed, saying the hosts could not be listed", rec)
			}
			if strings.Contains(rec["notes"], testResticPassword) || strings.Contains(e.err.String(), testResticPassword) {
				t.Error("the repository password leaked")
			}
		})
	}
}

// Issue 16 item 10: a snapshot of an empty directory (an unmounted file
// system) fails the restore test, unless the job may be empty.
func TestRestoreTestRunEmptySnapshot(t *testing.T) {
	dir := t.TempDir()
	repo, env := resticRepo(t, dir, false)
	empty := filepath.Join(dir, "mnt", "data")
	os.MkdirAll(empty, 0o755)
	cmd := exec.Command("restic", "backup", "--host", "nas", empty)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restic backup: %v: %s", err, out)
	}
	for _, allow := range []bool{false, true} {
		t.Run("allow-empty="+strconv.FormatBool(allow), func(t *testing.T) {
			e := newRunEnv(t, nil)
			t.Setenv("TMPDIR", t.TempDir())
			o := &restoreTestRunOptions{repo: repo, snapshot: "latest", binary: "restic", env: env, allowEmpty: allow}
			err := runRestoreTestRun(context.Background(), e.g, o)
			rec := e.record(t, status.RestoreTestKey)
			if allow {
				if err != nil || rec["result"] != status.Passed || !strings.Contains(rec["notes"], "0 files") {
					t.Errorf("--allow-empty: %v, record %v; want passed with 0 files", err, rec)
				}
				return
			}
			if got := exitStatus(err, io.Discard); got != exitError || rec["result"] != status.Failed || !strings.Contains(rec["notes"], "nothing was restored") || !strings.Contains(rec["notes"], "--allow-empty") {
				t.Errorf("exit %d (%v), record %v; want %d and failed: nothing was restored, naming --allow-empty", got, err, rec, exitError)
			}
		})
	}
}

// Issue 16 item 11: the default lock directory sits in a directory every
// user can write to: one another user made first is refused, never used.
func TestRunRefusesALockDirectoryOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test chowns a directory to nobody: run it as root")
	}
	base := filepath.Join(t.TempDir(), "lock")
	os.Mkdir(base, 0o777)
	os.Chmod(base, 0o1777) // as /run/lock
	theirs := filepath.Join(base, "backupwatch")
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	e := newRunEnv(t, nil)
	marker := filepath.Join(t.TempDir(), "ran")
	o := &runOptions{host: "db", exit3: status.Failed, lockBase: base, args: []string{"touch", marker}}
	err := runRun(context.Background(), e.g, o)
	if got := exitStatus(err, io.Discard); got != exitError || !strings.Contains(err.Error(), theirs) || !strings.Contains(err.Error(), "--lock.file") {
		t.Fatalf("run with another user's lock directory: exit %d, %v; want %d naming %s and --lock.file", got, err, exitError, theirs)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the run went on with another user's lock directory")
	}
	if _, err := os.Stat(filepath.Join(theirs, "db.lock")); err == nil {
		t.Error("a lock file was made in another user's directory")
	}
	if rec := e.record(t, "db"); rec["status"] != status.Failed || !strings.Contains(rec["message"], "lock directory") {
		t.Errorf("record = %v, want failed, naming the lock directory", rec)
	}

	// Group-writable is refused too; our own private one is made and used.
	os.Chown(theirs, 0, 0)
	os.Chmod(theirs, 0o775)
	if err := runRun(context.Background(), e.g, o); err == nil {
		t.Error("a group-writable lock directory was used")
	}
	os.Remove(theirs)
	if err := runRun(context.Background(), e.g, o); err != nil {
		t.Fatalf("run with a new lock directory: %v", err)
	}
	if fi, err := os.Stat(theirs); err != nil || fi.Mode().Perm()&0o022 != 0 {
		t.Errorf("lock directory made as %v, %v; want one only root writes to", fi, err)
	}
}

// startBackupwatch starts the test binary as backupwatch with the local
// store in storeDir, running script, and waits until the script runs.
func startBackupwatch(t *testing.T, storeDir, dir, script string) (*exec.Cmd, *parts.LockedBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--store.dir="+storeDir, "run", "--host=db", "--log.file="+filepath.Join(dir, "log"),
		"--lock.file="+filepath.Join(dir, "lock"), "--", "sh", "-c", script)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	stderr := &parts.LockedBuffer{}
	cmd.Stderr = stderr
	return cmd, stderr
}

// Issue 16 item 4: every catchable signal that would end backupwatch is
// passed to the program and its outcome recorded, as SIGTERM is.
func TestRunProcessHandlesHangupAndQuit(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1} {
		t.Run(backuprun.SignalName(sig), func(t *testing.T) {
			storeDir, dir := t.TempDir(), t.TempDir()
			cmd, stderr := startBackupwatch(t, storeDir, dir, "exec sleep 60")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			waitFor(t, "the run to start", 30*time.Second, func() bool { return strings.Contains(stderr.String(), "backup started") })
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
				t.Fatalf("backupwatch ended with %v, want exit status %d\n%s", err, 128+int(sig), stderr)
			}
			rec := localRecord(t, storeDir, "db")
			if rec["status"] != status.Failed || rec["exit_code"] != strconv.Itoa(128+int(sig)) || !strings.Contains(rec["message"], "interrupted by "+backuprun.SignalName(sig)) {
				t.Errorf("record = %v, want failed, %d, interrupted by %s", rec, 128+int(sig), backuprun.SignalName(sig))
			}
		})
	}
}

// Issue 16 item 4: backupwatch killed outright (SIGKILL, nothing to
// catch) takes the program with it: no backup goes on unrecorded.
func TestRunChildDiesWithBackupwatch(t *testing.T) {
	storeDir, dir := t.TempDir(), t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	cmd, stderr := startBackupwatch(t, storeDir, dir, `echo $$ > "`+pidFile+`.tmp"; mv "`+pidFile+`.tmp" "`+pidFile+`"; exec sleep 600`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var pid int
	waitFor(t, "the program's pid", 30*time.Second, func() bool {
		b, err := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	cmd.Process.Kill()
	cmd.Wait()
	waitFor(t, "the program to die with backupwatch", 30*time.Second, func() bool { return !alive(pid) })
	if strings.Contains(stderr.String(), "panic") {
		t.Errorf("backupwatch: %s", stderr)
	}
}

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// Issue 16 item 4: `backupwatch run -- ... | head -1`: output to a closed
// pipe costs the pass-through, never the result nor the exit status.
func TestRunSurvivesAClosedStdout(t *testing.T) {
	for _, both := range []bool{false, true} {
		t.Run(map[bool]string{false: "| head -1", true: "2>&1 | head -1"}[both], func(t *testing.T) {
			storeDir, dir := t.TempDir(), t.TempDir()
			goOn := filepath.Join(dir, "go-on")
			cmd, stderr := startBackupwatch(t, storeDir, dir,
				`echo first; while [ ! -e "`+goOn+`" ]; do sleep 0.02; done; for i in 1 2 3 4 5; do echo more $i; echo err $i >&2; done; echo 'disk full' >&2; exit 1`)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout = w
			if both {
				cmd.Stderr = w
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			defer cmd.Process.Kill()
			br := bufio.NewReader(r)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("no line %q: %v", "first", err)
				}
				if line == "first\n" {
					break
				}
			}
			r.Close() // as head -1 does
			os.WriteFile(goOn, nil, 0o600)
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("backupwatch ended with %v, want the program's exit status 1\n%s", err, stderr)
			}
			if rec := localRecord(t, storeDir, "db"); rec["status"] != status.Failed || rec["exit_code"] != "1" || !strings.Contains(rec["message"], "disk full") {
				t.Errorf("record = %v, want the failure", rec)
			}
		})
	}
}

// Issue 16, smaller: a token the store refuses for good is an error at
// once, not a success with the result quietly spooled.
func TestRunWithARevokedToken(t *testing.T) {
	v := vaulttest.Start(t)
	root := v.Client(t)
	tok, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Auth().Token().RevokeTree(tok.Auth.ClientToken); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	for name, token := range map[string]string{"revoked": tok.Auth.ClientToken, "invalid": "hvs.not-a-real-token"} {
		t.Run(name, func(t *testing.T) {
			r := backupwatchProcess(t, nil, nil, []string{"VAULT_TOKEN=" + token}, "--vault.address="+v.Addr, "--vault.kv-version=2", "--vault.timeout=2s",
				"--spool.dir="+spoolDir, "run", "--host=db", "--log.file="+filepath.Join(dir, name+".log"), "--lock.file="+filepath.Join(dir, "lock"), "--", "true")
			if r.code == 0 || !strings.Contains(r.stderr, "credentials") || !strings.Contains(r.stderr, "kept in") {
				t.Errorf("run -- true with a %s token: exit %d, want non-zero, saying the credentials are refused and where the result is kept\n%s", name, r.code, r.stderr)
			}
			noSecret(t, map[string]string{"stderr": r.stderr}, token)
		})
	}
}
