package backuprun

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRunLockLeftByACrashedRun: a crashed run leaves its lock file with
// its pid; the lock went with its process, so the next run takes it and
// writes its own pid, in a path with spaces and letters beyond ASCII (a
// Windows profile, %ProgramData% on a localized system). The lock file
// itself (lockfile's TestLockLeftByACrashedProcess) is left by a real
// process killed as Task Scheduler's End kills it.
func TestRunLockLeftByACrashedRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Backup Wächter ø", "locks 日本", "db ø@pg dump.lock")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("4194999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := TryLock(path)
	if err != nil {
		t.Fatalf("TryLock over a crashed run's lock file = %v", err)
	}
	defer l.Unlock()
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want this run's pid %d", b, os.Getpid())
	}
	if _, err := TryLock(path); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("a second TryLock = %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
}
