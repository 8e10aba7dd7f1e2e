package backuprun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

// backupTo is a Backup of host db delivering to a local store in a new
// directory, with its lock and log in another.
func backupTo(t *testing.T, args ...string) (*Backup, *localstore.Store) {
	t.Helper()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dlv, err := deliver.New(deliver.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &Backup{
		Host: "db", Args: args, Exit3: status.Failed,
		LogFile: filepath.Join(dir, "log"), LockFile: filepath.Join(dir, "db.lock"),
		Signals: make(chan os.Signal), Deliver: dlv.Deliver, Retry: spool.Retry{Attempts: 1},
	}, st
}

func storedRecord(t *testing.T, st *localstore.Store, key string) map[string]string {
	t.Helper()
	doc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("record %s: %v", key, err)
	}
	out := map[string]string{}
	for k, v := range doc {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func TestBackupRecordsTheOutcome(t *testing.T) {
	summary, err := os.ReadFile("../restic/testdata/backup-0.14.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		script string
		exit3  string
		code   int
		want   map[string]string
	}{
		{"success with restic's summary", "cat <<'EOF'\n" + string(summary) + "EOF", status.Failed, 0,
			map[string]string{"status": status.Success, "exit_code": "0", "snapshot_id": "bc5bb2ac", "consecutive_failures": "0"}},
		{"failure with its last error lines", "echo 'Fatal: unable to open repository' >&2; exit 1", status.Failed, 1,
			map[string]string{"status": status.Failed, "exit_code": "1", "message": "exit status 1\nFatal: unable to open repository"}},
		{"exit 3 recorded as failed", "exit 3", status.Failed, 3,
			map[string]string{"status": status.Failed, "message": "incomplete backup: exit status 3: snapshot made, but some files could not be read"}},
		{"exit 3 recorded as success", "exit 3", status.Success, 3,
			map[string]string{"status": status.Success, "message": "warning: exit status 3: snapshot made, but some files could not be read"}},
		// restic on Windows with --use-fs-snapshot: the failed shadow copy
		// first, then more files in use than the tail keeps.
		{"a VSS failure named behind many errors", "cat >&2 <<'EOF'\n" + vssCreateJSON + "\n" + strings.Repeat(lockedFile+"\n", 20) + exit3Warning + "\nEOF\nexit 3", status.Failed, 3,
			map[string]string{"status": status.Failed, "message": "incomplete backup: exit status 3: snapshot made, but some files could not be read; " +
				`VSS snapshot of c:\ failed, files read without it (open or locked files may be missing or inconsistent): VSS error: async operation failed: VSS_E_UNEXPECTED_PROVIDER_ERROR (0x8004230f)` +
				"\n" + strings.Repeat(lockedFile+"\n", 4) + "Warning: at least one source file could not be read"}},
		{"a VSS failure on a success is a warning", "echo '" + vssCreateText + "' >&2", status.Failed, 0,
			map[string]string{"status": status.Success, "message": `warning: VSS snapshot of c:\ failed, files read without it (open or locked files may be missing or inconsistent): VSS error: async operation failed: VSS_E_UNEXPECTED_PROVIDER_ERROR (0x8004230f)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, st := backupTo(t, "sh", "-c", tt.script)
			b.Exit3 = tt.exit3
			code, err := b.Run(context.Background())
			if code != tt.code || err != nil {
				t.Fatalf("Run = %d, %v; want %d, nil", code, err, tt.code)
			}
			rec := storedRecord(t, st, "db")
			for k, v := range tt.want {
				if rec[k] != v {
					t.Errorf("%s = %q, want %q", k, rec[k], v)
				}
			}
			if rec["last_attempt"] == "" {
				t.Error("the start was not recorded")
			}
			if log, _ := os.ReadFile(b.LogFile); !strings.Contains(string(log), "run of host db ended: exit status") {
				t.Errorf("the backup log does not say how the run ended:\n%s", log)
			}
		})
	}
}

func TestBackupOfAJobTakesItsOwnLock(t *testing.T) {
	b, st := backupTo(t, "true")
	b.Job, b.LockFile = "pg", ""
	if os.Geteuid() == 0 {
		b.LockBase = t.TempDir()
	} else {
		t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	}
	// The host's own lock, held, does not stop its job.
	host, err := LockPath(b.LockBase, "db")
	if err != nil {
		t.Fatal(err)
	}
	held, err := TryLock(host)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	if code, err := b.Run(context.Background()); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if rec := storedRecord(t, st, status.Key("db", "pg")); rec["status"] != status.Success {
		t.Errorf("job record = %v", rec)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(host), "db@pg.lock")); err != nil {
		t.Errorf("the job's lock: %v", err)
	}
}

func TestBackupSkipsAnOverlappingRun(t *testing.T) {
	b, st := backupTo(t, "true")
	held, err := TryLock(b.LockFile)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	code, err := b.Run(context.Background())
	if code != 0 || !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "skipped") {
		t.Fatalf("Run = %d, %v; want 0 and a skip", code, err)
	}
	if _, err := st.Get(context.Background(), "db"); !errors.Is(err, status.ErrNotFound) {
		t.Errorf("a skipped run wrote a record: %v", err)
	}
}

func TestBackupForwardsSignalsAndRecordsThem(t *testing.T) {
	// SIGHUP, unless this process was started with it ignored (under
	// nohup): the program would inherit that and never end on it.
	sig, name := syscall.SIGHUP, "SIGHUP"
	if signal.Ignored(sig) {
		sig, name = syscall.SIGTERM, "SIGTERM"
	}
	b, st := backupTo(t, "sh", "-c", "echo ready; exec sleep 60")
	sigs := make(chan os.Signal, 1)
	b.Signals = sigs
	ready := make(chan struct{})
	b.Stdout = writerFunc(func(p []byte) {
		if strings.Contains(string(p), "ready") {
			select {
			case <-ready:
			default:
				close(ready)
			}
		}
	})
	done := make(chan int, 1)
	go func() {
		code, _ := b.Run(context.Background())
		done <- code
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the program never started")
	}
	sigs <- sig
	select {
	case code := <-done:
		if code != 128+int(sig) {
			t.Errorf("exit %d, want %d", code, 128+int(sig))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the run did not end after %s", name)
	}
	if rec := storedRecord(t, st, "db"); rec["status"] != status.Failed || !strings.Contains(rec["message"], "interrupted by "+name) {
		t.Errorf("record = %v, want failed, interrupted by %s", rec, name)
	}
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func TestOutcome(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	long := strings.Repeat("x", 2000)
	tests := []struct {
		name     string
		r        Result
		startErr error
		exit3    string
		outcome  string
		message  string
	}{
		{"success", Result{ExitCode: 0}, nil, status.Failed, status.Success, ""},
		{"could not start", Result{ExitCode: 127}, errors.New("start restic: not found"), status.Failed, status.Failed, "start restic: not found"},
		{"forwarded signal", Result{ExitCode: 130, Forwarded: syscall.SIGINT}, nil, status.Failed, status.Failed, "interrupted by SIGINT (exit status 130)"},
		{"killed", Result{ExitCode: 137, Signal: syscall.SIGKILL}, nil, status.Failed, status.Failed, "killed by SIGKILL"},
		{"tail kept, latest first", Result{ExitCode: 1, Tail: []string{long, "Fatal: disk full"}}, nil, status.Failed, status.Failed, "exit status 1\nx"},
		// Windows: a process ended by the console's Ctrl+C or close event
		// without handling it exits with an NTSTATUS, not 128+n.
		{"windows ctrl+c status", Result{ExitCode: 0xC000013A}, nil, status.Failed, status.Failed, "exit status 0xC000013A (STATUS_CONTROL_C_EXIT: ended by Ctrl+C or the console closing)"},
		{"windows crash status", Result{ExitCode: 0xC0000005}, nil, status.Failed, status.Failed, "exit status 0xC0000005 (STATUS_ACCESS_VIOLATION: restic crashed)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.Started, tt.r.Ended = t0, t0.Add(90*time.Second)
			res := Outcome("db", tt.r, tt.startErr, &restic.Summary{}, tt.exit3, nil)
			if res.Outcome != tt.outcome || !strings.HasPrefix(res.Message, tt.message) {
				t.Errorf("Outcome = %s %q, want %s %q...", res.Outcome, res.Message, tt.outcome, tt.message)
			}
			if len(res.Message) > maxMessage {
				t.Errorf("message of %d bytes, want at most %d", len(res.Message), maxMessage)
			}
			if res.ExitCode == nil || *res.ExitCode != int64(tt.r.ExitCode) || res.Duration == nil || *res.Duration != 90 || !res.At.Equal(tt.r.Ended) {
				t.Errorf("exit code, duration or time wrong: %+v", res)
			}
		})
	}
	res := Outcome("db", Result{ExitCode: 1, Tail: []string{long, "Fatal: disk full"}}, nil, nil, status.Failed, nil)
	if !strings.HasSuffix(res.Message, "Fatal: disk full") {
		t.Errorf("the latest error line was dropped: %q", res.Message)
	}
}

func TestSignalName(t *testing.T) {
	for sig, want := range map[os.Signal]string{syscall.SIGHUP: "SIGHUP", syscall.SIGQUIT: "SIGQUIT", syscall.SIGTERM: "SIGTERM", syscall.Signal(40): "signal 40"} {
		if got := SignalName(sig); got != want {
			t.Errorf("SignalName(%v) = %q, want %q", sig, got, want)
		}
	}
}
