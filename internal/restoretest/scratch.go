package restoretest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/golemtrust/backupwatch/internal/fileowner"
)

// PrepareScratch returns an empty directory to restore into and how to
// clean it up: dir, or a new temporary directory when dir is empty. It
// never uses a directory that holds anything: restoring over existing
// files could hide a restore that restored nothing, or overwrite someone's
// data.
func PrepareScratch(dir string) (string, func() error, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "backupwatch-restore-test-")
		if err != nil {
			return "", nil, fmt.Errorf("create scratch directory: %w", err)
		}
		return d, func() error { return removeAll(d) }, nil
	}
	dir = filepath.Clean(dir)
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, fmt.Errorf("create scratch directory: %w", err)
		}
		return dir, func() error { return removeAll(dir) }, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("scratch directory: %w", err)
	}
	if !fi.IsDir() {
		return "", nil, &InputError{fmt.Errorf("--scratch %s is not a directory", dir)}
	}
	// Whoever else can write to it could swap what restic restores into
	// for a symlink while it runs, and have it write anywhere.
	if _, other := fileowner.Other(fi); other || fileowner.OpenToOthers(fi) {
		return "", nil, &InputError{fmt.Errorf("refusing to restore into %s: another user owns it or may write to it; give a new directory", dir)}
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return "", nil, fmt.Errorf("scratch directory: %w", err)
	}
	if len(des) > 0 {
		return "", nil, &InputError{fmt.Errorf("refusing to restore into %s: it is not empty (%d entries); give an empty or new directory", dir, len(des))}
	}
	return dir, func() error { return emptyDir(dir) }, nil
}

// removeAll removes dir, making read-only directories in it writable
// first if they stop it (a restore keeps the modes it restored).
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// emptyDir removes what is in dir, keeping dir.
func emptyDir(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, de := range des {
		if err := removeAll(filepath.Join(dir, de.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
