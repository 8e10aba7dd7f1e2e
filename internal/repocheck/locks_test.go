package repocheck

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// hold starts restic with args, its stdin left open so that it waits
// holding its lock; the process is killed when the test ends.
func (f *fixture) hold(args ...string) *exec.Cmd {
	f.t.Helper()
	cmd := exec.Command(f.bin, append([]string{"--no-cache", "--password-file", f.repo.PasswordFile, "--repo", f.repo.Repository}, args...)...)
	cmd.Env = f.repo.Env
	in, err := cmd.StdinPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// waitLocks waits until the repository holds n locks.
func (f *fixture) waitLocks(n int) {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, total, err := f.repo.LockIDs(context.Background(), MaxLocksRead)
		if err == nil && total == n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("waiting for %d locks: %d (%v)", n, total, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStaleLocks, on both restic generations: restic key passwd (an
// exclusive lock) and restic backup --stdin (a shared one), killed while
// they wait: their locks stay in the repository. The check counts them,
// records the oldest of each kind with its host and pid, and removes none.
func TestStaleLocks(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts.Both(t, "restic") {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, p.Path)
			f.backup("db")
			doc, res := f.check(nil, Options{})
			if r := Parse("r", doc); res.LocksErr != nil || r.Locks == nil || r.Locks.Exclusive != 0 || r.Locks.Shared != 0 {
				t.Fatalf("no lock: %+v (%v)", r.Locks, res.LocksErr)
			}
			// Killed with SIGKILL, restic cannot remove its lock. One kind
			// at a time: either keeps the other out.
			kill := func(args ...string) *exec.Cmd {
				c := f.hold(args...)
				f.waitLocks(1)
				c.Process.Kill()
				c.Wait()
				return c
			}
			sh := kill("backup", "--stdin", "--host", "db")
			doc, res = f.check(doc, Options{})
			r := Parse("r", doc)
			if l := r.Locks; res.LocksErr != nil || l == nil || l.Exclusive != 0 || l.Shared != 1 || l.OldestShared == nil ||
				l.OldestShared.PID != sh.Process.Pid || l.OldestShared.Host != host || l.OldestShared.Time.IsZero() {
				t.Fatalf("locks %+v (%v), want 1 shared of pid %d on %s", l, res.LocksErr, sh.Process.Pid, host)
			}
			f.restic("unlock", "--remove-all")
			ex := kill("key", "passwd")
			doc, res = f.check(doc, Options{})
			r = Parse("r", doc)
			if res.ListErr != nil || res.LocksErr != nil || len(r.Problems) > 0 {
				t.Fatalf("listing %v, locks %v, problems %v", res.ListErr, res.LocksErr, r.Problems)
			}
			if l := r.Locks; l == nil || l.Exclusive != 1 || l.Shared != 0 || l.OldestShared != nil || l.OldestExclusive == nil ||
				l.OldestExclusive.PID != ex.Process.Pid || l.OldestExclusive.Host != host {
				t.Fatalf("locks %+v, want 1 exclusive of pid %d on %s", l, ex.Process.Pid, host)
			}
			if _, total, _ := f.repo.LockIDs(context.Background(), MaxLocksRead); total != 1 {
				t.Errorf("after the check the repository holds %d locks, want the same 1: a check never removes one", total)
			}
		})
	}
}
