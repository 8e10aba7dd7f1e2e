//go:build unix

package backuprun

import (
	"os"
	"path/filepath"
	"strconv"
)

// lockDir is /run/lock/backupwatch (base/backupwatch) for root,
// $XDG_RUNTIME_DIR/backupwatch, else /tmp/backupwatch-<uid>.
func lockDir(base string) string {
	switch d := os.Getenv("XDG_RUNTIME_DIR"); {
	case os.Geteuid() == 0:
		if base == "" {
			base = "/run/lock"
		}
		return filepath.Join(base, "backupwatch")
	case d != "":
		return filepath.Join(d, "backupwatch")
	default:
		return filepath.Join(os.TempDir(), "backupwatch-"+strconv.Itoa(os.Getuid()))
	}
}
