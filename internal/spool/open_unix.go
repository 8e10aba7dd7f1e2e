//go:build unix

package spool

import (
	"errors"
	"os"
	"syscall"
)

// openNoFollow opens name for reading, never through a symlink (the error
// is then errSymlink) and without blocking on a FIFO planted in the spool.
func openNoFollow(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	// Linux says ELOOP; FreeBSD says EMLINK for O_NOFOLLOW on a symlink.
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
		return nil, errSymlink
	}
	return f, err
}
