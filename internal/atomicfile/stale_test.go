package atomicfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestRemoveStale: only this file's temporary files older than the age
// go; a fresh one (a Write in progress), another file's and the file
// itself stay.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "backup.prom")
	if err := Write(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	files := map[string]bool{ // name: removed
		".backup.prom.tmp-1": true, ".backup.prom.tmp-2": false, ".other.prom.tmp-1": false,
	}
	for name, stale := range files {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if stale || name == ".other.prom.tmp-1" {
			if err := os.Chtimes(f, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := RemoveStale(p, time.Minute)
	if want := []string{filepath.Join(dir, ".backup.prom.tmp-1")}; !slices.Equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	for name, removed := range files {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) == removed {
			t.Errorf("%s: removed %v, want %v", name, err != nil, removed)
		}
	}
	if _, err := os.Stat(p); err != nil {
		t.Errorf("the file itself: %v", err)
	}
}
