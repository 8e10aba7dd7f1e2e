package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RemoveStale deletes what a Write of path killed part way left behind:
// its temporary files older than age (a live Write holds its own for
// milliseconds), and returns the ones it removed. Readers ignore them;
// this keeps the directory clean.
func RemoveStale(path string, age time.Duration) []string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, _ := os.ReadDir(dir)
	var removed []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "."+base+".tmp-") {
			continue
		}
		m := filepath.Join(dir, e.Name())
		if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > age {
			if err := os.Remove(m); err == nil {
				removed = append(removed, m)
			}
		}
	}
	return removed
}
