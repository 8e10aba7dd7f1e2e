package backuprun

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/golemtrust/backupwatch/internal/lockfile"
)

// ErrLocked means another run holds the lock.
var ErrLocked = errors.New("another run is in progress")

// Lock is a held run lock: a lock (flock, LockFileEx on Windows) on a file, released when the process
// ends, however it ends.
type Lock struct {
	f *os.File
}

// TryLock takes the lock at path without waiting. When another process
// (or another TryLock in this one) holds it, the error wraps ErrLocked and
// names the holder's pid.
func TryLock(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Never through a symlink: the pid written below would truncate and
	// overwrite whatever file it points to.
	f, err := lockfile.Open(path, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockfile.TryLockFile(f); err != nil {
		defer f.Close()
		if errors.Is(err, lockfile.ErrHeld) {
			holder := ""
			b := make([]byte, 32)
			if n, _ := f.ReadAt(b, 0); n > 0 {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n]))); err == nil && pid > 0 {
					holder = fmt.Sprintf(" (pid %d)", pid)
				}
			}
			return nil, fmt.Errorf("%w: %s is held%s", ErrLocked, path, holder)
		}
		return nil, err
	}
	// The pid is for the message of a refused run; the lock is the flock.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock. The file stays: removing it would let a third
// run lock a new file while a second still waits on the old one.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
