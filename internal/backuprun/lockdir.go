package backuprun

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// LockPath is the default lock of a host (host@job): in /run/lock (base,
// when not empty) for root, the user's runtime directory otherwise, or a
// private directory in /tmp. The directory is this user's own, checked
// (OwnDir): /run/lock and /tmp are every user's to write, and whoever made
// it first could hold the lock forever.
func LockPath(base, name string) (string, error) {
	var dir string
	switch d := os.Getenv("XDG_RUNTIME_DIR"); {
	case os.Geteuid() == 0:
		if base == "" {
			base = "/run/lock"
		}
		dir = filepath.Join(base, "backupwatch")
	case d != "":
		dir = filepath.Join(d, "backupwatch")
	default:
		dir = filepath.Join(os.TempDir(), "backupwatch-"+strconv.Itoa(os.Getuid()))
	}
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
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("lock directory %s is not this user's own private directory: remove it, or give --lock.file", dir)
	}
	return nil
}
