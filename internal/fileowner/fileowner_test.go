package fileowner

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestOwnAndOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		open bool
	}{{0o700, false}, {0o750, false}, {0o770, true}, {0o702, true}} {
		p := filepath.Join(dir, fmt.Sprintf("%04o", tc.mode))
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := tc.open && runtime.GOOS != "windows"
		if got := OpenToOthers(fi); got != want {
			t.Errorf("OpenToOthers(%v) = %v, want %v", tc.mode, got, want)
		}
		if uid, other := Other(fi); other {
			t.Errorf("Other(own %v) = %d, true; want false", tc.mode, uid)
		}
	}
}
