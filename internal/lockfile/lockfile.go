// Package lockfile takes advisory locks (flock; LockFileEx on Windows) on
// lock files that are never symlinks, waiting for them as long as the
// caller allows.
package lockfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrHeld means another process (or another lock in this one) held the
// lock until the caller stopped waiting.
var ErrHeld = errors.New("held by another process")

// Lock takes an exclusive lock on the file at path, creating it with mode
// 0600, and waits while another holder has it until ctx is done. The lock
// is released by unlock, or when the process ends however it ends. The
// file stays: removing it would let a third process lock a new file while
// a second still waits on the old one.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	f, err := Open(path, 0o600)
	if err != nil {
		return nil, err
	}
	for delay := 2 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		err := TryLockFile(f)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, ErrHeld) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w (%w)", path, ErrHeld, ctx.Err())
		case <-time.After(delay):
		}
	}
}

// Open opens the lock file at path for reading and writing, creating it
// with perm, and refuses a symlink (whoever can plant one would have us
// create or lock a file of their choosing) and anything but a regular file.
func Open(path string, perm os.FileMode) (*os.File, error) {
	f, err := openNoFollow(path, perm)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("lock %s: not a regular file", path)
	}
	return f, nil
}

// TryLockFile takes an exclusive lock on f without waiting; when another
// holds it, the error wraps ErrHeld. Closing f releases the lock, and so
// does the end of the process.
func TryLockFile(f *os.File) error {
	held, err := lock(f, false)
	if held {
		return fmt.Errorf("lock %s: %w", f.Name(), ErrHeld)
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return nil
}

// LockFile takes an exclusive lock on f, waiting as long as another holds
// it. Closing f releases the lock.
func LockFile(f *os.File) error {
	if _, err := lock(f, true); err != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return nil
}
