//go:build unix

package backuprun

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
)

// lockDir is /run/lock/backupwatch (base/backupwatch) for root, on macOS
// and the BSDs /var/run/backupwatch (they have no /run);
// $XDG_RUNTIME_DIR/backupwatch, else /tmp/backupwatch-<uid> for others.
func lockDir(base string) string {
	switch d := os.Getenv("XDG_RUNTIME_DIR"); {
	case os.Geteuid() == 0:
		if base == "" {
			base = "/run/lock"
			if runtime.GOOS != "linux" {
				base = "/var/run"
			}
		}
		return filepath.Join(base, "backupwatch")
	case d != "":
		return filepath.Join(d, "backupwatch")
	default:
		return filepath.Join(os.TempDir(), "backupwatch-"+strconv.Itoa(os.Getuid()))
	}
}
