package restoretest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CheckExpectPath refuses an expected path that could point outside the
// restore.
func CheckExpectPath(p string) error {
	if strings.TrimSpace(p) == "" {
		return errors.New("--expect: empty path")
	}
	for _, part := range strings.Split(filepath.ToSlash(p), "/") {
		if part == ".." {
			return fmt.Errorf("--expect %q: must not contain ..", p)
		}
	}
	return nil
}

// Verify checks the expected paths (present, not empty) and that a file
// was restored, unless allowEmpty; it returns the number of regular files
// restored.
func Verify(scratch string, expect []string, allowEmpty bool) (int, error) {
	files := 0
	err := filepath.WalkDir(scratch, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files++
		}
		return nil
	})
	if err != nil {
		return files, fmt.Errorf("read the restore: %w", err)
	}
	// The expected paths are looked up inside the restore only: a symlink
	// restored in the snapshot (data -> /srv/data) must not make a path on
	// this machine count as restored.
	root, err := os.OpenRoot(scratch)
	if err != nil {
		return files, fmt.Errorf("read the restore: %w", err)
	}
	defer root.Close()
	var missing []string
	for _, p := range expect {
		rel := strings.TrimPrefix(filepath.Clean("/"+p), "/")
		if rel == "" {
			rel = "."
		}
		fi, err := root.Stat(rel)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, p+" is missing")
		case err != nil:
			missing = append(missing, fmt.Sprintf("%s: not in the restore (%v)", p, err))
		case fi.IsDir():
			if !dirHasEntries(root, rel) {
				missing = append(missing, p+" is an empty directory")
			}
		case fi.Mode().IsRegular() && fi.Size() == 0:
			missing = append(missing, p+" is an empty file")
		}
	}
	if len(missing) > 0 {
		return files, fmt.Errorf("expected paths: %s", strings.Join(missing, "; "))
	}
	if files == 0 && !allowEmpty {
		// Directories alone are what a file system that was not mounted
		// when the backup ran looks like.
		return 0, errors.New("nothing was restored: the snapshot holds no file (was its file system mounted?); --allow-empty if the job may be empty")
	}
	return files, nil
}

// dirHasEntries reports whether the directory name in root lists anything.
func dirHasEntries(root *os.Root, name string) bool {
	f, err := root.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	des, err := f.ReadDir(1)
	return err == nil && len(des) > 0
}
