package backuprun

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/golemtrust/backupwatch/internal/fileowner"
)

// LockPath is the default lock of a host (host@job): in /run/lock (base,
// when not empty) for root, the user's runtime directory otherwise, or a
// private directory in /tmp (lockdir_unix.go; on Windows,
// lockdir_windows.go). The directory is this user's own, checked (OwnDir):
// /run/lock and /tmp are every user's to write, and whoever made it first
// could hold the lock forever.
func LockPath(base, name string) (string, error) {
	dir := lockDir(base)
	if err := OwnDir(dir); err != nil {
		return "", err
	}
	return filepath.Join(dir, name+".lock"), nil
}

// OwnDir makes dir, in a directory every user can write to, this user's
// own, and refuses it when it is not: owned by another user, writable by
// group or others, or not a directory (a symlink included). Another user
// who made it first could hold the lock forever, or plant files in it.
func OwnDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("lock directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("lock directory: %w", err)
	}
	if _, other := fileowner.Other(fi); !fi.IsDir() || other || fileowner.OpenToOthers(fi) {
		return fmt.Errorf("lock directory %s is not this user's own private directory: remove it, or give --lock.file", dir)
	}
	return nil
}
