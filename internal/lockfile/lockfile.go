// Package lockfile takes advisory locks (flock) on lock files that are never
// symlinks, waiting for them as long as the caller allows.
package lockfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// ErrHeld means another process (or another lock in this one) held the
// lock until the caller stopped waiting.
var ErrHeld = errors.New("held by another process")

// Lock takes an exclusive flock on the file at path, creating it with mode
// 0600, and waits while another holder has it until ctx is done. The lock
// is released by unlock, or when the process ends however it ends. The
// file stays: removing it would let a third process lock a new file while
// a second still waits on the old one.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	// Never through a symlink: whoever can plant one would have us create
	// or lock a file of their choosing.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("lock %s: is a symlink, refusing to follow it", path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("lock %s: not a regular file", path)
	}
	for delay := 2 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w (%w)", path, ErrHeld, ctx.Err())
		case <-time.After(delay):
		}
	}
}
