package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/backuprun"
	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// A test binary started with this variable set is backupwatch itself: a
// fresh process, as after a reboot.
const runMainEnv = "BACKUPWATCH_TEST_RUN_MAIN"

func init() {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	// Tests that leave --spool.dir to its default must not spool into
	// the machine's /var/spool/backupwatch.
	if os.Getenv("BACKUPWATCH_SPOOL_DIR") == "" {
		if dir, err := os.MkdirTemp("", "backupwatch-test-spool-"); err == nil {
			os.Setenv("BACKUPWATCH_SPOOL_DIR", dir)
		}
	}
}

// runEnv is what the run tests share: globals on a local store or a
// Vault, a spool, and the output of it all.
type runEnv struct {
	g        *globals
	out, err *parts.LockedBuffer // the command's stdout, and stderr with its log
	storeDir string
}

func newRunEnv(t *testing.T, v *vaulttest.Server) *runEnv {
	t.Helper()
	e := &runEnv{out: &parts.LockedBuffer{}, err: &parts.LockedBuffer{}, storeDir: t.TempDir()}
	e.g = &globals{stdout: e.out, stderr: e.err}
	e.g.logger = slog.New(slog.NewTextHandler(e.err, nil))
	e.g.store.localDir = e.storeDir
	if v != nil {
		e.g.store.vault = vaultTestConfig(v)
	}
	e.g.spool.dir = filepath.Join(t.TempDir(), "spool")
	e.g.spool.retry = spool.Retry{Attempts: 2, Backoff: 10 * time.Millisecond}
	return e
}

func vaultTestConfig(v *vaulttest.Server) vaultkv.Config {
	return vaultkv.Config{Address: v.Addr, Token: v.RootToken, Mount: "kv", Prefix: "golemtrust/backup-status", KVVersion: 2, Timeout: 3 * time.Second}
}

// record reads a host's record from the store the globals name.
func (e *runEnv) record(t *testing.T, key string) map[string]string {
	t.Helper()
	st, err := e.g.store.open(e.g, 1)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("read record %s: %v", key, err)
	}
	out := map[string]string{}
	for k, v := range doc {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func needRestic(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("restic"); err != nil {
		t.Fatalf("restic is not installed: run `make deps` (installs Debian's restic): %v", err)
	}
}

const testResticPassword = "correct-horse-battery-staple"

// resticRepo creates a repository in dir; its password is only ever in
// the children's environment, never in this process's.
func resticRepo(t *testing.T, dir string, asNobody bool) (repo string, env []string) {
	t.Helper()
	needRestic(t)
	repo = filepath.Join(dir, "repo")
	env = append(os.Environ(), "RESTIC_PASSWORD="+testResticPassword, "RESTIC_REPOSITORY="+repo, "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"))
	args := []string{"restic", "init", "-q"}
	if asNobody {
		args = append(nobody(), args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restic init: %v: %s", err, out)
	}
	return repo, env
}

// nobody runs a command as an unprivileged user with util-linux's setpriv:
// root reads every file, nobody does not.
func nobody() []string {
	return []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
}

// sharedTempDir is a directory nobody can use, removed after the test.
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "backupwatch-run-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

var logLineRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d (stdout|stderr|backupwatch): `)

func TestRunRestic(t *testing.T) {
	needRestic(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is needed to run restic as nobody: %v", err)
	}
	dir := sharedTempDir(t)
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "a"), []byte("alpha\n"), 0o644)
	os.WriteFile(filepath.Join(src, "sub", "b"), []byte("beta\n"), 0o644)
	// Unreadable for nobody: restic makes the snapshot and exits 3.
	unreadable := filepath.Join(dir, "unreadable")
	os.MkdirAll(unreadable, 0o755)
	os.WriteFile(filepath.Join(unreadable, "ok"), []byte("fine\n"), 0o644)
	os.WriteFile(filepath.Join(unreadable, "secret"), []byte("root only\n"), 0o600)
	_, env := resticRepo(t, dir, true)
	backup := func(path string) []string {
		return slices.Concat(nobody(), []string{"restic", "--no-cache", "backup", "--json", path})
	}
	plain := func(path string) []string {
		return slices.Concat(nobody(), []string{"restic", "--no-cache", "backup", path})
	}

	tests := []struct {
		name    string
		args    []string
		exit3   string
		code    int
		status  string
		message []string          // parts the message must hold
		fields  map[string]string // fields the record must hold
		summary bool
	}{
		{"success with --json summary", backup(src), status.Failed, 0, status.Success, nil,
			map[string]string{"exit_code": "0", "files_new": "2", "files_changed": "0", "files_unmodified": "0"}, true},
		{"success without --json: the snapshot id only", plain(src), status.Failed, 0, status.Success, nil,
			map[string]string{"exit_code": "0", "files_new": ""}, false},
		{"missing source", backup(filepath.Join(dir, "no-such-dir")), status.Failed, 1, status.Failed,
			[]string{"exit status 1", "do not exist"}, map[string]string{"exit_code": "1", "consecutive_failures": "1"}, false},
		{"unreadable file: exit 3 is failed", backup(unreadable), status.Failed, 3, status.Failed,
			[]string{"incomplete backup", "secret: permission denied"}, map[string]string{"exit_code": "3", "consecutive_failures": "1"}, true},
		{"unreadable file: exit 3 recorded as success", backup(unreadable), status.Success, 3, status.Success,
			[]string{"warning", "snapshot made"}, map[string]string{"exit_code": "3", "consecutive_failures": "0"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRunEnv(t, nil)
			logFile := filepath.Join(t.TempDir(), "restic-backup.log")
			o := &runOptions{host: "db", logFile: logFile, exit3: tt.exit3, lockFile: filepath.Join(t.TempDir(), "db.lock"),
				args: tt.args, env: env, stdin: strings.NewReader("")}
			err := runRun(context.Background(), e.g, o)
			if got := exitStatus(err, io.Discard); got != tt.code {
				t.Fatalf("exit status = %d (%v), want %d\nstderr:\n%s", got, err, tt.code, e.err)
			}
			rec := e.record(t, "db")
			if rec["status"] != tt.status {
				t.Errorf("status = %q, want %q (record %v)", rec["status"], tt.status, rec)
			}
			for k, want := range tt.fields {
				if rec[k] != want {
					t.Errorf("%s = %q, want %q", k, rec[k], want)
				}
			}
			for _, want := range tt.message {
				if !strings.Contains(rec["message"], want) {
					t.Errorf("message %q does not hold %q", rec["message"], want)
				}
			}
			if tt.status == status.Success && tt.code == 0 && rec["message"] != "" {
				t.Errorf("message on success = %q, want none", rec["message"])
			}
			wantID := tt.summary || tt.code == 0
			if id := rec["snapshot_id"]; wantID != (id != "") || tt.summary != (rec["bytes_added"] != "") {
				t.Errorf("snapshot_id %q, bytes_added %q; want an id: %v, a summary: %v", id, rec["bytes_added"], wantID, tt.summary)
			}
			if rec["last_attempt"] == "" || rec["duration_seconds"] == "" {
				t.Errorf("last_attempt %q, duration_seconds %q: want both", rec["last_attempt"], rec["duration_seconds"])
			}
			b, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatalf("backup log: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) < 3 {
				t.Errorf("backup log has %d lines, want the start, the output and the end:\n%s", len(lines), b)
			}
			for _, l := range lines {
				if !logLineRE.MatchString(l) {
					t.Errorf("log line without a timestamp: %q", l)
				}
			}
			if tt.summary && !strings.Contains(e.out.String(), `"message_type":"summary"`) {
				t.Errorf("restic's output was not passed through: %q", e.out)
			}
			for what, text := range map[string]string{"log": string(b), "stdout": e.out.String(), "stderr": e.err.String(), "record": fmt.Sprint(rec)} {
				if strings.Contains(text, testResticPassword) {
					t.Errorf("the repository password is in the %s", what)
				}
			}
		})
	}
}

// Killed runs are recorded as failed with the signal, and the exit status
// is the child's, as a shell reports it.
func TestRunInterrupted(t *testing.T) {
	tests := []struct {
		sig  syscall.Signal
		code int
	}{
		{syscall.SIGTERM, 128 + 15}, // restic 0.14 does not catch SIGTERM: it dies of it
		{syscall.SIGINT, 130},       // restic catches SIGINT, cleans up and exits 130
	}
	for _, tt := range tests {
		t.Run(backuprun.SignalName(tt.sig), func(t *testing.T) {
			dir := t.TempDir()
			repo, env := resticRepo(t, dir, false)
			e := newRunEnv(t, nil)
			stdinR, stdinW, err := os.Pipe() // a backup that waits for data forever
			if err != nil {
				t.Fatal(err)
			}
			defer stdinR.Close()
			defer stdinW.Close()
			sigs := make(chan os.Signal, 1)
			o := &runOptions{host: "db", logFile: filepath.Join(dir, "log"), exit3: status.Failed, lockFile: filepath.Join(dir, "db.lock"),
				args: []string{"restic", "backup", "--stdin", "--stdin-filename", "db.sql"}, env: env, stdin: stdinR, signals: sigs}
			done := make(chan error, 1)
			go func() { done <- runRun(context.Background(), e.g, o) }()
			// restic holds a lock in the repository once the backup runs.
			deadline := time.Now().Add(60 * time.Second)
			for {
				if des, _ := os.ReadDir(filepath.Join(repo, "locks")); len(des) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("restic backup never took its lock; stderr:\n%s", e.err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			sigs <- tt.sig
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("run did not end after the signal\n%s", e.err)
			}
			if got := exitStatus(err, io.Discard); got != tt.code {
				t.Errorf("exit status = %d, want %d", got, tt.code)
			}
			rec := e.record(t, "db")
			if rec["status"] != status.Failed || !strings.Contains(rec["message"], "interrupted by "+backuprun.SignalName(tt.sig)) || rec["exit_code"] != fmt.Sprint(tt.code) {
				t.Errorf("record = %v, want failed, interrupted by %s, exit code %d", rec, backuprun.SignalName(tt.sig), tt.code)
			}
		})
	}
}

func TestRunRefusesAnOverlappingRun(t *testing.T) {
	e := newRunEnv(t, nil)
	lockFile := filepath.Join(t.TempDir(), "db.lock")
	held, err := backuprun.TryLock(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	marker := filepath.Join(t.TempDir(), "ran")
	logFile := filepath.Join(t.TempDir(), "log")
	o := &runOptions{host: "db", exit3: status.Failed, lockFile: lockFile, logFile: logFile, args: []string{"touch", marker}}
	err = runRun(context.Background(), e.g, o)
	if got := exitStatus(err, io.Discard); got != exitError || !strings.Contains(err.Error(), "skipped") || !strings.Contains(err.Error(), lockFile) {
		t.Fatalf("second run: exit %d, %v; want %d, skipped, naming %s", got, err, exitError, lockFile)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the refused run ran its command")
	}
	if b, _ := os.ReadFile(logFile); !strings.Contains(string(b), "skipped") || !strings.Contains(string(b), "another run is in progress") {
		t.Errorf("the backup log does not say the run was skipped and why: %q", b)
	}
	// Issue 16: not a failed backup (a BackupFailed for a backup running
	// fine), and no start either (it would move the running one's start).
	if doc, err := mustStore(t, e.g).Get(context.Background(), "db"); !errors.Is(err, status.ErrNotFound) {
		t.Errorf("the skipped run wrote a record: %v, %v", doc, err)
	}
	if !strings.Contains(e.err.String(), "level=WARN") || !strings.Contains(e.err.String(), "run skipped") {
		t.Errorf("the skipped run is not logged as a warning:\n%s", e.err)
	}
	held.Unlock()
	o.args = []string{"true"}
	if err := runRun(context.Background(), e.g, o); err != nil {
		t.Errorf("run after the lock was released: %v", err)
	}
}

func TestRunScrubsSecretsAndBoundsTheMessage(t *testing.T) {
	e := newRunEnv(t, nil)
	env := append(os.Environ(), "RESTIC_PASSWORD=pw-"+testResticPassword, "AWS_SECRET_ACCESS_KEY=aws-secret-value-123", "B2_ACCOUNT_KEY=b2-key-value-456")
	script := `for i in $(seq 1 200); do echo "line $i: password $RESTIC_PASSWORD key $AWS_SECRET_ACCESS_KEY $B2_ACCOUNT_KEY and some more text to fill" >&2; done; echo "Fatal: wrong password $RESTIC_PASSWORD" >&2; exit 1`
	logFile := filepath.Join(t.TempDir(), "log")
	o := &runOptions{host: "db", exit3: status.Failed, logFile: logFile, lockFile: filepath.Join(t.TempDir(), "l"), args: []string{"sh", "-c", script}, env: env}
	if got := exitStatus(runRun(context.Background(), e.g, o), io.Discard); got != 1 {
		t.Fatalf("exit = %d, want 1", got)
	}
	rec := e.record(t, "db")
	msg := rec["message"]
	if len(msg) > 1024 || !strings.HasPrefix(msg, "exit status 1\n") || !strings.HasSuffix(msg, "Fatal: wrong password "+backuprun.Redacted) {
		t.Errorf("message (%d bytes) = %q; want it bounded, starting with the status and ending with the last line", len(msg), msg)
	}
	b, _ := os.ReadFile(logFile)
	for what, text := range map[string]string{"message": msg, "log": string(b), "stderr": e.err.String(), "stdout": e.out.String()} {
		for _, secret := range []string{testResticPassword, "aws-secret-value-123", "b2-key-value-456"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds a secret", what)
			}
		}
	}
	if !strings.Contains(string(b), "line 200: password "+backuprun.Redacted) {
		t.Errorf("the log lost the scrubbed lines")
	}
}

func TestRunBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--host=db"}, exitUsage, "required argument 'command' not provided"},
		{[]string{"run", "--host=bad host", "--", "true"}, exitUsage, "not allowed"},
		{[]string{"run", "--host=db", "--restic.exit3=maybe", "--", "true"}, exitUsage, "enum value"},
	} {
		code, _, errOut := cli(t, append([]string{"--store.dir=" + t.TempDir()}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	// A program that is not there: 127, as a shell says, and recorded.
	e := newRunEnv(t, nil)
	o := &runOptions{host: "db", exit3: status.Failed, lockFile: filepath.Join(t.TempDir(), "l"), args: []string{"/nonexistent/restic", "backup"}}
	var stderr bytes.Buffer
	if got := exitStatus(runRun(context.Background(), e.g, o), &stderr); got != 127 {
		t.Errorf("missing program: exit %d, want 127", got)
	}
	if !strings.Contains(stderr.String(), "start /nonexistent/restic") {
		t.Errorf("missing program: stderr %q does not say what could not start", stderr.String())
	}
	if rec := e.record(t, "db"); rec["status"] != status.Failed || !strings.Contains(rec["message"], "/nonexistent/restic") {
		t.Errorf("record = %v", rec)
	}
}

// Vault stops in the middle of a run; the outcome and the next run wait in
// the spool; Vault comes back and a fresh process delivers them, in order,
// losing nothing and moving nothing backwards.
func TestRunSpoolsWhileVaultIsDown(t *testing.T) {
	v := vaulttest.Start(t)
	e := newRunEnv(t, v)
	lockFile := filepath.Join(t.TempDir(), "db.lock")
	runCmd := func(args []string, stdin io.Reader) int {
		t.Helper()
		o := &runOptions{host: "db", exit3: status.Failed, lockFile: lockFile, args: args, stdin: stdin}
		return exitStatus(runRun(context.Background(), e.g, o), io.Discard)
	}
	if code := runCmd([]string{"true"}, nil); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, e.err)
	}
	e.record(t, "db") // written

	// The second run starts with Vault up and ends with it down.
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinR.Close()
	done := make(chan int, 1)
	go func() {
		done <- runCmd([]string{"sh", "-c", "read x; echo 'repository unreachable' >&2; exit 1"}, stdinR)
	}()
	// The attempt is written before the program starts and the start logged.
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(e.err.String(), "backup started") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("second run never started:\n%s", e.err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	v.Stop(t)
	stdinW.Write([]byte("go\n"))
	stdinW.Close()
	if code := <-done; code != 1 {
		t.Fatalf("second run: exit %d, want the child's 1\n%s", code, e.err)
	}
	time.Sleep(1100 * time.Millisecond) // a later second for the third run
	if code := runCmd([]string{"true"}, nil); code != 0 {
		t.Fatalf("third run (Vault down): exit %d, want the child's 0", code)
	}
	if !regexp.MustCompile(`results waiting in the spool" count=3 oldest_age=\d`).MatchString(e.err.String()) {
		t.Errorf("run's log does not say how many results wait and the oldest's age:\n%s", e.err)
	}
	sp, _ := spool.Open(storeSpoolDir(e.g, mustStore(t, e.g)))
	items, _, err := sp.Pending()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, it := range items {
		kinds = append(kinds, it.Entry.Result.Outcome)
	}
	if want := []string{status.Failed, "", status.Success}; fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("spooled %q, want %q (failure, attempt, success)", kinds, want)
	}
	want := map[string]string{
		"status": status.Success, "last_failure": status.FormatTime(items[0].Entry.Result.At),
		"last_attempt": status.FormatTime(items[1].Entry.Result.At), "last_success": status.FormatTime(items[2].Entry.Result.At),
		"consecutive_failures": "0", "exit_code": "0",
	}

	// A corrupt file in the spool is set aside, not fatal for the others.
	os.WriteFile(filepath.Join(sp.Dir(), "00000000000000000000-0000000-000000.json"), []byte("{garbage"), 0o600)

	v.Restart(t)
	cmd := exec.Command(os.Args[0], "--vault.address="+v.Addr, "--vault.kv-version=2", "--spool.dir="+e.g.spool.dir, "flush", "--backoff=100ms")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "VAULT_TOKEN="+v.RootToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("flush in a fresh process: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "corrupt spool file set aside") || strings.Contains(string(out), v.RootToken) {
		t.Errorf("flush output does not report the corrupt file (or shows the token):\n%s", out)
	}
	got := e.record(t, "db")
	for k, w := range want {
		if got[k] != w {
			t.Errorf("after flush %s = %q, want %q", k, got[k], w)
		}
	}
	if n, _ := sp.Count(); n != 0 {
		t.Errorf("%d entries still spooled", n)
	}
	if _, err := os.Stat(filepath.Join(sp.Dir(), "corrupt", "00000000000000000000-0000000-000000.json")); err != nil {
		t.Errorf("corrupt file not set aside: %v", err)
	}

	// The old failure replayed once more changes nothing.
	if _, err := sp.Add(items[0].Entry); err != nil {
		t.Fatal(err)
	}
	if err := runFlush(context.Background(), e.g, &flushOptions{attempts: 1}); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if again := e.record(t, "db"); fmt.Sprint(again) != fmt.Sprint(got) {
		t.Errorf("an old result replayed moved the record:\n got %v\nwant %v", again, got)
	}
}

func mustStore(t *testing.T, g *globals) recordStore {
	t.Helper()
	st, err := g.store.open(g, 1)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// `record` with Vault down keeps the result, says so and exits 1; the next
// record delivers both, the older first.
func TestRecordSpoolsAndTheNextDelivers(t *testing.T) {
	v := vaulttest.Start(t)
	spoolDir := t.TempDir()
	vault := []string{"--vault.address=" + v.Addr, "--vault.kv-version=2", "--vault.timeout=2s", "--spool.dir=" + spoolDir}
	t.Setenv("VAULT_TOKEN", v.RootToken)
	v.Stop(t)
	t1 := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	code, _, errOut := cli(t, append(vault, "record", "--status=failed", "--host=db", "--at="+t1, "--message=disk full")...)
	if code != exitError || !strings.Contains(errOut, "kept in "+spoolDir) || !strings.Contains(errOut, "vault unreachable") {
		t.Fatalf("record with Vault down: exit %d, stderr %q; want %d, unreachable, kept in the spool", code, errOut, exitError)
	}
	v.Restart(t)
	if code, _, errOut := cli(t, append(vault, "record", "--status=success", "--host=db")...); code != exitOK {
		t.Fatalf("record with Vault back: exit %d: %s", code, errOut)
	}
	sec, err := v.Client(t).KVv2("kv").Get(context.Background(), "golemtrust/backup-status/db")
	if err != nil {
		t.Fatal(err)
	}
	if sec.Data["status"] != "success" || sec.Data["last_failure"] == nil || sec.Data["consecutive_failures"] != "0" {
		t.Errorf("record = %v, want success with the spooled failure's last_failure", sec.Data)
	}
	if sec.VersionMetadata.Version != 2 {
		t.Errorf("record version %d, want 2 (the spooled failure, then the success)", sec.VersionMetadata.Version)
	}

	// A sealed Vault is the same: kept, then delivered by flush.
	v.Seal(t)
	code, _, errOut = cli(t, append(vault, "record", "--status=failed", "--host=db", "--message=sealed meanwhile")...)
	if code != exitError || !strings.Contains(errOut, "sealed") || !strings.Contains(errOut, "kept in") {
		t.Fatalf("record with Vault sealed: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = cli(t, append(vault, "restore-test", "record", "--result=passed", "--host-tested=db.golemtrust.am", "--time-to-restore=47m")...)
	if code != exitError || !strings.Contains(errOut, "kept in") {
		t.Fatalf("restore-test record with Vault sealed: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := cli(t, append(vault, "flush", "--attempts=1")...); code != exitError || !strings.Contains(errOut, "2 results still waiting") {
		t.Errorf("flush while sealed: exit %d, stderr %q; want %d and 2 waiting", code, errOut, exitError)
	}
	v.Unseal(t)
	if code, _, errOut := cli(t, append(vault, "flush")...); code != exitOK {
		t.Fatalf("flush after unseal: exit %d: %s", code, errOut)
	}
	sec, err = v.Client(t).KVv2("kv").Get(context.Background(), "golemtrust/backup-status/db")
	if err != nil {
		t.Fatal(err)
	}
	if sec.Data["status"] != "failed" || sec.Data["message"] != "sealed meanwhile" {
		t.Errorf("after flush: %v, want the failure recorded while sealed", sec.Data)
	}
	rt, err := v.Client(t).KVv2("kv").Get(context.Background(), "golemtrust/backup-status/restore-test")
	if err != nil || rt.Data["result"] != "passed" || rt.Data["time_to_restore_minutes"] != "47" {
		t.Errorf("restore test after flush: %v, %v", rt, err)
	}
	des, _ := os.ReadDir(spoolDir)
	for _, de := range des {
		if n, _ := filepath.Glob(filepath.Join(spoolDir, de.Name(), "*.json")); len(n) > 0 { // the lock files stay
			t.Errorf("spool %s still holds %d entries", de.Name(), len(n))
		}
	}
}

// A spool that cannot be used (others may write to it) does not cost a
// result the store can take.
func TestUnusableSpoolDoesNotLoseAResult(t *testing.T) {
	v := vaulttest.Start(t)
	e := newRunEnv(t, v)
	st, err := e.g.store.open(e.g, 1)
	if err != nil {
		t.Fatal(err)
	}
	sp := storeSpoolDir(e.g, st)
	os.MkdirAll(sp, 0o700)
	os.Chmod(sp, 0o777)
	res := status.Result{Host: "db", Outcome: status.Success, At: time.Now()}
	if err := deliverOrSpool(context.Background(), e.g, st, spool.Entry{Result: &res}); err != nil {
		t.Fatalf("deliver with an unusable spool and Vault up: %v", err)
	}
	if rec := e.record(t, "db"); rec["status"] != status.Success {
		t.Errorf("record = %v, want the success written", rec)
	}
	if !strings.Contains(e.err.String(), "spool unusable") || !strings.Contains(e.err.String(), "writable by group or others") {
		t.Errorf("log does not say the spool is unusable and why:\n%s", e.err)
	}
}

func TestFlushBadInputAndLocalStore(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"flush", "--attempts=0"}, exitUsage, "--attempts"},
		{[]string{"flush", "--backoff=-1s"}, exitUsage, "--backoff"},
		{[]string{"flush"}, exitOK, "only results for Vault are spooled"},
	} {
		code, _, errOut := cli(t, append([]string{"--store.dir=" + t.TempDir(), "--spool.dir=" + t.TempDir()}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

// Many hosts, several writers per host, one Vault: every result counts.
func TestConcurrentRecordingLosesNothing(t *testing.T) {
	v := vaulttest.Start(t)
	const writers, perWriter, hosts = 20, 5, 5
	base := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	type want struct{ success, failure, last time.Time }
	wants := make([]want, hosts)
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		h := w % hosts
		for i := range perWriter {
			at := base.Add(time.Duration(w*perWriter+i) * time.Second)
			outcome := status.Success
			if (w+i)%3 == 0 {
				outcome = status.Failed
			}
			ww := &wants[h]
			if outcome == status.Success && at.After(ww.success) {
				ww.success = at
			}
			if outcome == status.Failed && at.After(ww.failure) {
				ww.failure = at
			}
			if at.After(ww.last) {
				ww.last = at
			}
		}
		wg.Go(func() {
			e := newRunEnv(t, v) // each writer is its own machine: its own client and spool
			st := mustStore(t, e.g)
			for i := range perWriter {
				at := base.Add(time.Duration(w*perWriter+i) * time.Second)
				outcome := status.Success
				if (w+i)%3 == 0 {
					outcome = status.Failed
				}
				res := status.Result{Host: fmt.Sprintf("host-%d", h), Outcome: outcome, At: at}
				dlv, err := newDeliverer(e.g, st)
				if err != nil {
					errs <- err
					return
				}
				if d, err := dlv.Deliver(context.Background(), spool.Entry{Result: &res}, spool.Retry{Attempts: 3, Backoff: 50 * time.Millisecond}); err != nil || d.Spooled != "" {
					errs <- fmt.Errorf("writer %d result %d: spooled %q, %v", w, i, d.Spooled, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := v.Client(t)
	for h, w := range wants {
		sec, err := c.KVv2("kv").Get(context.Background(), fmt.Sprintf("golemtrust/backup-status/host-%d", h))
		if err != nil {
			t.Fatal(err)
		}
		wantStatus := status.Success
		if w.failure.Equal(w.last) {
			wantStatus = status.Failed
		}
		got := sec.Data
		if got["last_success"] != status.FormatTime(w.success) || got["last_failure"] != status.FormatTime(w.failure) || got["status"] != wantStatus {
			t.Errorf("host-%d = %v; want last_success %s, last_failure %s, status %s", h, got, status.FormatTime(w.success), status.FormatTime(w.failure), wantStatus)
		}
	}
}

// The real process: SIGTERM to backupwatch reaches the program, and
// backupwatch exits as it did, after recording it.
func TestRunProcessForwardsSIGTERM(t *testing.T) {
	storeDir, dir := t.TempDir(), t.TempDir()
	cmd := exec.Command(os.Args[0], "--store.dir="+storeDir, "run", "--host=db", "--log.file="+filepath.Join(dir, "log"),
		"--lock.file="+filepath.Join(dir, "lock"), "--", "sleep", "60")
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	var stderr parts.LockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "backup started") {
		if time.Now().After(deadline) {
			t.Fatalf("run never started:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+15 {
		t.Fatalf("backupwatch ended with %v, want exit status 143\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(storeDir, "db.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]string
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if rec["status"] != status.Failed || rec["exit_code"] != "143" || !strings.Contains(rec["message"], "interrupted by SIGTERM") {
		t.Errorf("record = %v, want failed, 143, interrupted by SIGTERM", rec)
	}
}
