package lockfile

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// oddDir is a directory whose path has spaces and letters beyond ASCII,
// as a Windows user's profile or a share often has.
func oddDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "Backup Wächter ø", "日本 run")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHelperHoldLock is not a test: run by TestLockLeftByACrashedProcess
// as another process, it takes the lock, says so and waits to be killed.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("LOCKFILE_HELPER_PATH")
	if path == "" {
		return
	}
	if _, err := Lock(context.Background(), path); err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(2)
	}
	os.Stdout.WriteString("held\n")
	// Until killed: stdin stays open (select{} would be a deadlock the
	// runtime ends on Windows, releasing the lock too soon).
	io.Copy(io.Discard, os.Stdin)
	os.Exit(3)
}

// TestLockLeftByACrashedProcess: a process holding the lock, in a path
// with spaces and non-ASCII letters, is killed (SIGKILL; TerminateProcess
// on Windows, as Task Scheduler's End does): the file stays, its lock goes
// with the process, and the next Lock takes it at once.
func TestLockLeftByACrashedProcess(t *testing.T) {
	path := filepath.Join(oddDir(t), "db ø.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "LOCKFILE_HELPER_PATH="+path)
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	said := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Scan()
		said <- sc.Text()
		for sc.Scan() {
		}
	}()
	select {
	case s := <-said:
		if s != "held" {
			t.Fatalf("the holder said %q", s)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the holder never took the lock")
	}
	f, err := Open(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := TryLockFile(f); !errors.Is(err, ErrHeld) {
		t.Errorf("TryLockFile while another process holds it = %v, want ErrHeld", err)
	}
	f.Close()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the crashed process's lock file: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	unlock, err := Lock(ctx, path)
	if err != nil {
		t.Fatalf("Lock after the holder crashed = %v", err)
	}
	unlock()
}
